//! From a parsed request to the WHERE conditions and ORDER BY of `queries/request.sql`.

use crate::api::request::{ApiError, Request, Requester};
use crate::engine::catalog::{Arg, Fragments};
use crate::engine::rows::{to_rows, RowExt};
use crate::error::Result;
use datafusion::prelude::SessionContext;
use std::collections::HashSet;

/// What the snapshot knows of the ids a request names.
#[derive(Default)]
pub struct Existing(HashSet<(String, i64)>);

impl Existing {
    pub fn has(&self, kind: &str, id: i64) -> bool {
        self.0.contains(&(kind.to_string(), id))
    }
}

/// Look up, in one query, which of the request's referenced ids exist.
pub async fn existing(ctx: &SessionContext, f: &Fragments, r: &Request) -> Result<Existing> {
    let checks: Vec<(&str, Option<i64>)> = vec![
        ("project", r.project_id),
        ("event", r.event),
        ("deployment", r.deployment),
        ("detections__source_image", r.source_image),
        ("taxon", r.taxon),
        ("taxa_list", r.taxa_list),
        ("taxa_list", r.not_taxa_list),
    ];
    let parts: Vec<String> = checks
        .iter()
        .filter_map(|(kind, id)| {
            id.map(|v| {
                format!(
                    "SELECT '{kind}' AS kind, id FROM ({})",
                    f.bind(&format!("exists.{kind}"), &[("value", Arg::Int(v))])
                )
            })
        })
        .collect();
    if parts.is_empty() {
        return Ok(Existing::default());
    }
    let sql = parts.join(" UNION ALL ");
    crate::engine::statements::record(&sql);
    let batches = ctx.sql(&sql).await?.collect().await?;
    Ok(Existing(
        to_rows(&batches)?
            .iter()
            .filter_map(|row| Some((row.str("kind")?.to_string(), row.i64("id")?)))
            .collect(),
    ))
}

/// The conditions over `occurrence_list o` that select what the request may see, or the
/// error Antenna answers with. `project` is the resolved project (None for a detail request
/// without a usable project_id).
pub fn conditions(
    f: &Fragments,
    r: &Request,
    who: &Requester,
    project: Option<i64>,
    exists: &Existing,
) -> Result<Vec<String>, ApiError> {
    let mut c: Vec<String> = visibility(f, who).into_iter().collect();
    if let Some(p) = project {
        c.push(f.bind("project", &[("project", Arg::Int(p))]));
        if r.apply_defaults {
            c.push(f.bind("defaults", &[("project", Arg::Int(p))]));
        }
    }
    let mut choice =
        |name: &str, field: &str, v: Option<i64>, kind: &str| -> Result<(), ApiError> {
            if let Some(v) = v {
                if !exists.has(kind, v) {
                    return Err(ApiError::field(
                        field,
                        "Select a valid choice. That choice is not one of the available choices.",
                    ));
                }
                c.push(f.bind(name, &[("value", Arg::Int(v))]));
            }
            Ok(())
        };
    choice("event", "event", r.event, "event")?;
    choice("deployment", "deployment", r.deployment, "deployment")?;
    choice(
        "detections__source_image",
        "detections__source_image",
        r.source_image,
        "detections__source_image",
    )?;
    if let Some(rank) = &r.rank {
        c.push(f.bind("determination__rank", &[("value", Arg::Str(rank))]));
    }
    if let Some(t) = r.taxon {
        if !exists.has("taxon", t) {
            return Err(ApiError::detail(404, format!("No taxon found with id {t}")));
        }
        c.push(f.bind("taxon", &[("value", Arg::Int(t))]));
    }
    if let Some(col) = r.collection {
        c.push(f.bind("collection", &[("value", Arg::Int(col))]));
    }
    if !r.algorithms.is_empty() {
        c.push(f.bind("algorithm", &[("values", Arg::Ints(&r.algorithms))]));
    }
    if !r.not_algorithms.is_empty() {
        c.push(f.bind("not_algorithm", &[("values", Arg::Ints(&r.not_algorithms))]));
    }
    if let Some(d) = r.date_start {
        c.push(f.bind("date_start", &[("value", Arg::Date(d))]));
    }
    if let Some(d) = r.date_end {
        c.push(f.bind("date_end", &[("value", Arg::Date(d))]));
    }
    if let Some(v) = r.verified {
        c.push(f.bind(&format!("verified.{v}"), &[]));
    }
    if let (Some(v), false) = (r.verified_by_me, *who == Requester::Anonymous) {
        // `--as superuser` without an id stands for a user with no identifications.
        let user = who.user_id().unwrap_or(0);
        c.push(f.bind(&format!("verified_by_me.{v}"), &[("user", Arg::Int(user))]));
    }
    for (id, name) in [
        (r.taxa_list, "taxa_list"),
        (r.not_taxa_list, "not_taxa_list"),
    ] {
        if let Some(id) = id.filter(|&id| exists.has("taxa_list", id)) {
            c.push(f.bind(name, &[("value", Arg::Int(id))]));
        }
    }
    Ok(c)
}

/// The visibility condition of a requester over `o.project_id` (none for a superuser).
pub fn visibility(f: &Fragments, who: &Requester) -> Option<String> {
    match who {
        Requester::Superuser(_) => None,
        Requester::Anonymous => Some(f.bind("visible.anonymous", &[])),
        Requester::User(u) => Some(f.bind("visible.user", &[("user", Arg::Int(*u))])),
    }
}

/// ORDER BY: the requested terms, each NULLS LAST in both directions (spec §5.5), then `id`
/// ascending — the deterministic default and tiebreaker occlens adds. A term's fragment
/// (`order.<field>`) holds one sort key per line, each given the term's direction.
pub fn order_by(f: &Fragments, r: &Request) -> String {
    let mut terms: Vec<String> = r
        .ordering
        .iter()
        .flat_map(|(field, desc)| {
            let direction = if *desc { "DESC" } else { "ASC" };
            let keys = f.bind(&format!("order.{field}"), &[]);
            keys.lines()
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| format!("{k} {direction} NULLS LAST"))
                .collect::<Vec<_>>()
        })
        .collect();
    terms.push("o.id ASC".into());
    terms.join(", ")
}

pub fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        "TRUE".into()
    } else {
        conds
            .iter()
            .map(|c| format!("({c})"))
            .collect::<Vec<_>>()
            .join("\n  AND ")
    }
}
