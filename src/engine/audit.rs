//! `occlens audit` (spec §3.6): stored determinations against the write path's rule, and the
//! occurrences the API hides — the queries of `queries/audit.sql` over `queries/10_audit.sql`.

use crate::engine::catalog::Arg;
use crate::engine::occurrences::rows;
use crate::engine::rows::Row;
use crate::engine::Engine;
use crate::error::Result;

/// What an audit found.
pub struct Audit {
    /// Valid occurrences audited.
    pub valid: i64,
    /// One row per difference: id, project_id, class, stored and expected values.
    pub differences: Vec<Row>,
    /// One row per hidden occurrence: id, project_id, reason.
    pub invalid: Vec<Row>,
}

impl Engine {
    /// Audit every occurrence, or those of `project`.
    pub async fn audit(&self, project: Option<i64>) -> Result<Audit> {
        let scope = match project {
            Some(p) => {
                self.require_project("audit", p).await?;
                format!("project_id = {p}")
            }
            None => "TRUE".to_string(),
        };
        let f = self.fragments();
        let bind = |name: &str| f.bind(name, &[("scope", Arg::Sql(&scope))]);
        let occurrences = rows(&self.ctx, &bind("audit.occurrences"))
            .await?
            .first()
            .and_then(|r| r.get("occurrences").and_then(|v| v.as_i64()))
            .unwrap_or(0);
        let invalid = rows(&self.ctx, &bind("audit.invalid")).await?;
        Ok(Audit {
            valid: occurrences - invalid.len() as i64,
            differences: rows(&self.ctx, &bind("audit.differences")).await?,
            invalid,
        })
    }
}
