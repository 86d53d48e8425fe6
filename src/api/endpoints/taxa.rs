//! `/api/v2/taxa/` (list) of Antenna 731cc2a2: `TaxonViewSet.list` (ami/main/api/views.py)
//! with `TaxonListSerializer` (ami/main/api/serializers.py) and
//! `LimitOffsetPaginationWithPermissions`. The parameters are read in taxa_list_params.rs,
//! the rows come from `taxa.list` / `taxa.list_no_project` of `queries/taxa.sql`. The detail
//! and `suggest` are in taxa_detail.rs.

use crate::api::endpoints::taxa_list_params::plan;
use crate::api::endpoints::{taxa_detail, taxa_tags, EndpointAnswer, Endpoints, Model, Order};
use crate::api::params::drf_int;
use crate::api::params::{quote_plus, Params};
use crate::api::request::ApiError;
use crate::engine::rows::{Row, RowExt};
use crate::render::timefmt::iso;
use serde_json::{json, Map, Value};

/// `TaxonViewSet.ordering_fields`.
const ORDERING_FIELDS: [&str; 8] = [
    "created_at",
    "updated_at",
    "occurrences_count",
    "verified_count",
    "last_detected",
    "best_determination_score",
    "name",
    "cover_image_url",
];

/// `LimitOffsetPagination.default_limit` as Antenna runs it (overwritten to 20 at import).
const DEFAULT_LIMIT: usize = 20;

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        [] => list(e).await,
        ["suggest"] => taxa_detail::suggest(e).await,
        [id] => taxa_detail::detail(e, id).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// How `occlens verify` compares a taxa list: the sort keys of the `ordering` terms
/// (NullsLastOrderingFilter adds no tiebreaker, so equal keys compare as a set); else
/// `Taxon.Meta.ordering` (`ordering`, all NULL, then `name`); with a project and a
/// `collection` key the GROUP BY drops Meta.ordering and there is no ORDER BY at all: no
/// keys, so the whole page is one set. (Not `Order::Unordered`: its whole-result check
/// re-asks without `limit`, which every item's `occurrences` URL repeats.)
pub fn order(p: &Params, tail: &[&str]) -> Option<Order> {
    if !tail.is_empty() {
        return None;
    }
    let terms = ordering_terms(p.last("ordering"));
    if terms.is_empty() {
        let project = p
            .given("project_id")
            .and_then(|v| drf_int(v).ok())
            .is_some_and(|id| id > 0);
        if project && p.last("collection").is_some() {
            return Some(Order::Keys(Vec::new()));
        }
        return Some(Order::Keys(vec!["/name".into()]));
    }
    Some(Order::Keys(
        terms.iter().map(|(field, _)| format!("/{field}")).collect(),
    ))
}

/// The ordering terms DRF's `OrderingFilter.get_ordering` keeps of `value` (the last
/// `ordering`).
pub(super) fn ordering_terms(value: Option<&str>) -> Vec<(&'static str, bool)> {
    crate::api::params::ordering_terms(value, &ORDERING_FIELDS)
}

/// `ORDER BY`: the NullsLastOrderingFilter terms, else Taxon.Meta.ordering
/// (`ordering`, `name`) on the subquery path and nothing on the aggregated path (GROUP BY
/// drops Meta.ordering); then occlens's tiebreak `t.id`. Names approximate the en_US
/// collation: case-insensitive first.
pub(super) fn order_sql(terms: &[(&str, bool)], project: bool, aggregated: bool) -> String {
    let mut parts = Vec::new();
    for (field, desc) in terms {
        let dir = if *desc { "DESC" } else { "ASC" };
        let exprs: &[&str] = match (*field, project) {
            ("name", _) => &["lower(t.name)", "t.name"],
            ("created_at", _) => &["t.created_at"],
            ("updated_at", _) => &["t.updated_at"],
            ("cover_image_url", _) => &["t.cover_image_url"],
            ("last_detected", true) => &["last.ts"],
            ("best_determination_score", true) => &["direct.best"],
            ("occurrences_count", _) => &["occurrences_count"],
            ("verified_count", _) => &["verified_count"],
            ("last_detected", false) => &["last_detected"],
            _ => &["best_determination_score"],
        };
        parts.extend(exprs.iter().map(|x| format!("{x} {dir} NULLS LAST")));
    }
    if terms.is_empty() && !(project && aggregated) {
        parts.push("t.ordering ASC NULLS LAST, lower(t.name) ASC, t.name ASC".into());
    }
    parts.push("t.id ASC".into());
    parts.join(", ")
}

/// `GET /api/v2/taxa/`.
async fn list(e: &Endpoints<'_>) -> EndpointAnswer {
    let plan = match plan(e).await? {
        Ok(plan) => plan,
        Err(err) => return Ok(Err(err)),
    };
    let paging = e.params.paging(DEFAULT_LIMIT, None);
    let (count, rows) = e.page(&plan.sql, paging.offset, paging.limit).await?;
    // LimitOffsetPagination reads the page only when there are rows and offset <= count.
    if plan.fails_on_page && paging.reads_page(count) {
        return Ok(Err(ApiError::detail(
            500,
            "Server Error: FieldError: Cannot resolve keyword into field.".into(),
        )));
    }
    let perms = e.permissions(Model::Taxon, false);
    let query = occurrence_params(e.params);
    let results: Vec<Value> = if count == 0 || paging.offset > count {
        Vec::new()
    } else {
        let ids: Vec<i64> = rows.iter().filter_map(|r| r.i64("id")).collect();
        let mut tags = taxa_tags::tags(e, plan.project, &ids).await?;
        rows.iter()
            .map(|r| {
                let tags = r.i64("id").and_then(|id| tags.remove(&id));
                Value::Object(item(e, r, &query, &perms, tags.unwrap_or_default()))
            })
            .collect()
    };
    let mut body = e.params.envelope(e.base(), paging, count, results);
    body.insert(
        "user_permissions".into(),
        e.permissions(Model::Collection, false),
    );
    Ok(Ok(Value::Object(body)))
}

/// One `TaxonListSerializer` item.
fn item(
    e: &Endpoints<'_>,
    r: &Row,
    query: &[(String, String)],
    perms: &Value,
    tags: Vec<Value>,
) -> Map<String, Value> {
    let field = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
    let id = r.i64("id").unwrap_or_default();
    let parents = crate::api::shape::parents(r.str("parents_json"));
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.insert("name".into(), field("name"));
    m.insert("rank".into(), field("rank"));
    m.insert("parent_id".into(), field("parent_id"));
    m.insert("parents".into(), Value::Array(parents));
    m.insert("details".into(), e.link("taxa", id));
    m.insert("occurrences_count".into(), field("occurrences_count"));
    m.insert("verified_count".into(), field("verified_count"));
    m.insert(
        "occurrences".into(),
        Value::from(occurrences_url(e.base(), query, id)),
    );
    m.insert("tags".into(), Value::Array(tags));
    // Naive wall-clock ISO times (USE_TZ=False), rendered for the page's rows only.
    let time = |k: &str| json!(r.i64(k).map(|t| iso(t, e.engine.config.time_zone)));
    m.insert("last_detected".into(), time("last_detected"));
    m.insert(
        "best_determination_score".into(),
        r.f64("best_determination_score")
            .map_or(Value::Null, |f| json!(f)),
    );
    m.insert("cover_image_url".into(), field("cover_image_url"));
    m.insert("created_at".into(), time("created_at"));
    m.insert("updated_at".into(), time("updated_at"));
    m.insert("user_permissions".into(), perms.clone());
    m
}

/// `dict(request.query_params.items())`: each key once, where it first appears, with its
/// last value.
fn occurrence_params(p: &Params) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in &p.pairs {
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// `TaxonListSerializer.get_occurrences`: the occurrence list URL with the request's
/// parameters and `determination=<id>` (replacing a `determination` in place), encoded by
/// Python's `urlencode` (`quote_plus`, not sorted).
fn occurrences_url(base: &str, query: &[(String, String)], id: i64) -> String {
    let mut pairs: Vec<(String, String)> = query.to_vec();
    match pairs.iter_mut().find(|(k, _)| k == "determination") {
        Some(slot) => slot.1 = id.to_string(),
        None => pairs.push(("determination".into(), id.to_string())),
    }
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
        .collect();
    format!("{base}/api/v2/occurrences/?{}", encoded.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_keeps_known_terms_in_order() {
        assert_eq!(
            ordering_terms(Some(
                " -best_determination_score , name,bogus,--name,parent"
            )),
            vec![("best_determination_score", true), ("name", false)]
        );
        assert!(ordering_terms(Some("")).is_empty());
    }

    #[test]
    fn occurrences_url_repeats_the_first_seen_keys_with_their_last_values() {
        let p = Params::parse(
            "/api/v2/taxa/?project_id=1&ordering=-best_determination_score%2Cname&project_id=2\
             &determination=9&search=a+b*~&verified=",
        );
        let url = occurrences_url("http://testserver", &occurrence_params(&p), 7);
        assert_eq!(
            url,
            "http://testserver/api/v2/occurrences/?project_id=2\
             &ordering=-best_determination_score%2Cname&determination=7&search=a+b%2A~&verified="
        );
    }

    #[test]
    fn collection_lists_without_ordering_have_no_order() {
        let order = |url: &str| order(&Params::parse(url), &[]);
        assert_eq!(
            order("/api/v2/taxa/?project_id=1&collection="),
            Some(Order::Keys(vec![]))
        );
        assert_eq!(
            order("/api/v2/taxa/?collection=1"),
            Some(Order::Keys(vec!["/name".into()]))
        );
        assert_eq!(
            order("/api/v2/taxa/?project_id=1&collection=1&ordering=-occurrences_count,bogus"),
            Some(Order::Keys(vec!["/occurrences_count".into()]))
        );
    }
}
