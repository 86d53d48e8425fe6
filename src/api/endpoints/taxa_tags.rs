//! A taxon's `tags` in the taxa list and detail (Antenna 731cc2a2: TaxonViewSet.
//! attach_tags_by_project, TagSerializer): with a project P, the taxon's tags of P and the
//! global ones (no project); without a project the prefetch is not made and `tags` is `[]`.
//! The tables are optional in the snapshot contract: absent, no taxon has a tag.

use super::events::{members, nested_project};
use super::{Endpoints, Model};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// The serialized tags of each of `taxa` (taxa without tags are absent from the map).
pub(super) async fn tags(
    e: &Endpoints<'_>,
    project: Option<i64>,
    taxa: &[i64],
) -> Result<HashMap<i64, Vec<Value>>> {
    let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
    let Some(project) = project.filter(|_| !taxa.is_empty()) else {
        return Ok(out);
    };
    let rows = e
        .rows(&e.sql(
            "taxa.tags",
            &[("taxa", Arg::Ints(taxa)), ("project", Arg::Int(project))],
        ))
        .await?;
    if rows.is_empty() {
        return Ok(out);
    }
    let serialized = serialize(e, &rows).await?;
    for r in &rows {
        let (Some(taxon), Some(tag)) = (r.i64("taxon_id"), r.i64("id")) else {
            continue;
        };
        if let Some(value) = serialized.get(&tag) {
            out.entry(taxon).or_default().push(value.clone());
        }
    }
    Ok(out)
}

/// TagSerializer of each tag of `rows` (`id`, `name`, the nested project's `project_row`,
/// `project_name`, `project_image`): `{id, name, project, taxa, user_permissions}`, `taxa`
/// being every taxon holding the tag, `{id, name}`.
pub(super) async fn serialize(e: &Endpoints<'_>, rows: &[Row]) -> Result<HashMap<i64, Value>> {
    let mut tag_ids: Vec<i64> = rows.iter().filter_map(|r| r.i64("id")).collect();
    tag_ids.sort_unstable();
    tag_ids.dedup();
    let mut out = HashMap::new();
    if tag_ids.is_empty() {
        return Ok(out);
    }
    let mut holders: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for r in e
        .rows(&e.sql("taxa.tag_taxa", &[("tags", Arg::Ints(&tag_ids))]))
        .await?
    {
        if let Some(tag) = r.i64("tag_id") {
            holders.entry(tag).or_default().push(
                json!({"id": r.i64("id"), "name": r.get("name").cloned().unwrap_or(Value::Null)}),
            );
        }
    }
    let members = members(e, rows.iter().map(|r| r.i64("project_row"))).await?;
    for r in rows {
        let Some(tag) = r.i64("id") else { continue };
        out.entry(tag).or_insert_with(|| {
            json!({
                "id": tag,
                "name": r.get("name").cloned().unwrap_or(Value::Null),
                "project": nested_project(e, r, &members),
                "taxa": holders.get(&tag).cloned().unwrap_or_default(),
                "user_permissions": e.permissions(Model::Tag, false),
            })
        });
    }
    Ok(out)
}
