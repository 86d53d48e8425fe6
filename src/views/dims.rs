//! Dimension tables (taxa, algorithms, events, deployments, users, projects) loaded once per
//! snapshot: small, and read by every response's nested objects.

use crate::error::Result;
use crate::views::rows::{to_rows, Row, RowExt};
use datafusion::prelude::SessionContext;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub struct Dims {
    pub taxa: HashMap<i64, Row>,
    pub algorithms: HashMap<i64, Row>,
    /// category map id -> number of labels
    pub category_maps: HashMap<i64, usize>,
    pub events: HashMap<i64, Row>,
    pub deployments: HashMap<i64, Row>,
    pub users: HashMap<i64, Row>,
    pub projects: HashMap<i64, Row>,
    /// (user_id, project_id)
    pub memberships: HashSet<(i64, i64)>,
}

async fn by_id(ctx: &SessionContext, sql: &str) -> Result<HashMap<i64, Row>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(to_rows(&batches)?
        .into_iter()
        .filter_map(|r| r.i64("id").map(|id| (id, r)))
        .collect())
}

impl Dims {
    pub async fn load(ctx: &SessionContext) -> Result<Dims> {
        let taxa = by_id(
            ctx,
            "SELECT id, name, rank, parent_id, gbif_taxon_key, fieldguide_id, inat_taxon_id, \
             cover_image_url, cover_image_credit, parents_json FROM main_taxon",
        )
        .await?;
        let algorithms = by_id(
            ctx,
            "SELECT id, name, key, description, uri, version, version_name, task_type, \
             category_map_id, created_at, updated_at FROM ml_algorithm",
        )
        .await?;
        let category_maps = by_id(
            ctx,
            "SELECT id, cardinality(labels) AS n FROM ml_algorithmcategorymap",
        )
        .await?
        .into_iter()
        .map(|(id, r)| (id, r.i64("n").unwrap_or(0) as usize))
        .collect();
        let events = by_id(ctx, r#"SELECT id, start, "end" FROM main_event"#).await?;
        let deployments = by_id(ctx, "SELECT id, name, project_id FROM main_deployment").await?;
        let users = by_id(ctx, "SELECT id, name, email FROM users_user").await?;
        let projects = by_id(
            ctx,
            "SELECT id, name, draft, owner_id, default_filters_score_threshold FROM main_project",
        )
        .await?;
        let batches = ctx
            .sql("SELECT user_id, project_id FROM main_userprojectmembership")
            .await?
            .collect()
            .await?;
        let memberships = to_rows(&batches)?
            .iter()
            .filter_map(|r| Some((r.i64("user_id")?, r.i64("project_id")?)))
            .collect();
        Ok(Dims {
            taxa,
            algorithms,
            category_maps,
            events,
            deployments,
            users,
            projects,
            memberships,
        })
    }
}
