//! `occlens audit` (spec §3.6): stored determinations against the write path's rule, and the
//! occurrences the API hides — the queries of `queries/audit.sql` over `queries/10_audit.sql`.
//!
//! The report's rows are streams: an audit after a bad migration reports nearly every
//! occurrence, and its memory must not follow the size of its report.

use crate::engine::catalog::Arg;
use crate::engine::range_jobs;
use crate::engine::rows::{to_rows, Row};
use crate::engine::statements::rows;
use crate::engine::typed::{check_schema, AuditDifferenceRow, AuditInvalidRow, ViewRow};
use crate::engine::Engine;
use crate::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use futures::TryStreamExt;

/// What an audit found, collected (for tests and small scopes; the CLI reads `AuditStreams`).
pub struct Audit {
    /// Valid occurrences audited.
    pub valid: i64,
    /// One row per difference: id, project_id, class, stored and expected values.
    pub differences: Vec<Row>,
    /// One row per hidden occurrence: id, project_id, reason.
    pub invalid: Vec<Row>,
}

/// An audit as it is computed.
pub struct AuditStreams {
    /// Occurrences in scope, valid or not (the valid ones are these minus the invalid rows).
    pub occurrences: i64,
    /// id, project_id, reason of every occurrence the API hides, by id.
    pub invalid: Statement,
    /// id, project_id, class, stored and expected values, best identification and prediction
    /// ids of every difference, by id.
    pub differences: Statement,
}

/// A report's statement, planned (its columns checked) but not started: executing a sorted
/// statement starts its partitions' work at once, so each starts when `open` is called. On a
/// cluster it runs range by range (`range_jobs`), read in order.
pub struct Statement {
    df: datafusion::prelude::DataFrame,
    ctx: datafusion::prelude::SessionContext,
    /// The audit's condition over `main_occurrence`, which the ranges are cut within.
    scope: String,
}

impl Statement {
    async fn plan(
        ctx: &datafusion::prelude::SessionContext,
        sql: &str,
        scope: &str,
        view: &str,
        columns: &[(&str, crate::engine::typed::Want)],
    ) -> Result<Statement> {
        let df = ctx.sql(sql).await?;
        check_schema(view, df.schema().as_arrow(), columns)?;
        Ok(Statement {
            df,
            ctx: ctx.clone(),
            scope: scope.to_string(),
        })
    }

    pub async fn open(self) -> Result<SendableRecordBatchStream> {
        range_jobs::stream(&self.ctx, self.df, &self.scope).await
    }
}

impl Engine {
    /// Audit every occurrence, or those of `project`, as streams of rows.
    pub async fn audit_streams(&self, project: Option<i64>) -> Result<AuditStreams> {
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
        let invalid = Statement::plan(
            &self.ctx,
            &bind("audit.invalid"),
            &scope,
            "audit_invalid",
            AuditInvalidRow::COLUMNS,
        )
        .await?;
        let differences = Statement::plan(
            &self.ctx,
            &bind("audit.differences"),
            &scope,
            "audit_difference",
            AuditDifferenceRow::COLUMNS,
        )
        .await?;
        Ok(AuditStreams {
            occurrences,
            invalid,
            differences,
        })
    }

    /// Audit every occurrence, or those of `project`, collected.
    pub async fn audit(&self, project: Option<i64>) -> Result<Audit> {
        let streams = self.audit_streams(project).await?;
        let invalid = streams.invalid.open().await?;
        let invalid = to_rows(&invalid.try_collect::<Vec<_>>().await?)?;
        let differences = streams.differences.open().await?;
        let differences = to_rows(&differences.try_collect::<Vec<_>>().await?)?;
        Ok(Audit {
            valid: streams.occurrences - invalid.len() as i64,
            differences,
            invalid,
        })
    }
}
