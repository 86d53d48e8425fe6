//! `GET /api/v2/taxa/<id>/` (Antenna 731cc2a2: `TaxonViewSet.retrieve` with `TaxonSerializer`;
//! `get_queryset` → `get_taxa_observed` with `include_unobserved=True`,
//! `apply_default_taxa_filter=False`; `TaxonQuerySet.with_observation_counts_subqueries` /
//! `_aggregated` and `with_verification_counts` of ami/main/models.py) and the `suggest` action
//! (taxa_detail_suggest.rs). The parameters: taxa_detail_filters.rs; the example occurrence
//! and the charts: taxa_detail_example.rs. SQL: queries/taxa_detail.sql.

use super::taxa_detail_example::{occurrences, summary_data};
use super::taxa_detail_filters::{filters, occurrence_scope, Scope};
use crate::api::endpoints::{EndpointAnswer, Endpoints, Model};
use crate::api::params::path_id;
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

/// `GET /api/v2/taxa/<id>/`.
pub async fn detail(e: &Endpoints<'_>, id: &str) -> EndpointAnswer {
    // get_queryset: the project (400s), then with one the occurrence filters (404/500).
    let project = match e.project(false).await? {
        Ok(p) => p,
        Err(err) => return Ok(Err(err)),
    };
    let scope = match project {
        Some(_) => match occurrence_scope(e).await? {
            Ok(s) => Some(s),
            Err(err) => return Ok(Err(err)),
        },
        None => None,
    };
    // filter_queryset: the filter backends, in order.
    let f = match filters(e, project).await? {
        Ok(f) => f,
        Err(err) => return Ok(Err(err)),
    };
    // get_object_or_404: a pk that is not an integer is a 404 too.
    let Some(taxon) = path_id(id) else {
        return Ok(Err(ApiError::not_found()));
    };
    let mut conditions = vec!["TRUE".to_string()];
    if !matches!(e.who, Requester::Superuser(_)) {
        let projects = e.visible_projects();
        conditions.push(e.sql("taxa_detail.visible", &[("projects", Arg::Sql(&projects))]));
    }
    conditions.extend(f.conditions);
    let where_sql = conditions.join(" AND ");
    let sql = e.sql(
        "taxa_detail.taxon",
        &[
            ("taxon", Arg::Int(taxon)),
            ("conditions", Arg::Sql(&where_sql)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let Some(t) = rows.first() else {
        return Ok(Err(ApiError::not_found()));
    };
    let counts = match (project, &scope) {
        (Some(p), Some(s)) => Some(counts(e, p, s, taxon).await?),
        _ => None,
    };
    if let Some(min) = f.best_min {
        // TaxonBestScoreFilter on the annotation (NULL fails).
        let best = counts
            .as_ref()
            .and_then(|c| c.f64("best_determination_score"));
        if !best.is_some_and(|b| b >= min) {
            return Ok(Err(ApiError::not_found()));
        }
    }
    let perms = e.permissions(Model::Taxon, false);
    let parent = parent_object(e, t);
    let mut m = Map::new();
    m.insert("id".into(), json!(taxon));
    let name = t.get("name").cloned().unwrap_or(Value::Null);
    let rank = t.get("rank").cloned().unwrap_or(Value::Null);
    m.insert("name".into(), name.clone());
    m.insert("rank".into(), rank.clone());
    m.insert("parent".into(), parent.clone());
    m.insert("parents".into(), parents(t.str("parents_json"))?);
    m.insert("details".into(), e.link("taxa", taxon));
    let count = |k: &str| {
        counts
            .as_ref()
            .and_then(|c| c.get(k).cloned())
            .unwrap_or(Value::Null)
    };
    m.insert("occurrences_count".into(), count("occurrences_count"));
    m.insert("verified_count".into(), count("verified_count"));
    // Without a project a Value(None) annotation; with one the Taxon.events_count() stub (0).
    m.insert(
        "events_count".into(),
        if project.is_some() {
            json!(0)
        } else {
            Value::Null
        },
    );
    let example = match (project, &scope) {
        (Some(p), Some(s)) => {
            // CaptureTaxonSerializer: no `parents`, and no permissions of its own.
            let determination = json!({
                "id": taxon, "name": name, "parent": parent, "rank": rank,
                "details": e.link("taxa", taxon), "user_permissions": [],
            });
            occurrences(e, p, s, taxon, &determination).await?
        }
        _ => json!([]),
    };
    m.insert("occurrences".into(), example);
    m.insert(
        "gbif_taxon_key".into(),
        t.get("gbif_taxon_key").cloned().unwrap_or(Value::Null),
    );
    // TagSerializer of the project's and the global tags (none without a project).
    let tags = super::taxa_tags::tags(e, project, &[taxon])
        .await?
        .remove(&taxon);
    m.insert("tags".into(), Value::Array(tags.unwrap_or_default()));
    m.insert("last_detected".into(), count("last_detected"));
    m.insert(
        "best_determination_score".into(),
        count("best_determination_score"),
    );
    for k in [
        "fieldguide_id",
        "inat_taxon_id",
        "cover_image_url",
        "cover_image_credit",
    ] {
        m.insert(k.into(), t.get(k).cloned().unwrap_or(Value::Null));
    }
    let summary = match project {
        Some(p) => summary_data(e, p, taxon).await?,
        None => json!([]),
    };
    m.insert("summary_data".into(), summary);
    m.insert(
        "common_name_en".into(),
        t.get("common_name_en").cloned().unwrap_or(Value::Null),
    );
    m.insert("user_permissions".into(), perms);
    Ok(Ok(Value::Object(m)))
}

/// `GET /api/v2/taxa/suggest/`.
pub async fn suggest(e: &Endpoints<'_>) -> EndpointAnswer {
    super::taxa_detail_suggest::suggest(e).await
}

/// The counts of `taxon` over the occurrence scope: occurrences_count, verified_count,
/// best_determination_score, last_detected.
async fn counts(e: &Endpoints<'_>, project: i64, scope: &Scope, taxon: i64) -> Result<Row> {
    // build_occurrence_default_filters_q: the score threshold unless apply_defaults is false
    // (classification_threshold is not read on this path).
    let score = if e.params.apply_defaults() {
        format!(
            "o.determination_score >= (SELECT default_filters_score_threshold FROM main_project WHERE id = {project})"
        )
    } else {
        "TRUE".to_string()
    };
    let args = [
        ("project", Arg::Int(project)),
        ("taxon", Arg::Int(taxon)),
        ("occ_filters", Arg::Sql(&scope.occ_filters)),
        ("score", Arg::Sql(&score)),
        ("collection", Arg::Int(scope.collection.unwrap_or(0))),
    ];
    let sql = match scope.collection {
        Some(_) => e.sql("taxa_detail.counts_collection", &args),
        None => e.sql("taxa_detail.counts", &args[..4]),
    };
    e.rows(&sql)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Query("taxa_detail.counts returned no row".into()))
}

/// `parent`: `TaxonNoParentNestedSerializer` of the row's `parent_*` columns, or null; its
/// `user_permissions` are the parent taxon's own.
pub(super) fn parent_object(e: &Endpoints<'_>, r: &Row) -> Value {
    let Some(id) = r.i64("parent_id") else {
        return Value::Null;
    };
    let get = |k: &str| {
        r.get(&format!("parent_{k}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    json!({
        "id": id, "name": get("name"), "rank": get("rank"), "details": e.link("taxa", id),
        "gbif_taxon_key": get("gbif_taxon_key"), "fieldguide_id": get("fieldguide_id"),
        "inat_taxon_id": get("inat_taxon_id"), "cover_image_url": get("cover_image_url"),
        "cover_image_credit": get("cover_image_credit"),
        "user_permissions": e.permissions(Model::Taxon, false),
    })
}

/// `parents`: `TaxonParentSerializer` of each `parents_json` entry, in stored order.
fn parents(text: Option<&str>) -> Result<Value> {
    let Some(text) = text else {
        return Ok(json!([]));
    };
    let entries: Vec<Value> = serde_json::from_str(text).map_err(|err| {
        Error::Query(format!(
            "main_taxon.parents_json is not a JSON array: {err}"
        ))
    })?;
    let items = entries
        .iter()
        .map(|p| {
            let get = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
            json!({"id": get("id"), "name": get("name"), "rank": get("rank")})
        })
        .collect();
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_keep_stored_order_and_only_id_name_rank() {
        let text = r#"[{"id": 3, "name": "Noctuidae", "rank": "FAMILY", "extra": 1}, {"id": 1, "name": "Lepidoptera", "rank": "ORDER"}]"#;
        let v = parents(Some(text)).ok();
        assert_eq!(
            v,
            Some(json!([{"id": 3, "name": "Noctuidae", "rank": "FAMILY"},
                        {"id": 1, "name": "Lepidoptera", "rank": "ORDER"}]))
        );
        assert!(parents(Some("{")).is_err());
        assert_eq!(parents(None).ok(), Some(json!([])));
    }
}
