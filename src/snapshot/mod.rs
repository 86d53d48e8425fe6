//! Opening a snapshot: locate each Antenna table's Parquet dataset, register it with
//! DataFusion, and validate the columns the queries use.

mod column_kind;
pub mod contract;
pub mod file_reads;
mod files;
pub mod inference;
mod integrity;
mod local;
pub use local::change_time;
pub mod location;
mod manifest;
pub mod types;

use crate::error::{one_line, Error, Result};
use contract::{Table, TABLES};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use files::{check_footer, duplicated_column, list_parts, misnamed, RootNames};
use futures::{StreamExt, TryStreamExt};
use location::Location;
pub use manifest::{manifest_tables, Listed, ListedFile, FORMAT as MANIFEST_FORMAT};
use manifest::{read_manifest, MANIFEST};
use object_store::{path::Path, ObjectMeta, ObjectStore, ObjectStoreExt};
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
    /// Columns occlens's own functions read as the contract's type, in a view over the files
    /// registered as `<table>__stored` (jsonb decoded into nested types, timestamps without a
    /// zone, integers that may not fit; see `types`).
    pub reader_only: Vec<String>,
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
    /// The store the tables are read from (local files: the local file system).
    pub store: Arc<dyn ObjectStore>,
}

impl Snapshot {
    /// Register every contract table of `location` in `ctx` and validate it.
    ///
    /// With `_snapshot.json`, a table reads exactly the files the manifest lists, each of the
    /// size it records; a table the manifest does not mention (a manifest older than the
    /// contract), or every table of a snapshot without one, is `<table>.parquet` or the part
    /// files of `<table>/` (both at once is an error). Only a table that is truly absent is
    /// absent: a file or folder that exists but cannot be read is an error naming the table,
    /// the file and the cause.
    ///
    /// Columns of other Arrow types than the contract's are read as its types (`types`);
    /// `zone` is the wall-clock zone of timestamps stored without one.
    pub async fn open(
        ctx: &SessionContext,
        location: &Location,
        zone: chrono_tz::Tz,
    ) -> Result<Snapshot> {
        let store: Arc<dyn ObjectStore> = match &location.store {
            Some(s) => {
                ctx.register_object_store(&location.store_url(), s.clone());
                s.clone()
            }
            None => Arc::new(file_reads::LocalFiles::default()),
        };
        let base = location.base_path();
        let manifest = read_manifest(store.as_ref(), &base, location).await?;
        let listed = match &manifest {
            Some(m) => Some(manifest_tables(m).map_err(|message| Error::Snapshot {
                location: location.display.clone(),
                message,
            })?),
            None => None,
        };
        // Each table is a listing (or the heads of its manifest's files), a footer check and a
        // schema read: all at once (object stores are far away; even local files pay a system
        // call per step).
        // Every table's outcome is awaited, and the first error in the contract's table order
        // is the one reported: the same one on every run (scripts and tests compare it).
        // Without a manifest, the snapshot folder's names are listed once, by the first table
        // found absent, and shared (`files::misnamed`).
        let root = RootNames::default();
        let tables = futures::future::join_all(TABLES.iter().map(|table| {
            let find = match listed.as_ref().and_then(|l| l.get(table.name)) {
                Some(listed) => Find::Listed(listed),
                None => Find::Look(&root),
            };
            register(ctx, location, &store, &base, table, find, zone)
        }))
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
        Ok(Snapshot {
            location: location.display.clone(),
            base: location.base.clone(),
            tables,
            manifest,
            store,
        })
    }
}

/// `rel` (a path relative to the snapshot root) under `root`.
fn under(root: &Path, rel: &str) -> Path {
    let rel = Path::parse(rel).unwrap_or_default();
    Path::from_iter(root.parts().chain(rel.parts()))
}

/// `path` relative to the snapshot root `root`, for messages (`main_x/part-00001.parquet`).
fn relative(root: &Path, path: &Path) -> String {
    match path.prefix_match(root) {
        Some(rest) => rest
            .map(|p| p.as_ref().to_string())
            .collect::<Vec<_>>()
            .join("/"),
        None => path.to_string(),
    }
}

/// The URL DataFusion reads the object `path` of the snapshot's store by.
fn object_url(location: &Location, path: &Path) -> String {
    let mut url = location.store_url();
    url.set_path(&format!("/{path}"));
    url.to_string()
}

/// A failed look-up of `rel`: `None` when the object truly does not exist, else what is wrong
/// with it (`is a directory, …`, `cannot be read: …`).
fn absence(location: &Location, rel: &str, e: object_store::Error) -> Option<String> {
    match e {
        object_store::Error::NotFound { .. } => {
            // The local store reports a directory as not found. Its file is looked at only
            // for a plain relative name: a URL join would read `#…`, `?…` and `%2E` as URL
            // syntax and `/…` as absolute, and look at another file than the store did.
            let plain = !rel.starts_with('/') && !rel.contains(['#', '?', '%', '\\']);
            let local = (location.store.is_none() && plain)
                .then(|| location.base.join(rel).ok())
                .flatten();
            match local.and_then(|u| u.to_file_path().ok()) {
                Some(p) if p.is_dir() => Some("is a directory, not a file".into()),
                // A dangling symbolic link is there, but points nowhere: not "absent".
                Some(p) if std::fs::symlink_metadata(&p).is_ok() => Some(format!(
                    "cannot be read: {}",
                    std::fs::metadata(&p)
                        .err()
                        .map_or("a symbolic link to nothing".into(), |e| e.to_string())
                )),
                _ => None,
            }
        }
        e => Some(format!("cannot be read: {}", cause(&e))),
    }
}

/// An error's text on one line, secrets redacted (object-store errors quote URLs).
fn cause(e: &dyn std::fmt::Display) -> String {
    crate::redact::redact(&one_line(&e.to_string()))
}

/// The files of `table` that `_snapshot.json` lists, each present with the size it records.
async fn listed_files(
    location: &Location,
    store: &dyn ObjectStore,
    base: &Path,
    table: &Table,
    list: &[ListedFile],
) -> Result<(Source, Vec<ObjectMeta>)> {
    if let Some(why) = list
        .iter()
        .find_map(|f| local::not_regular(location, &f.path))
    {
        return Err(table_error(location, table, why));
    }
    let files = futures::future::join_all(list.iter().map(|f| async move {
        match store.head(&under(base, &f.path)).await {
            Ok(meta) if meta.size == f.bytes => Ok(meta),
            Ok(meta) => Err(table_error(
                location,
                table,
                format!(
                    "{}: {MANIFEST} lists {} bytes, found {} bytes (the file changed after the snapshot was written)",
                    f.path, f.bytes, meta.size
                ),
            )),
            Err(e) => {
                let why = absence(location, &f.path, e).unwrap_or_else(|| "does not exist".into());
                Err(table_error(
                    location,
                    table,
                    format!("{}, listed in {MANIFEST}, {why}", f.path),
                ))
            }
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    let single = format!("{}.parquet", table.name);
    let source = if list.len() == 1 && list[0].path == single {
        Source::File(object_url(location, &files[0].location))
    } else {
        Source::Parts(
            object_url(location, &base.clone().join(table.name)) + "/",
            files.len(),
        )
    };
    Ok((source, files))
}

/// `<table>.parquet` or the part files of `<table>/`, found by looking (no manifest).
async fn discover(
    location: &Location,
    store: &dyn ObjectStore,
    base: &Path,
    table: &Table,
    root: &RootNames,
) -> Result<(Source, Vec<ObjectMeta>)> {
    let err = |message: String| table_error(location, table, message);
    let name = format!("{}.parquet", table.name);
    if let Some(why) =
        local::not_regular(location, &name).or_else(|| local::irregular_in(location, table.name))
    {
        return Err(err(why));
    }
    let file = base.clone().join(name.as_str());
    let dir = base.clone().join(table.name);
    let (head, parts) = futures::join!(store.head(&file), list_parts(store, &dir));
    let found = match head {
        Ok(meta) => Some(meta),
        Err(e) => match absence(location, &name, e) {
            None => None,
            Some(why) => return Err(err(format!("{name} {why}"))),
        },
    };
    let parts = parts.map_err(|e| {
        let hint = if matches!(location.base.scheme(), "http" | "https") {
            format!(" (a web server that cannot list folders serves only snapshots with {MANIFEST}, which names every file)")
        } else {
            String::new()
        };
        err(format!(
            "cannot list the folder {}/: {}{hint}",
            table.name,
            cause(&e)
        ))
    })?;
    let parts = match parts {
        Ok(parts) => parts,
        Err(why) if found.is_none() => return Err(err(why)),
        // The folder holds files that are not parts beside the table's file (Hive's
        // `000000_0`, parts in subfolders): which one is the table is not occlens's guess.
        Err(why) => {
            return Err(err(format!(
                "both {name} and a folder {}/ with files in it exist ({why}); remove the one that is not current",
                table.name
            )))
        }
    };
    match (found, parts.is_empty()) {
        (Some(_), false) => Err(err(format!(
            "both {name} and a folder {}/ of {} part files exist; remove the one that is not current",
            table.name,
            parts.len()
        ))),
        (Some(meta), true) => Ok((Source::File(object_url(location, &meta.location)), vec![meta])),
        (None, false) => Ok((
            Source::Parts(object_url(location, &dir) + "/", parts.len()),
            parts,
        )),
        (None, true) => {
            // `<table>.parquet/` as a folder of an object store (locally, `absence` saw it).
            if location.store.is_some() {
                let mut inside = store.list(Some(&file));
                match inside.try_next().await {
                    Ok(Some(_)) => return Err(err(format!("{name} is a folder, not a file"))),
                    Ok(None) => {}
                    Err(e) => {
                        return Err(err(format!("cannot list {name}/: {}", cause(&e))))
                    }
                }
            }
            if let Some(why) = misnamed(store, base, table.name, root).await {
                return Err(err(why));
            }
            Ok((Source::Absent, Vec::new()))
        }
    }
}

/// How a table's files are found: as the manifest lists them, or by looking.
#[derive(Clone, Copy)]
enum Find<'a> {
    Listed(&'a Listed),
    Look(&'a RootNames),
}

fn table_error(location: &Location, table: &Table, message: String) -> Error {
    Error::Snapshot {
        location: location.display.clone(),
        message: format!("table {}: {message}", table.name),
    }
}

/// DataFusion's options for reading Parquet in `ctx` (its session's Parquet settings).
fn listing_options(ctx: &SessionContext) -> ListingOptions {
    ParquetReadOptions::default()
        .to_listing_options(&ctx.copied_config(), ctx.copied_table_options())
}

/// Register exactly `files` as table `name`, with `schema` or the one their footers give.
async fn register_files(
    ctx: &SessionContext,
    location: &Location,
    store: &Arc<dyn ObjectStore>,
    name: &str,
    files: &[ObjectMeta],
    schema: Option<SchemaRef>,
) -> datafusion::error::Result<()> {
    let options = listing_options(ctx);
    let schema = match schema {
        Some(s) => s,
        None => {
            inference::infer_schema(ctx, &options.format, store, files, location.store.is_none())
                .await?
        }
    };
    let urls = files
        .iter()
        .map(|m| ListingTableUrl::parse(object_url(location, &m.location)))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    let provider = ListingTable::try_new(config)?
        .with_cache(ctx.runtime_env().cache_manager.get_file_statistic_cache());
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(provider))?;
    Ok(())
}

async fn register(
    ctx: &SessionContext,
    location: &Location,
    store: &Arc<dyn ObjectStore>,
    base: &Path,
    table: &'static Table,
    find: Find<'_>,
    zone: chrono_tz::Tz,
) -> Result<TableInfo> {
    let err = |message: String| table_error(location, table, message);
    let (source, files) = match find {
        Find::Listed(Listed::Absent) => (Source::Absent, Vec::new()),
        Find::Listed(Listed::Files(list)) => {
            listed_files(location, store.as_ref(), base, table, list).await?
        }
        Find::Look(root) => discover(location, store.as_ref(), base, table, root).await?,
    };
    if let Source::Absent = source {
        if table.required {
            return Err(Error::Snapshot {
                location: location.display.clone(),
                message: match find {
                    Find::Listed(_) => format!("required table {} is listed as absent in {MANIFEST}", table.name),
                    Find::Look(_) => format!(
                        "required table {} is missing (expected {0}.parquet or a folder {0}/ of part files)",
                        table.name
                    ),
                },
            });
        }
        let schema = Arc::new(table.schema());
        let empty = RecordBatch::new_empty(schema.clone());
        let mem = MemTable::try_new(schema.clone(), vec![vec![empty]])?;
        ctx.register_table(table.name, Arc::new(mem))?;
        return Ok(TableInfo {
            name: table.name,
            source,
            schema,
            reader_only: Vec::new(),
            files,
        });
    }
    // Each file's footer first: a file that is not Parquet, or whose footer is corrupt, is
    // named here (the Parquet reader's arithmetic on a bogus footer length can panic).
    // The first damaged file in name order is named (the same one on every run).
    futures::future::join_all(files.iter().map(|m| async move {
        check_footer(store.as_ref(), m)
            .await
            .map_err(|why| err(format!("{}: {why}", relative(base, &m.location))))
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    // The columns the parts store with different types.
    let mut mixed: Vec<String> = Vec::new();
    if files.len() > 1 {
        // Each part's schema: parts that store a column with different types (a writer that
        // chose each part's types from its rows: pandas stores an integer column as `double`
        // in the parts where it has a null) are read with one type that holds them all; a
        // part that lacks a column is named (its rows would read NULL there, silently).
        let format = listing_options(ctx).format;
        let local = location.store.is_none();
        // Footers read 32 at a time, as DataFusion's own schema inference does.
        let read = files.iter().cloned().map(|f| {
            let (format, store) = (format.clone(), store.clone());
            let name = relative(base, &f.location);
            async move {
                (
                    name,
                    inference::infer_schema(ctx, &format, &store, &[f], local).await,
                )
            }
        });
        let read: Vec<_> = futures::stream::iter(read).buffered(32).collect().await;
        let mut schemas: Vec<(String, SchemaRef)> = Vec::with_capacity(read.len());
        for (name, schema) in read {
            match schema {
                Ok(schema) => schemas.push((name, schema)),
                Err(e) => return Err(err(format!("cannot read {name}: {}", cause(&e)))),
            }
        }
        let merged = match schemas.iter().all(|(_, s)| s == &schemas[0].1) {
            true => schemas[0].1.clone(),
            false => types::merge(table, &schemas).map_err(err)?,
        };
        // Among the parts that hold the column (one that lacks it has no statistics for it);
        // not the stored columns the views derive under the same names (left out below).
        let derived = table.derived_names();
        for field in merged.fields() {
            let mut types = schemas
                .iter()
                .filter_map(|(_, s)| s.field_with_name(field.name()).ok())
                .map(|f| f.data_type());
            let first = types.next();
            if types.any(|t| Some(t) != first) && !derived.contains(&field.name().as_str()) {
                mixed.push(field.name().clone());
            }
        }
        register_files(ctx, location, store, table.name, &files, Some(merged))
            .await
            .map_err(|e| err(format!("cannot read {}/: {}", table.name, cause(&e))))?;
    } else if let Err(e) = register_files(ctx, location, store, table.name, &files, None).await {
        let what = relative(base, &files[0].location);
        return Err(err(format!("cannot read {what}: {}", cause(&e))));
    }
    if let Some((file, column)) = duplicated_column(ctx, &files) {
        return Err(err(format!(
            "{}: column {column} is stored twice (the reader would take the first, silently)",
            relative(base, &file)
        )));
    }
    let mut schema = ctx.table_provider(table.name).await?.schema();
    // Columns of other types than the contract's, read as its types (`types`).
    let adapted = types::adapt(table, &schema);
    let mut converted: Vec<(String, types::Conversion)> =
        adapted.as_ref().map_or(Vec::new(), |a| {
            a.converted
                .iter()
                .map(|(c, k)| (c.to_string(), *k))
                .collect()
        });
    for column in mixed {
        if !converted.iter().any(|(c, _)| *c == column) {
            converted.push((column, types::Conversion::Parts));
        }
    }
    let mut declared = adapted
        .map(|a| a.schema)
        .or_else(|| (!converted.is_empty()).then(|| schema.clone()));
    let missing: Vec<_> = table
        .columns
        .iter()
        .filter(|c| c.fill && schema.field_with_name(c.name).is_err())
        .map(|c| Field::new(c.name, c.kind.data_type(), true))
        .collect();
    if !missing.is_empty() {
        // Columns of later migrations read as NULL: declare them in the table schema and let
        // the Parquet reader fill what the files lack.
        let base = declared.as_deref().unwrap_or(&schema);
        let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.extend(missing);
        declared = Some(Arc::new(Schema::new_with_metadata(
            fields,
            base.metadata().clone(),
        )));
    }
    let derived = table.derived_names();
    if schema
        .fields()
        .iter()
        .any(|f| derived.contains(&f.name().as_str()))
    {
        // Read without the columns the views derive under the same names.
        let base = declared.as_deref().unwrap_or(&schema);
        let fields: Vec<Field> = base
            .fields()
            .iter()
            .filter(|f| !derived.contains(&f.name().as_str()))
            .map(|f| f.as_ref().clone())
            .collect();
        declared = Some(Arc::new(Schema::new_with_metadata(
            fields,
            base.metadata().clone(),
        )));
    }
    if let Some(declared) = declared {
        let name = if converted.is_empty() {
            table.name.to_string()
        } else {
            ctx.deregister_table(table.name)?;
            types::stored_name(table.name)
        };
        register_files(ctx, location, store, &name, &files, Some(declared)).await?;
        if !converted.is_empty() {
            let view = types::view(ctx, table, &name, &converted, zone).await?;
            ctx.register_table(table.name, view)?;
        }
        schema = ctx.table_provider(table.name).await?.schema();
    }
    validate(table, &schema)?;
    Ok(TableInfo {
        name: table.name,
        source,
        schema,
        reader_only: converted.into_iter().map(|(c, _)| c).collect(),
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
