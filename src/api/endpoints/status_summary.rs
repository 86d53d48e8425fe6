//! `GET /api/v2/status/summary/?project_id=P`: Antenna's `SummaryView` (ami/main/api/views.py),
//! live counts of the project's objects each through `visible_for_user`, computed by the
//! fragment `status_summary.counts` of `queries/status_summary.sql`. `project_id` is required
//! (`get_active_project(required=True)`: 400 when absent, 404 for 0 or no such project).

use crate::api::endpoints::{EndpointAnswer, Endpoints};
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::RowExt;
use serde_json::{Map, Value};

const COUNTS: [&str; 6] = [
    "projects_count",
    "deployments_count",
    "events_count",
    "captures_count",
    "occurrences_count",
    "taxa_count",
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    if !tail.is_empty() {
        return Ok(Err(ApiError::not_found()));
    }
    let project = match e.project(true).await? {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(Err(ApiError::not_found())),
        Err(err) => return Ok(Err(err)),
    };
    let superuser = matches!(e.who, Requester::Superuser(_));
    // `apply_default_filters(project, request)`: off only for apply_defaults=false/0.
    let defaults = if e.params.apply_defaults() {
        e.sql("defaults", &[("project", Arg::Int(project))])
    } else {
        "TRUE".to_string()
    };
    let visible = e.visible_projects();
    let sql = e.sql(
        "status_summary.counts",
        &[
            ("project", Arg::Int(project)),
            ("defaults", Arg::Sql(&defaults)),
            (
                "superuser",
                Arg::Sql(if superuser { "TRUE" } else { "FALSE" }),
            ),
            ("visible", Arg::Sql(&visible)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let row = rows.first();
    let count = |key: &str| row.and_then(|r| r.i64(key)).unwrap_or(0);
    let mut body = Map::new();
    for key in COUNTS {
        body.insert(key.into(), Value::from(count(key)));
    }
    // The aliases: num_sessions, num_species, then num_<x> for every <x>_count.
    body.insert("num_sessions".into(), Value::from(count("events_count")));
    body.insert("num_species".into(), Value::from(count("taxa_count")));
    for key in COUNTS {
        let alias = format!("num_{}", key.trim_end_matches("_count"));
        body.insert(alias, Value::from(count(key)));
    }
    Ok(Ok(Value::Object(body)))
}
