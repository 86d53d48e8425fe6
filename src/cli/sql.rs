//! `occlens sql` and `occlens tables`.

use super::args::{CheckArgs, SqlArgs, TablesArgs};
use crate::cli::table::write;
use occlens::snapshot::Source;
use occlens::{Engine, Result};
use std::process::ExitCode;

/// One statement, scripts (-c, -f, stdin) or the interactive shell: see `shell`.
pub async fn sql(
    engine: &Engine,
    args: &SqlArgs,
    time_limit: Option<std::time::Duration>,
) -> Result<ExitCode> {
    super::shell::run(engine, args, time_limit).await
}

pub async fn tables(engine: &Engine, args: &TablesArgs) -> Result<ExitCode> {
    // Every URL and manifest text printed here goes through `redact` (a snapshot URL may hold
    // credentials or a presigned query string).
    use occlens::redact::redact;
    super::outln!("snapshot: {}", redact(&engine.snapshot.location))?;
    let manifest = engine.snapshot.manifest.as_ref();
    if let Some(m) = manifest.filter(|m| m.get("server_version").is_none()) {
        super::outln!(
            "made by {}",
            redact(m["source"].as_str().unwrap_or("occlens"))
        )?;
    } else if let Some(m) = manifest {
        let text = |k: &str| {
            redact(
                &m[k]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| m[k].to_string()),
            )
        };
        super::outln!(
            "exported from {} (PostgreSQL {}) at {} (transaction snapshot {}); project: {}; classification arrays: {}",
            text("source"),
            text("server_version"),
            text("snapshot_time"),
            text("transaction_snapshot"),
            text("project"),
            text("classification_arrays")
        )?;
    }
    let entry = |name: &str| {
        manifest
            .and_then(|m| m["tables"].as_array())
            .and_then(|t| t.iter().find(|e| e["name"] == name))
    };
    for t in &engine.snapshot.tables {
        let rows = engine
            .ctx
            .sql(&format!("SELECT count(*) AS n FROM {}", t.name))
            .await?
            .collect()
            .await?;
        let n = occlens::engine::rows::to_rows(&rows)?
            .first()
            .and_then(|r| r.get("n").and_then(|v| v.as_i64()))
            .unwrap_or(0);
        let source = match &t.source {
            Source::File(u) => u.clone(),
            Source::Parts(u, n) => format!("{u} ({n} part files)"),
            Source::Absent => "absent (optional: registered empty)".into(),
        };
        super::outln!("{:<45} {:>10} rows  {}", t.name, n, redact(&source))?;
        if let Some(e) = entry(t.name) {
            let sha: Vec<&str> = e["files"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["sha256"].as_str())
                .map(|s| &s[..12.min(s.len())])
                .collect();
            let omitted = e["omitted_columns"]
                .as_array()
                .filter(|o| !o.is_empty())
                .map(|o| {
                    format!(
                        "; omitted: {}",
                        o.iter()
                            .filter_map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .unwrap_or_default();
            super::outln!(
                "    manifest: {} rows, {} bytes, sha256 {}{omitted}",
                e["rows"],
                e["bytes"],
                sha.join(" ")
            )?;
        }
        if args.columns {
            for f in t.schema.fields() {
                super::outln!(
                    "    {:<40} {}{}",
                    f.name(),
                    f.data_type(),
                    if f.is_nullable() { "" } else { " NOT NULL" }
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `occlens check`: one row per rule and table; exit 1 when any rule is broken.
pub async fn check(engine: &Engine, args: &CheckArgs) -> Result<ExitCode> {
    use datafusion::arrow::array::{ArrayRef, StringArray, UInt64Array};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let findings = occlens::check::check(engine).await?;
    let failed = findings.iter().filter(|f| !f.ok()).count();
    let column = |v: Vec<Option<String>>| Arc::new(StringArray::from(v)) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        (
            "rule",
            column(findings.iter().map(|f| Some(f.rule.to_string())).collect()),
        ),
        (
            "subject",
            column(findings.iter().map(|f| Some(f.subject.clone())).collect()),
        ),
        (
            "bad",
            Arc::new(UInt64Array::from_iter_values(
                findings.iter().map(|f| f.bad),
            )) as ArrayRef,
        ),
        (
            "example",
            column(findings.iter().map(|f| f.example.clone()).collect()),
        ),
        (
            "status",
            column(
                findings
                    .iter()
                    .map(|f| Some(if f.ok() { "ok" } else { "FAIL" }.into()))
                    .collect(),
            ),
        ),
    ])?;
    write(&mut std::io::stdout().lock(), &[batch], args.format)?;
    if failed > 0 {
        eprintln!(
            "occlens: check: {failed} of {} rules broken in {}",
            findings.len(),
            engine.snapshot.location
        );
        Ok(ExitCode::from(1))
    } else {
        eprintln!("occlens: check: all {} rules hold", findings.len());
        Ok(ExitCode::SUCCESS)
    }
}
