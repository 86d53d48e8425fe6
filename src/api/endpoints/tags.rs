//! `GET /api/v2/tags/` and `/api/v2/tags/<id>/` (Antenna 731cc2a2: TagViewSet of
//! ami/main/api/views.py with TagSerializer): with a project, its tags and the global ones;
//! the filterset's `taxa`; the default ordering fields. SQL: queries/tags.sql.

use super::taxa_tags::serialize;
use crate::api::endpoints::{
    key_pointer, list_or_detail, list_order, EndpointAnswer, Endpoints, Order,
};
use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::RowExt;

/// DefaultViewSetMixin's ordering fields.
const ORDERING: &[&str] = &["created_at", "updated_at"];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match list_or_detail(tail) {
        Some(id) => answer(e, id).await,
        None => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a list: by its `ordering` terms; Tag has no Meta ordering
/// (unordered).
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    tail.is_empty()
        .then(|| list_order(p, ORDERING, &[], key_pointer))
}

async fn answer(e: &Endpoints<'_>, id: Option<i64>) -> EndpointAnswer {
    let mut scope = match e.project(false).await? {
        Ok(Some(project)) => e.sql("tags.project", &[("project", Arg::Int(project))]),
        Ok(None) => "TRUE".into(),
        Err(err) => return Ok(Err(err)),
    };
    // visible_for_user: a tag of a project the requester sees (a global tag, without a
    // project, is not one: `project__draft=False` fails on NULL).
    if !matches!(e.who, Requester::Superuser(_)) {
        let visible = e.visible_projects();
        scope = format!("({scope}) AND g.project_id IN ({visible})");
    }
    let mut conditions = vec!["TRUE".to_string()];
    if let Some(id) = id {
        conditions.push(format!("g.id = {id}"));
    }
    // The filterset, for the detail too (get_object filters the queryset first).
    let values: Vec<&str> = e.params.all("taxa");
    if !values.is_empty() {
        // ModelMultipleChoiceFilter: a value that names no taxon is a 400, an empty one too
        // (`filter(pk="")` fails).
        let taxa = match e.choices("main_taxon", &values).await? {
            Ok(taxa) => taxa,
            Err(message) => return Ok(Err(ApiError::field("taxa", &message))),
        };
        conditions.push(e.sql("tags.taxa", &[("ids", Arg::Ints(&taxa))]));
    }
    let mut order: Vec<String> = e
        .params
        .ordering(ORDERING)
        .iter()
        .map(|(f, desc)| format!("g.{f} {} NULLS LAST", if *desc { "DESC" } else { "ASC" }))
        .collect();
    order.push("g.id ASC".into());
    let (filter, order) = (conditions.join(" AND "), order.join(", "));
    let sql = e.sql(
        "tags.rows",
        &[
            ("scope", Arg::Sql(&scope)),
            ("filter", Arg::Sql(&filter)),
            ("order", Arg::Sql(&order)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let serialized = serialize(e, &rows).await?;
    let item = |r: &crate::engine::rows::Row| r.i64("id").and_then(|t| serialized.get(&t).cloned());
    Ok(e.paged(id, &rows, item, None))
}
