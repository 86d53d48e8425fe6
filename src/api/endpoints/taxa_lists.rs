//! `GET /api/v2/taxa/lists/` and `/api/v2/taxa/lists/<id>/` (Antenna 731cc2a2:
//! `TaxaListViewSet` of ami/main/api/views.py with `TaxaListSerializer`; the nested
//! `/taxa/lists/<id>/taxa/` routes of `TaxaListTaxonViewSet` answer only POST and DELETE).
//! `require_project = True` for both actions. SQL: queries/taxa_lists.sql.

use crate::api::endpoints::{EndpointAnswer, Endpoints, Model, Order};
use crate::api::params::path_id;
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// `TaxaListViewSet.ordering_fields`, with the SQL each sorts by.
const ORDERING: &[(&str, &str)] = &[
    ("name", "l.name"),
    ("description", "l.description"),
    ("annotated_taxa_count", "taxa_count"),
    ("created_at", "l.created_at"),
    ("updated_at", "l.updated_at"),
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        [] => list(e).await,
        [id] => detail(e, id).await,
        // TaxaListTaxonViewSet: create (POST) and delete_by_taxon (DELETE) only.
        [_, "taxa"] => Ok(Err(not_allowed())),
        [_, "taxa", t] if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Err(not_allowed()))
        }
        _ => Ok(Err(ApiError::not_found())),
    }
}

fn not_allowed() -> ApiError {
    ApiError::detail(405, "Method \"GET\" not allowed.".into())
}

/// How `occlens verify` compares a list: by the `ordering` terms' values; without one the
/// order is undefined (`Meta.ordering` is dropped by the GROUP BY of the count annotation).
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    if !tail.is_empty() {
        return None;
    }
    let terms = ordering_terms(p);
    if terms.is_empty() {
        return Some(Order::Unordered);
    }
    let keys = terms
        .iter()
        .map(|(f, _)| match *f {
            "annotated_taxa_count" => "/taxa_count".to_string(),
            other => format!("/{other}"),
        })
        .collect();
    Some(Order::Keys(keys))
}

/// The `ordering` terms among the ordering fields.
fn ordering_terms(p: &Params) -> Vec<(&'static str, bool)> {
    let names: Vec<&'static str> = ORDERING.iter().map(|(name, _)| *name).collect();
    p.ordering(&names)
}

/// `ORDER BY` of the terms (`NULLS LAST` both ways), then occlens's tiebreak `l.id`.
fn order_sql(terms: &[(&str, bool)]) -> String {
    let mut parts: Vec<String> = terms
        .iter()
        .filter_map(|(field, desc)| {
            let column = ORDERING.iter().find(|(name, _)| name == field)?.1;
            Some(format!(
                "{column} {} NULLS LAST",
                if *desc { "DESC" } else { "ASC" }
            ))
        })
        .collect();
    parts.push("l.id ASC".into());
    parts.join(", ")
}

/// The project (`require_project`: 400 when missing, 404 when unknown) and the lists of it
/// that the requester sees, in `order`, restricted by `extra`.
async fn rows(
    e: &Endpoints<'_>,
    extra: &str,
    order: &str,
) -> crate::error::Result<Result<Vec<Row>, ApiError>> {
    let project = match e.project(true).await? {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Err(ApiError::not_found())),
        Err(err) => return Ok(Err(err)),
    };
    let mult = match e.who {
        Requester::Superuser(_) => e.sql("taxa_lists.mult_superuser", &[]),
        Requester::Anonymous => e.sql("taxa_lists.mult_anonymous", &[]),
        Requester::User(u) => e.sql("taxa_lists.mult_user", &[("user", Arg::Int(*u))]),
    };
    let sql = e.sql(
        "taxa_lists.rows",
        &[
            ("mult", Arg::Sql(&mult)),
            ("project", Arg::Int(project)),
            ("extra", Arg::Sql(extra)),
            ("order", Arg::Sql(order)),
        ],
    );
    Ok(Ok(e.rows(&sql).await?))
}

/// `projects` of each list: every project's id, in `Project.Meta.ordering`.
async fn projects_of(
    e: &Endpoints<'_>,
    ids: &[i64],
) -> crate::error::Result<HashMap<i64, Vec<Value>>> {
    let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let sql = e.sql("taxa_lists.projects", &[("ids", Arg::Ints(ids))]);
    for r in e.rows(&sql).await? {
        if let (Some(list), Some(p)) = (r.i64("taxalist_id"), r.i64("id")) {
            out.entry(list).or_default().push(json!(p));
        }
    }
    Ok(out)
}

/// `TaxaListSerializer` (DefaultSerializer adds `user_permissions` last: the list is in the
/// active project by construction, so `add_m2m_object_permissions` grants by role).
fn item(e: &Endpoints<'_>, r: &Row, projects: &HashMap<i64, Vec<Value>>) -> Value {
    let id = r.i64("id").unwrap_or_default();
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), r.get("name").cloned().unwrap_or(Value::Null));
    m.insert(
        "description".into(),
        r.get("description").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "taxa".into(),
        json!(format!("{}/api/v2/taxa/?taxa_list_id={id}", e.base())),
    );
    m.insert("taxa_count".into(), json!(r.i64("taxa_count").unwrap_or(0)));
    m.insert(
        "projects".into(),
        Value::Array(projects.get(&id).cloned().unwrap_or_default()),
    );
    m.insert(
        "created_at".into(),
        r.get("created_at_text").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "updated_at".into(),
        r.get("updated_at_text").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "user_permissions".into(),
        e.permissions(Model::TaxaList, false),
    );
    Value::Object(m)
}

/// `GET /api/v2/taxa/lists/`: every list of the project (LimitOffsetPagination, default
/// limit 20), envelope `user_permissions` from `add_collection_level_permissions`.
async fn list(e: &Endpoints<'_>) -> EndpointAnswer {
    let order = order_sql(&ordering_terms(e.params));
    let all = match rows(e, "TRUE", &order).await? {
        Ok(r) => r,
        Err(err) => return Ok(Err(err)),
    };
    let paging = e.params.paging(20, None);
    let page: Vec<&Row> = all.iter().skip(paging.offset).take(paging.limit).collect();
    let ids: Vec<i64> = page.iter().filter_map(|r| r.i64("id")).collect();
    let projects = projects_of(e, &ids).await?;
    let results = page.iter().map(|r| item(e, r, &projects)).collect();
    let mut body = e.params.envelope(e.base(), paging, all.len(), results);
    body.insert(
        "user_permissions".into(),
        e.permissions(Model::Collection, false),
    );
    Ok(Ok(Value::Object(body)))
}

/// `GET /api/v2/taxa/lists/<id>/`: the same queryset; 404 unless the list is in it.
async fn detail(e: &Endpoints<'_>, segment: &str) -> EndpointAnswer {
    // The project is resolved (400/404) before the lookup of the id.
    let id = path_id(segment);
    let extra = e.sql("taxa_lists.id", &[("id", Arg::Int(id.unwrap_or(-1)))]);
    let found = match rows(e, &extra, "l.id").await? {
        Ok(r) => r,
        Err(err) => return Ok(Err(err)),
    };
    let Some(r) = found.first().filter(|_| id.is_some()) else {
        return Ok(Err(ApiError::not_found()));
    };
    let projects = projects_of(e, &[id.unwrap_or_default()]).await?;
    Ok(Ok(item(e, r, &projects)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ordering_terms_are_dropped_and_no_term_is_unordered() {
        let p = Params::parse(
            "/api/v2/taxa/lists/?project_id=1&ordering=bogus,-annotated_taxa_count, name",
        );
        assert_eq!(
            ordering_terms(&p),
            vec![("annotated_taxa_count", true), ("name", false)]
        );
        assert_eq!(
            order_sql(&ordering_terms(&p)),
            "taxa_count DESC NULLS LAST, l.name ASC NULLS LAST, l.id ASC"
        );
        assert_eq!(
            order(&p, &[]),
            Some(Order::Keys(vec!["/taxa_count".into(), "/name".into()]))
        );
        let p = Params::parse("/api/v2/taxa/lists/?project_id=1&ordering=--name,id");
        assert_eq!(order(&p, &[]), Some(Order::Unordered));
    }
}
