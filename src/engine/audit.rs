//! `occlens audit` (spec §3.6): stored determinations against the write path's rule, and the
//! occurrences the API hides — the queries of `queries/audit.sql` over `queries/10_audit.sql`.
//!
//! The report's rows are streams: an audit after a bad migration reports nearly every
//! occurrence, and its memory must not follow the size of its report.

use crate::engine::catalog::Arg;
use crate::engine::occurrences::rows;
use crate::engine::rows::{to_rows, Row};
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
    pub invalid: SendableRecordBatchStream,
    /// id, project_id, class, stored and expected values, best identification and prediction
    /// ids of every difference, by id (started when read: run after `invalid` is drained).
    pub differences: Differences,
}

/// The differences' statement, run when `open` is called.
pub struct Differences {
    ctx: datafusion::prelude::SessionContext,
    sql: String,
}

impl Differences {
    pub async fn open(self) -> Result<SendableRecordBatchStream> {
        let stream = self.ctx.sql(&self.sql).await?.execute_stream().await?;
        check_schema(
            "audit_difference",
            &stream.schema(),
            AuditDifferenceRow::COLUMNS,
        )?;
        Ok(stream)
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
        let invalid = self
            .ctx
            .sql(&bind("audit.invalid"))
            .await?
            .execute_stream()
            .await?;
        check_schema("audit_invalid", &invalid.schema(), AuditInvalidRow::COLUMNS)?;
        Ok(AuditStreams {
            occurrences,
            invalid,
            differences: Differences {
                ctx: self.ctx.clone(),
                sql: bind("audit.differences"),
            },
        })
    }

    /// Audit every occurrence, or those of `project`, collected.
    pub async fn audit(&self, project: Option<i64>) -> Result<Audit> {
        let streams = self.audit_streams(project).await?;
        let invalid = to_rows(&streams.invalid.try_collect::<Vec<_>>().await?)?;
        let differences = streams.differences.open().await?;
        let differences = to_rows(&differences.try_collect::<Vec<_>>().await?)?;
        Ok(Audit {
            valid: streams.occurrences - invalid.len() as i64,
            differences,
            invalid,
        })
    }
}
