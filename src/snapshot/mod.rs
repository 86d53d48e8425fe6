//! Opening a snapshot: locate each Antenna table's Parquet dataset, register it with
//! DataFusion, and validate the columns the queries use.

pub mod contract;
pub mod location;

use crate::error::{Error, Result};
use contract::{Table, TABLES};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::TryStreamExt;
use location::Location;
use object_store::{local::LocalFileSystem, path::Path, ObjectMeta, ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// Rows per Parquet data page in the snapshots occlens writes (`generate`, `snapshot`): the
/// page index's granularity. A detail or a page reads a few pages of each big table; at
/// Parquet's default 20,000 rows each of those pages cost 5× more to decompress and decode.
/// Snapshots written with other page sizes are read all the same.
pub const PAGE_ROWS: usize = 4_096;

/// How one table of the snapshot was found.
#[derive(Debug, Clone)]
pub enum Source {
    /// `<table>.parquet`
    File(String),
    /// `<table>/` holding this many part files
    Parts(String, usize),
    /// An optional table that is absent: registered empty.
    Absent,
}

#[derive(Debug, Clone)]
pub struct TableInfo {
    pub name: &'static str,
    pub source: Source,
    pub schema: SchemaRef,
    /// The files read (location, size, modification time, e-tag): what the cache of derived
    /// tables is keyed by.
    pub files: Vec<ObjectMeta>,
}

pub struct Snapshot {
    pub location: String,
    /// Base URL of the snapshot (`memory://demo/` for the built-in demo).
    pub base: url::Url,
    pub tables: Vec<TableInfo>,
    /// `_snapshot.json`, written by `occlens snapshot` (source, time, row counts, checksums).
    pub manifest: Option<serde_json::Value>,
}

impl Snapshot {
    /// Register every contract table of `location` in `ctx` and validate it.
    pub async fn open(ctx: &SessionContext, location: &Location) -> Result<Snapshot> {
        let store: Arc<dyn ObjectStore> = match &location.store {
            Some(s) => {
                ctx.register_object_store(&location.store_url(), s.clone());
                s.clone()
            }
            None => Arc::new(LocalFileSystem::new()),
        };
        let base = location.base_path();
        // Each table is a listing and a footer read: all at once (object stores are far away;
        // even local files pay a system call per step).
        let tables = futures::future::try_join_all(
            TABLES
                .iter()
                .map(|table| register(ctx, location, store.as_ref(), &base, table)),
        )
        .await?;
        let manifest = match store.get(&base.clone().join("_snapshot.json")).await {
            Ok(found) => {
                let bytes = found.bytes().await.map_err(|e| Error::Snapshot {
                    location: location.display.clone(),
                    message: format!("_snapshot.json: {e}"),
                })?;
                Some(serde_json::from_slice(&bytes).map_err(|e| Error::Snapshot {
                    location: location.display.clone(),
                    message: format!("_snapshot.json is not valid JSON: {e}"),
                })?)
            }
            Err(_) => None,
        };
        Ok(Snapshot {
            location: location.display.clone(),
            base: location.base.clone(),
            tables,
            manifest,
        })
    }
}

async fn register(
    ctx: &SessionContext,
    location: &Location,
    store: &dyn ObjectStore,
    base: &Path,
    table: &'static Table,
) -> Result<TableInfo> {
    let snapshot_err = |message: String| Error::Snapshot {
        location: location.display.clone(),
        message,
    };
    let file = base.clone().join(format!("{}.parquet", table.name));
    let mut files = Vec::new();
    let source = if let Ok(meta) = store.head(&file).await {
        files.push(meta);
        Source::File(
            location
                .base
                .join(&format!("{}.parquet", table.name))
                .expect("valid url")
                .to_string(),
        )
    } else {
        let dir = base.clone().join(table.name);
        let parts: Vec<_> = store
            .list(Some(&dir))
            .try_collect::<Vec<_>>()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.location.extension() == Some("parquet"))
            .collect();
        if parts.is_empty() {
            Source::Absent
        } else {
            files = parts.clone();
            let url = location
                .base
                .join(&format!("{}/", table.name))
                .expect("valid url");
            Source::Parts(url.to_string(), parts.len())
        }
    };
    match &source {
        Source::Absent if table.required => {
            return Err(snapshot_err(format!(
            "required table {} is missing (expected {0}.parquet or a folder {0}/ of part files)",
            table.name
        )))
        }
        Source::Absent => {
            let schema = Arc::new(table.schema());
            let empty = RecordBatch::new_empty(schema.clone());
            let mem = MemTable::try_new(schema.clone(), vec![vec![empty]])?;
            ctx.register_table(table.name, Arc::new(mem))?;
            return Ok(TableInfo {
                name: table.name,
                source,
                schema,
                files,
            });
        }
        Source::File(url) | Source::Parts(url, _) => {
            let opts = ParquetReadOptions::default();
            ctx.register_parquet(table.name, url, opts)
                .await
                .map_err(|e| {
                    snapshot_err(format!(
                        "table {}: cannot read {url}: {}",
                        table.name,
                        one_line(&e.to_string())
                    ))
                })?;
        }
    }
    let mut schema = ctx.table_provider(table.name).await?.schema();
    let missing: Vec<_> = table
        .columns
        .iter()
        .filter(|c| c.fill && schema.field_with_name(c.name).is_err())
        .map(|c| Field::new(c.name, c.kind.data_type(), true))
        .collect();
    if let (false, Source::File(url) | Source::Parts(url, _)) = (missing.is_empty(), &source) {
        // Columns of later migrations read as NULL: declare them in the table schema and let
        // the Parquet reader fill what the files lack.
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(missing);
        let extended = Schema::new(fields);
        ctx.deregister_table(table.name)?;
        let opts = ParquetReadOptions::default().schema(&extended);
        ctx.register_parquet(table.name, url, opts).await?;
        schema = ctx.table_provider(table.name).await?.schema();
    }
    validate(table, &schema)?;
    Ok(TableInfo {
        name: table.name,
        source,
        schema,
        files,
    })
}

/// Every used column must be present with a compatible type.
pub fn validate(table: &Table, schema: &Schema) -> Result<()> {
    for col in table.columns.iter().filter(|c| c.used) {
        match schema.field_with_name(col.name) {
            Err(_) => {
                return Err(Error::MissingColumn {
                    table: table.name.into(),
                    column: col.name.into(),
                    expected: col.kind.describe(),
                })
            }
            Ok(f) if !col.kind.accepts(f.data_type()) => {
                return Err(Error::ColumnType {
                    table: table.name.into(),
                    column: col.name.into(),
                    expected: col.kind.describe(),
                    found: f.data_type().to_string(),
                })
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}
