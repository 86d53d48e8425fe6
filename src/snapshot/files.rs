//! What a table's files and folders hold, looked at before they are registered: the part
//! files of a table's folder, a table stored under a name occlens does not read, each file's
//! footer, and a column stored twice.

use super::{cause, relative};
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use object_store::{path::Path, ObjectMeta, ObjectStore, ObjectStoreExt};

/// The `.parquet` files directly inside the folder `dir`, in name order; an error naming one
/// found only in a subfolder (a Hive-partitioned table: `main_occurrence/project_id=1/…`).
pub(super) async fn list_parts(
    store: &dyn ObjectStore,
    dir: &Path,
) -> object_store::Result<std::result::Result<Vec<ObjectMeta>, String>> {
    let depth = dir.parts().count() + 1;
    // Names starting with `.` or `_` are skipped, as Spark, pyarrow and DuckDB skip them
    // (`_SUCCESS`, `.part-0.parquet.crc`); any other file must be a `.parquet` part.
    let hidden = |m: &ObjectMeta| {
        m.location
            .filename()
            .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
    };
    let (parts, nested): (Vec<ObjectMeta>, Vec<ObjectMeta>) = store
        .list(Some(dir))
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .filter(|m| !hidden(m))
        .partition(|m| m.location.parts().count() == depth);
    let folder = dir.filename().unwrap_or_default();
    if let Some(other) = parts
        .iter()
        .find(|m| m.location.extension() != Some("parquet"))
    {
        return Ok(Err(format!(
            "the folder {folder}/ holds {}, which is not a .parquet file (a table's part files are named *.parquet; names starting with . or _ are skipped)",
            relative(dir, &other.location)
        )));
    }
    let mut parts = parts;
    // Parquet files in subfolders, but for those under a hidden one (Spark's `_temporary/`).
    let nested: Vec<ObjectMeta> = nested
        .into_iter()
        .filter(|m| m.location.extension() == Some("parquet"))
        .filter(|m| {
            let folders = m.location.parts().skip(depth - 1);
            let folders: Vec<_> = folders.collect();
            let folders = &folders[..folders.len().saturating_sub(1)];
            !folders
                .iter()
                .any(|f| f.as_ref().starts_with('.') || f.as_ref().starts_with('_'))
        })
        .collect();
    if let Some(first) = nested.iter().map(|m| &m.location).min() {
        let why = if parts.is_empty() {
            "holds Parquet files only in subfolders"
        } else {
            // Reading the top-level parts alone answered from part of the table, silently.
            "holds Parquet files both directly inside it and in subfolders"
        };
        return Ok(Err(format!(
            "the folder {folder}/ {why} (e.g. {folder}/{}): a table's part files are read directly inside its folder (Hive-partitioned folders are not read)",
            relative(dir, first)
        )));
    }
    parts.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(Ok(parts))
}

/// The names in a snapshot's folder (files and folders), listed once, when a first table is
/// found absent, and shared by the others (None when the store cannot list).
#[derive(Default)]
pub(super) struct RootNames(tokio::sync::OnceCell<Option<Vec<String>>>);

impl RootNames {
    async fn get(&self, store: &dyn ObjectStore, base: &Path) -> Option<&[String]> {
        let names = self.0.get_or_init(|| async {
            let listing = store.list_with_delimiter(Some(base)).await.ok()?;
            let files = listing.objects.iter().filter_map(|m| m.location.filename());
            let folders = listing.common_prefixes.iter().filter_map(|p| p.filename());
            Some(files.chain(folders).map(str::to_string).collect())
        });
        names.await.as_deref()
    }
}

/// A file or folder in the snapshot's folder that holds `table` in a form occlens does not
/// read (`MAIN_X.parquet`, `main_x.pq`, `main_x.parquet.gz`, `main_x.csv`, `Main_X/`,
/// `main_x (1).parquet`, `main_x-0.parquet`): the table is there, not absent — an optional
/// table read as empty would change answers silently. Its own folder with no part files (or
/// hidden ones only) is an empty table.
pub(super) async fn misnamed(
    store: &dyn ObjectStore,
    base: &Path,
    table: &str,
    root: &RootNames,
) -> Option<String> {
    let names = root.get(store, base).await?;
    let mut odd: Vec<&str> = names
        .iter()
        .map(String::as_str)
        // The table's own folder, empty (or hidden files only), is an empty table.
        .filter(|n| !n.starts_with('.') && !n.starts_with('_') && *n != table)
        // The name up to its first character that cannot be in a table's name: `.` of an
        // extension, ` (1)` of a downloaded copy, `-0` of a part (`main_x_y` is another table).
        .filter(|n| {
            n.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .is_some_and(|s| s.eq_ignore_ascii_case(table))
        })
        .collect();
    odd.sort();
    let first = odd.first()?;
    Some(format!(
        "found {first}, which is not read as table {table}: a table is {table}.parquet or a folder {table}/ of .parquet part files, named in lower case"
    ))
}

/// The first file of `files` that stores a top-level column twice, and that column's name, as
/// their footers say (schema inference merges a file's fields by name, keeping one). Footers
/// are read from the session's metadata cache, where inference left them; one not there is
/// not read again.
pub(super) fn duplicated_column(
    ctx: &SessionContext,
    files: &[ObjectMeta],
) -> Option<(Path, String)> {
    use datafusion::datasource::physical_plan::parquet::metadata::CachedParquetMetaData;
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    files.iter().find_map(|m| {
        let entry = cache.get(&m.location).filter(|e| e.is_valid_for(m))?;
        let parquet = entry
            .file_metadata
            .as_any()
            .downcast_ref::<CachedParquetMetaData>()?;
        let schema = parquet.parquet_metadata().file_metadata().schema_descr();
        let mut seen = std::collections::HashSet::new();
        let twice = schema
            .root_schema()
            .get_fields()
            .iter()
            .map(|f| f.name())
            .find(|name| !seen.insert(*name))?;
        Some((m.location.clone(), twice.to_string()))
    })
}

/// Whether `file` ends as a Parquet file does: a 4-byte metadata length that fits in the file,
/// then `PAR1` (`PARE` when the footer is encrypted); else what is wrong with it.
pub(super) async fn check_footer(
    store: &dyn ObjectStore,
    file: &ObjectMeta,
) -> std::result::Result<(), String> {
    // The leading magic number, the metadata length and the trailing magic number.
    if file.size < 12 {
        return Err(format!("not a Parquet file ({} bytes)", file.size));
    }
    let tail = store
        .get_range(&file.location, file.size - 8..file.size)
        .await
        .map_err(|e| format!("cannot be read: {}", cause(&e)))?;
    if tail.len() != 8 || !matches!(&tail[4..], b"PAR1" | b"PARE") {
        return Err(
            "not a Parquet file (it does not end with the Parquet magic number PAR1)".into(),
        );
    }
    let metadata = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if metadata + 12 > file.size {
        return Err(format!(
            "corrupt Parquet footer (it declares {metadata} bytes of metadata in a file of {} bytes)",
            file.size
        ));
    }
    Ok(())
}
