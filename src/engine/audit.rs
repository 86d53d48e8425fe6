//! `occlens audit` (spec §3.6): stored determinations against the write path's rule, and the
//! occurrences the API hides — the queries of `queries/audit.sql` over `queries/10_audit.sql`.
//!
//! The report's rows are streams: an audit after a bad migration reports nearly every
//! occurrence, and its memory must not follow the size of its report.

use crate::engine::catalog::{self, Arg};
use crate::engine::occurrences::rows;
use crate::engine::range_jobs::{RangeJobs, JOB_ROWS};
use crate::engine::ranges::{occurrence_ranges, within, within_or_null};
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
    pub invalid: Statement,
    /// id, project_id, class, stored and expected values, best identification and prediction
    /// ids of every difference, by id.
    pub differences: Statement,
}

/// A report's statement, planned (its columns checked) but not started: executing a sorted
/// statement starts its partitions' work at once, so each starts when `open` is called. On a
/// cluster, one statement per range of occurrence ids (`range_jobs`), read in order.
pub struct Statement {
    frames: Vec<datafusion::prelude::DataFrame>,
}

impl Statement {
    async fn plan(
        ctx: &datafusion::prelude::SessionContext,
        sql: &[String],
        view: &str,
        columns: &[(&str, crate::engine::typed::Want)],
    ) -> Result<Statement> {
        let mut frames = Vec::with_capacity(sql.len());
        for sql in sql {
            let df = ctx.sql(sql).await?;
            check_schema(view, df.schema().as_arrow(), columns)?;
            frames.push(df);
        }
        Ok(Statement { frames })
    }

    pub async fn open(mut self) -> Result<SendableRecordBatchStream> {
        if self.frames.len() == 1 {
            let df = self.frames.pop().expect("one statement");
            return Ok(df.execute_stream().await?);
        }
        RangeJobs::of(self.frames).stream().await
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
        // On a cluster, the reports' statements run range by range (`range_jobs`), each
        // planned in one partition.
        let (session, scopes) = match catalog::is_remote() {
            true => {
                let slots = self.ctx.state().config().target_partitions() as i64;
                let ranges = occurrence_ranges(&self.ctx, JOB_ROWS, slots, &scope).await?;
                // NULL ids (of a broken key) in the last range only when there are some: the
                // OR would keep the range's filter from the views' LEFT JOINs.
                let null_ids = ranges.null_ids;
                let keep = |r| match null_ids {
                    true => within_or_null("id", r),
                    false => within("id", r),
                };
                let scopes = ranges
                    .cuts
                    .into_iter()
                    .map(|r| match keep(r) {
                        Some(range) => format!("({scope}) AND {range}"),
                        None => scope.clone(),
                    })
                    .collect();
                (catalog::one_stage_session(&self.ctx)?, scopes)
            }
            false => (self.ctx.clone(), vec![scope.clone()]),
        };
        let each = |name: &str| -> Vec<String> {
            scopes
                .iter()
                .map(|s| f.bind(name, &[("scope", Arg::Sql(s))]))
                .collect()
        };
        let occurrences = rows(&self.ctx, &bind("audit.occurrences"))
            .await?
            .first()
            .and_then(|r| r.get("occurrences").and_then(|v| v.as_i64()))
            .unwrap_or(0);
        let invalid = Statement::plan(
            &session,
            &each("audit.invalid"),
            "audit_invalid",
            AuditInvalidRow::COLUMNS,
        )
        .await?;
        let differences = Statement::plan(
            &session,
            &each("audit.differences"),
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
