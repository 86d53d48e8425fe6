//! Dimension tables (taxa, algorithms, events, deployments, users, projects) loaded once per
//! snapshot: small, and read by every response's nested objects.

use crate::engine::rows::{to_rows, CastColumn, Row, RowExt};
use crate::engine::statements::rows;
use crate::error::Result;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub struct Dims {
    pub taxa: Dim,
    pub algorithms: Dim,
    /// category map id -> number of labels
    pub category_maps: HashMap<i64, usize>,
    pub events: Dim,
    pub deployments: Dim,
    pub users: Dim,
    pub projects: Dim,
    /// (user_id, project_id)
    pub memberships: HashSet<(i64, i64)>,
}

/// A dimension table kept as its Arrow batches with an index by `id`: a response turns the
/// few rows it names into [`Row`]s (converting all 10k taxa of a snapshot up front cost more
/// than a whole detail response).
#[derive(Default)]
pub struct Dim {
    batches: Vec<RecordBatch>,
    index: HashMap<i64, (usize, usize)>,
    /// Rows already converted (an export names the same taxa and algorithms again and again).
    converted: std::sync::Mutex<HashMap<i64, Row>>,
}

impl Dim {
    pub fn get(&self, id: &i64) -> Option<Row> {
        if let Some(row) = self.converted.lock().expect("not poisoned").get(id) {
            return Some(row.clone());
        }
        let &(b, i) = self.index.get(id)?;
        let slice = self.batches[b].slice(i, 1);
        let row = to_rows(std::slice::from_ref(&slice)).ok()?.pop()?;
        self.converted
            .lock()
            .expect("not poisoned")
            .insert(*id, row.clone());
        Some(row)
    }

    pub fn contains_key(&self, id: &i64) -> bool {
        self.index.contains_key(id)
    }
}

/// The rows of `sql` (reading `table`) indexed by id; an id on two rows is an error naming
/// the table (nested objects and the views' joins would double rows, silently).
async fn by_id(ctx: &SessionContext, table: &str, sql: &str) -> Result<Dim> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut index = HashMap::new();
    for (b, batch) in batches.iter().enumerate() {
        let ids = CastColumn::of(
            batch
                .column_by_name("id")
                .expect("dimension queries select id"),
        )?;
        for i in 0..batch.num_rows() {
            if let Some(id) = ids.i64(i) {
                if index.insert(id, (b, i)).is_some() {
                    return Err(crate::error::Error::Snapshot {
                        location: table.into(),
                        message: format!(
                            "id {id} is on more than one row (ids must be unique); `occlens check` reports every broken rule"
                        ),
                    });
                }
            }
        }
    }
    Ok(Dim {
        batches,
        index,
        converted: Default::default(),
    })
}

impl Dims {
    /// Whether `user` holds the Project-manager role on `project`: Antenna gives it to a
    /// project's owner when the project is created (`set_project_owner_permissions`); other
    /// role assignments are not in the snapshot. Superuser status alone does not make one.
    pub fn manages(&self, user: Option<i64>, project: Option<i64>) -> bool {
        let owner = project.and_then(|p| self.projects.get(&p)?.i64("owner_id"));
        owner.is_some() && owner == user
    }

    pub async fn load(ctx: &SessionContext) -> Result<Dims> {
        // Independent small reads: together, not one after another.
        let (taxa, algorithms, events, deployments, users, projects, maps, members) = futures::try_join!(
            by_id(
                ctx,
                "main_taxon",
                "SELECT id, name, rank, parent_id, gbif_taxon_key, fieldguide_id, inat_taxon_id, \
                 cover_image_url, cover_image_credit, parents_json FROM main_taxon",
            ),
            by_id(
                ctx,
                "ml_algorithm",
                "SELECT id, name, key, description, uri, version, version_name, task_type, \
                 category_map_id, created_at, updated_at FROM ml_algorithm",
            ),
            by_id(ctx, "main_event", r#"SELECT id, start, "end" FROM main_event"#),
            by_id(ctx, "main_deployment", "SELECT id, name, project_id FROM main_deployment"),
            by_id(ctx, "users_user", "SELECT id, name, email, image FROM users_user"),
            by_id(
                ctx,
                "main_project",
                "SELECT id, name, draft, owner_id, default_filters_score_threshold FROM main_project",
            ),
            rows(ctx, "SELECT id, cardinality(labels) AS n FROM ml_algorithmcategorymap"),
            rows(ctx, "SELECT user_id, project_id FROM main_userprojectmembership"),
        )?;
        let category_maps = maps
            .iter()
            .filter_map(|r| Some((r.i64("id")?, r.i64("n").unwrap_or(0) as usize)))
            .collect();
        let memberships = members
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
