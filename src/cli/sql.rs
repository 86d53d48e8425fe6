//! `occlens sql` and `occlens tables`.

use super::args::{SqlArgs, TablesArgs};
use occlens::output::table::write;
use occlens::snapshot::Source;
use occlens::{Engine, Result};
use std::process::ExitCode;

pub async fn sql(engine: &Engine, args: &SqlArgs) -> Result<ExitCode> {
    let batches = engine.ctx.sql(&args.query).await?.collect().await?;
    write(&mut std::io::stdout().lock(), &batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn tables(engine: &Engine, args: &TablesArgs) -> Result<ExitCode> {
    super::outln!("snapshot: {}", engine.snapshot.location)?;
    let manifest = engine.snapshot.manifest.as_ref();
    if let Some(m) = manifest {
        let text = |k: &str| {
            m[k].as_str()
                .map(String::from)
                .unwrap_or_else(|| m[k].to_string())
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
        let n = occlens::views::rows::to_rows(&rows)?
            .first()
            .and_then(|r| r.get("n").and_then(|v| v.as_i64()))
            .unwrap_or(0);
        let source = match &t.source {
            Source::File(u) => u.clone(),
            Source::Parts(u, n) => format!("{u} ({n} part files)"),
            Source::Absent => "absent (optional: registered empty)".into(),
        };
        super::outln!("{:<45} {:>10} rows  {}", t.name, n, source)?;
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
