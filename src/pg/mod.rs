//! `occlens snapshot --from postgres://…`: Antenna's tables copied out of one
//! `REPEATABLE READ, READ ONLY, DEFERRABLE` transaction (so every table is from the same
//! instant) into Parquet files that follow the snapshot contract, with a manifest.

pub mod connect;
pub mod copy;
pub mod schema;
pub mod write;

use crate::engine::catalog::{Arg, Fragments};
use crate::error::{Error, Result};
use crate::snapshot::contract::TABLES;
use futures::{pin_mut, StreamExt};
use serde_json::{json, Value};
use tokio_postgres::binary_copy::BinaryCopyOutStream;
use tokio_postgres::IsolationLevel;
use write::{Output, PartWriter};

/// What to export and where.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    pub from: String,
    pub out: String,
    pub project: Option<i64>,
    /// Keep `main_classification.logits` and `.scores` (no view reads them).
    pub classification_arrays: bool,
    /// Keep every column of `users_user` (else id, name, email and image).
    pub include_pii: bool,
    pub rows_per_file: u64,
    pub batch_rows: usize,
}

/// What was written.
pub struct SnapshotSummary {
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
    pub out: String,
}

/// Progress: called with the table being read and the rows read from it so far.
pub type Progress<'a> = &'a (dyn Fn(&str, u64) + Sync);

fn pg_error(what: &str, e: tokio_postgres::Error) -> Error {
    Error::postgres(format!("{what}: {}", connect::one_line(&e))).because(e)
}

pub async fn snapshot(
    options: &SnapshotOptions,
    progress: Progress<'_>,
) -> Result<SnapshotSummary> {
    let source = connect::source(&options.from)?;
    let output = Output::parse(&options.out)?;
    output.check().await?;
    let mut client = connect::connect(&source).await?;
    let txn = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .deferrable(true)
        .start()
        .await
        .map_err(|e| pg_error(&source.display, e))?;
    let info = txn
        .query_one(
            "SELECT current_setting('server_version'), now(), pg_current_snapshot()::text",
            &[],
        )
        .await
        .map_err(|e| pg_error(&source.display, e))?;
    let server_version: String = info.get(0);
    let snapshot_time: chrono::DateTime<chrono::Utc> = info.get(1);
    let transaction_snapshot: String = info.get(2);
    if let Some(p) = options.project {
        let found = txn
            .query_opt("SELECT 1 FROM main_project WHERE id = $1", &[&p])
            .await
            .map_err(|e| pg_error("main_project", e))?;
        if found.is_none() {
            return Err(Error::Usage(format!(
                "--project {p}: no such project in {}",
                source.display
            )));
        }
    }
    let staging = output.staging()?;
    // On an error, `staging` is removed when dropped.
    let (tables, absent) = export_tables(&txn, options, staging.path(), progress).await?;
    let _ = txn.commit().await;
    let rows = tables.iter().map(|t| t["rows"].as_u64().unwrap_or(0)).sum();
    let bytes = tables
        .iter()
        .map(|t| t["bytes"].as_u64().unwrap_or(0))
        .sum();
    let manifest = json!({
        "format": crate::snapshot::MANIFEST_FORMAT,
        "source": source.display,
        "server_version": server_version,
        "snapshot_time": snapshot_time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "transaction_snapshot": transaction_snapshot,
        "isolation": "REPEATABLE READ, READ ONLY, DEFERRABLE",
        "project": options.project,
        "classification_arrays": if options.classification_arrays { "keep" } else { "skip" },
        "include_pii": options.include_pii,
        "tables": tables,
        "absent_tables": absent,
        "occlens": env!("CARGO_PKG_VERSION"),
    });
    output.commit(staging, &manifest).await?;
    Ok(SnapshotSummary {
        tables: manifest["tables"].as_array().map_or(0, Vec::len),
        rows,
        bytes,
        out: output.display(),
    })
}

/// Copy every table of the contract into `staging`; (manifest entries, absent optional tables).
async fn export_tables(
    txn: &tokio_postgres::Transaction<'_>,
    options: &SnapshotOptions,
    staging: &std::path::Path,
    progress: Progress<'_>,
) -> Result<(Vec<Value>, Vec<String>)> {
    let fragments = Fragments::load();
    let project = options.project;
    let (mut entries, mut absent) = (Vec::new(), Vec::new());
    for contract in TABLES {
        let name = contract.name;
        let keep = |column: &str| match name {
            "users_user" if !options.include_pii => schema::USER_COLUMNS.contains(&column),
            "main_classification" if !options.classification_arrays => {
                !schema::CLASSIFICATION_ARRAYS.contains(&column)
            }
            // Never the storage credentials (access_key, secret_key): the contract's columns only.
            "main_s3storagesource" => contract.column(column).is_some(),
            _ => true,
        };
        let Some(table) = schema::describe(txn, name, keep).await? else {
            if contract.required {
                return Err(Error::postgres(format!(
                    "table {name}: missing from the database (a required Antenna table)"
                )));
            }
            absent.push(name.to_string());
            continue;
        };
        for column in contract.columns.iter().filter(|c| c.used && !c.fill) {
            let present = table.columns.iter().any(|c| c.name == column.name)
                || table.omitted.iter().any(|c| c == column.name);
            if !present {
                return Err(Error::MissingColumn {
                    table: name.to_string(),
                    column: column.name.to_string(),
                    expected: column.kind.describe(),
                });
            }
        }
        let condition = project
            .map(|p| fragments.bind(&format!("project.{name}"), &[("project", Arg::Int(p))]));
        let sql = table.copy_sql(condition.as_deref());
        let types: Vec<_> = table.columns.iter().map(|c| c.kind.wire()).collect();
        let stream = txn
            .copy_out(sql.as_str())
            .await
            .map_err(|e| pg_error(&format!("table {name}"), e))?;
        let rows = BinaryCopyOutStream::new(stream, &types);
        pin_mut!(rows);
        let mut batcher = copy::Batcher::new(&table)?;
        // Parquet encoding and compression run on their own thread while rows keep arriving.
        let (tx, mut rx) =
            tokio::sync::mpsc::channel::<datafusion::arrow::record_batch::RecordBatch>(2);
        let mut writer = PartWriter::new(staging, name, table.schema(), options.rows_per_file);
        let encoder = tokio::task::spawn_blocking(move || {
            while let Some(batch) = rx.blocking_recv() {
                writer.write(&batch)?;
            }
            writer.finish()
        });
        let mut total = 0u64;
        progress(name, 0);
        let copied: Result<()> = async {
            while let Some(row) = rows.next().await {
                let row = row.map_err(|e| pg_error(&format!("table {name}"), e))?;
                batcher.push(&row)?;
                total += 1;
                if batcher.rows >= options.batch_rows {
                    if tx.send(batcher.finish()?).await.is_err() {
                        break; // the encoder failed: its error is reported below
                    }
                    progress(name, total);
                }
            }
            let _ = tx.send(batcher.finish()?).await;
            Ok(())
        }
        .await;
        drop(tx);
        let files = encoder
            .await
            .map_err(|e| Error::export(format!("table {name}: writing Parquet: {e}")).because(e))?;
        copied?;
        let files = files?;
        progress(name, total);
        entries.push(write::table_entry(
            name,
            &table.schema(),
            &table.omitted,
            &files,
        ));
    }
    Ok((entries, absent))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `snapshot --project P` binds `project.<table>` for every table of the contract: a table
    /// added to the contract without its condition would be an internal error at export time.
    #[test]
    fn every_contract_table_has_a_per_project_condition() {
        let fragments = Fragments::load();
        for table in TABLES {
            let name = format!("project.{}", table.name);
            assert!(
                fragments.has(&name),
                "queries/snapshot_project.sql lacks {name}"
            );
        }
    }
}
