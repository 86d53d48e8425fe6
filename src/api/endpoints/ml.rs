//! `GET /api/v2/ml/algorithms/[<id>/]` and `/api/v2/ml/labels/[<id>/]` (Antenna 731cc2a2:
//! `AlgorithmViewSet` and `AlgorithmCategoryMapViewSet` of ami/ml/views.py, with
//! `AlgorithmSerializer` and `AlgorithmCategoryMapSerializer` of ami/ml/serializers.py).
//! Other `ml/` routes (pipelines, processing services) are not answered. SQL: queries/ml.sql.

use super::taxa_detail_filters::py_space;
use crate::api::endpoints::{
    key_pointer, list_or_detail, list_order, sort_sql, EndpointAnswer, Endpoints, Model, Order,
    SortFields,
};
use crate::api::params::Params;
use crate::api::request::ApiError;
use crate::api::shape::Shaper;
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// `AlgorithmViewSet.ordering_fields`, with the sort keys of each (names in the collation's
/// approximation: lower-cased, then as they are).
const ALGORITHM_ORDERING: SortFields = &[
    ("id", &["a.id"]),
    ("created_at", &["a.created_at"]),
    ("updated_at", &["a.updated_at"]),
    ("name", &["lower(a.name)", "a.name"]),
    ("task_type", &["a.task_type"]),
    ("category_count", &["category_count"]),
    ("description", &["lower(a.description)", "a.description"]),
    ("version", &["a.version"]),
];

/// `AlgorithmCategoryMapViewSet.ordering_fields` (`algorithms`: the map's first algorithm).
const LABELS_ORDERING: SortFields = &[
    ("algorithms", &["first_algorithm"]),
    ("created_at", &["m.created_at"]),
    ("updated_at", &["m.updated_at"]),
    ("version", &["lower(m.version)", "m.version"]),
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match (
        tail.first(),
        list_or_detail(tail.get(1..).unwrap_or_default()),
    ) {
        (Some(&"algorithms"), Some(id)) => algorithms(e, id).await,
        (Some(&"labels"), Some(id)) => labels(e, id).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: by its `ordering` terms; algorithms by default in
/// `Algorithm.Meta.ordering` (name, version); category maps have none (unordered).
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    let (fields, default): (SortFields, &[&str]) = match tail {
        ["algorithms"] => (ALGORITHM_ORDERING, &["/name", "/version"]),
        ["labels"] => (LABELS_ORDERING, &[]),
        _ => return None,
    };
    let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
    Some(list_order(p, &names, default, key_pointer))
}

/// The algorithms list (scoped to the project's enabled pipelines when a project is given)
/// or one algorithm (unscoped, as Antenna keeps historical links resolving).
async fn algorithms(e: &Endpoints<'_>, id: Option<i64>) -> EndpointAnswer {
    let mut conditions = Vec::new();
    let scope = match id {
        Some(id) => format!("a.id = {id}"),
        None => match e.project(false).await? {
            Ok(Some(project)) => e.sql("ml.algorithms.project", &[("project", Arg::Int(project))]),
            Ok(None) => "TRUE".into(),
            Err(err) => return Ok(Err(err)),
        },
    };
    // The filterset and search, for the detail too (get_object filters the queryset first).
    if let Err(err) = algorithm_filters(e, &mut conditions) {
        return Ok(Err(err));
    }
    let filter = if conditions.is_empty() {
        "TRUE".to_string()
    } else {
        conditions.join(" AND ")
    };
    let order = sort_sql(
        e.params,
        ALGORITHM_ORDERING,
        "lower(a.name) ASC, a.name ASC, a.version ASC",
        "a.id ASC",
    );
    let sql = e.sql(
        "ml.algorithms",
        &[
            ("scope", Arg::Sql(&scope)),
            ("filter", Arg::Sql(&filter)),
            ("order", Arg::Sql(&order)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let shaper = Shaper::api(e.engine.dims().await?, &e.engine.config, e.who);
    let item = |r: &Row| r.i64("id").map(|id| shaper.algorithm_choice(id));
    Ok(e.paged(id, &rows, item, None))
}

/// The filterset (`name` exact, `version` a number) and SearchFilter (`search` on name).
fn algorithm_filters(e: &Endpoints<'_>, conditions: &mut Vec<String>) -> Result<(), ApiError> {
    let p = e.params;
    if let Some(name) = p.last("name").filter(|v| !v.is_empty()) {
        conditions.push(e.sql("ml.algorithms.name", &[("value", Arg::Str(name))]));
    }
    if let Some(version) = p.last("version").map(str::trim).filter(|v| !v.is_empty()) {
        // NumberFilter: a finite decimal (Python's Decimal: `1.5`, `1e0`, `1_0`), else
        // "Enter a number."; the integer column compares with `int()` of it (1.5 is 1).
        let digits = version.replace('_', "");
        match digits.parse::<f64>() {
            Ok(v) if v.is_finite() && !version.starts_with('_') && !version.ends_with('_') => {
                let value = format!("{}", v.trunc() as i64);
                conditions.push(e.sql("ml.algorithms.version", &[("value", Arg::Sql(&value))]))
            }
            _ => return Err(ApiError::field("version", "Enter a number.")),
        }
    }
    if let Some(search) = p.last("search") {
        let search = search.replace('\0', "").replace(',', " ");
        for term in search.split(py_space).filter(|t| !t.is_empty()) {
            conditions.push(e.sql("ml.algorithms.search_term", &[("term", Arg::Str(term))]));
        }
    }
    Ok(())
}

/// The category maps list (filterset `algorithms`) or one map.
async fn labels(e: &Endpoints<'_>, id: Option<i64>) -> EndpointAnswer {
    // An empty value is checked like the others (`?algorithms=` is `[""]`: a 400).
    let values: Vec<&str> = e.params.all("algorithms");
    let mut filter = vec![id.map_or("TRUE".into(), |id| format!("m.id = {id}"))];
    // ModelMultipleChoiceFilter (OR over the values), for the detail too: a value that names
    // no algorithm is a 400.
    if !values.is_empty() {
        match e.choices("ml_algorithm", &values).await? {
            Ok(ids) => filter.push(e.sql("ml.labels.algorithm", &[("ids", Arg::Ints(&ids))])),
            Err(message) => return Ok(Err(ApiError::field("algorithms", &message))),
        }
    }
    let filter = filter.join(" AND ");
    let order = sort_sql(e.params, LABELS_ORDERING, "m.id ASC", "m.id ASC");
    let sql = e.sql(
        "ml.labels",
        &[("filter", Arg::Sql(&filter)), ("order", Arg::Sql(&order))],
    );
    let rows = e.rows(&sql).await?;
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r.i64("id"))
        .map(|i| i.to_string())
        .collect();
    let mut users: HashMap<i64, Vec<Value>> = HashMap::new();
    if !ids.is_empty() {
        let sql = e.sql(
            "ml.labels.algorithms",
            &[("ids", Arg::Sql(&ids.join(", ")))],
        );
        for r in e.rows(&sql).await? {
            if let (Some(map), Some(a)) = (r.i64("map_id"), r.i64("id")) {
                users
                    .entry(map)
                    .or_default()
                    .push(e.link("ml/algorithms", a));
            }
        }
    }
    let item = |r: &Row| -> Value {
        let id = r.i64("id").unwrap_or_default();
        let data = r
            .str("data")
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null);
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert(
            "labels".into(),
            r.get("labels").cloned().unwrap_or(Value::Null),
        );
        m.insert("data".into(), data);
        m.insert(
            "algorithms".into(),
            Value::Array(users.get(&id).cloned().unwrap_or_default()),
        );
        for k in ["version", "uri", "created_at", "updated_at"] {
            m.insert(k.into(), r.get(k).cloned().unwrap_or(Value::Null));
        }
        m.insert(
            "user_permissions".into(),
            e.permissions(Model::CategoryMap, false),
        );
        Value::Object(m)
    };
    Ok(e.paged(id, &rows, |r| Some(item(r)), None))
}
