//! A deployment's `jobs` (Antenna 731cc2a2: DeploymentListSerializer.jobs, JobStatusSerializer
//! over `deployment.jobs`, ami/jobs/models.py Job). The `jobs_job` table is optional in the
//! snapshot contract: absent, every deployment's `jobs` is `[]`.

use super::{Endpoints, Model};
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::error::Result;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The serialized jobs of each of `deployments` (deployments without jobs are absent), or the
/// 500 Antenna answers when a job's type key is not one it knows (`Job.job_type()` raises).
pub(super) async fn by_deployment(
    e: &Endpoints<'_>,
    deployments: &[i64],
) -> Result<std::result::Result<HashMap<i64, Vec<Value>>, ApiError>> {
    let mut out: HashMap<i64, Vec<Value>> = HashMap::new();
    if deployments.is_empty() {
        return Ok(Ok(out));
    }
    let sql = e.sql(
        "deployments.jobs",
        &[("deployments", Arg::Ints(deployments))],
    );
    let rows = e.rows(&sql).await?;
    let members = super::events::members(e, rows.iter().map(|r| r.i64("project_id"))).await?;
    for r in rows {
        let (Some(deployment), Some(id)) = (r.i64("deployment_id"), r.i64("id")) else {
            continue;
        };
        let key = r.str("job_type_key").unwrap_or_default();
        let Some(name) = r.str("type_name") else {
            return Ok(Err(ApiError::detail(
                500,
                format!(
                    "Server Error: ValueError: Could not determine job type for job {id} with job_type_key '{key}'. "
                ),
            )));
        };
        out.entry(deployment).or_default().push(json!({
            "id": id,
            "details": e.link("jobs", id),
            "status": r.get("status").cloned().unwrap_or(Value::Null),
            "job_type": {"name": name, "key": key},
            "created_at": r.get("created").cloned().unwrap_or(Value::Null),
            "updated_at": r.get("updated").cloned().unwrap_or(Value::Null),
            "user_permissions": permissions(e, &r, key, &members),
        }));
    }
    Ok(Ok(out))
}

/// `Job.get_user_object_permissions`: a superuser's `update` and `delete`, plus the custom
/// actions of `Job.get_custom_user_permissions` — the job project's permissions of the
/// requester named `<action>_<job type key>_job`; none without a project. A superuser holds
/// every project permission: `run` for every known type, and `run_single_image` too for `ml`
/// (`run_single_image_ml_job`). A member (occlens's members hold the BasicMember role) holds
/// `run_single_image_ml_job` only: `run_single_image` on `ml` jobs.
fn permissions(e: &Endpoints<'_>, r: &Row, key: &str, members: &super::events::Roles) -> Value {
    let mut perms = e.permissions(Model::Job, false);
    if let Some(project) = r.i64("project_id") {
        let custom: &[&str] = match (e.who, key) {
            (Requester::Superuser(_), "ml") => &["run", "run_single_image"],
            (
                Requester::Superuser(_),
                "populate_captures_collection"
                | "data_storage_sync"
                | "regroup_events"
                | "data_export"
                | "post_processing",
            ) => &["run"],
            (Requester::User(_), "ml") if members.contains(&project) => &["run_single_image"],
            _ => &[],
        };
        if let Value::Array(list) = &mut perms {
            list.extend(custom.iter().map(|c| json!(c)));
        }
    }
    perms
}
