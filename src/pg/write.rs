//! Writing a snapshot: Parquet part files of each table in a local staging directory (zstd,
//! statistics and page indexes), the manifest last, then the whole directory moved into place
//! (local) or uploaded under a temporary prefix and copied to the final names with the
//! manifest last (object stores). A reader never sees a half snapshot under the output name.

use crate::error::{Error, Result};
use crate::snapshot::location::store_for;
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

fn io(path: &Path, e: impl Into<crate::error::Source>) -> Error {
    Error::io(path, std::io::Error::other(e))
}

/// One written Parquet file.
pub struct TablesWritten {
    /// Relative to the snapshot root, e.g. `main_classification/part-00001.parquet`.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A table's part files: a new part every `rows_per_file` rows; a table that fits in one part
/// is written as `<table>.parquet`.
pub struct PartWriter {
    dir: PathBuf,
    table: String,
    schema: Arc<Schema>,
    rows_per_file: u64,
    current: Option<(ArrowWriter<File>, u64)>,
    parts: Vec<(PathBuf, u64)>,
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_data_page_row_count_limit(crate::snapshot::PAGE_ROWS)
        .build()
}

impl PartWriter {
    pub fn new(dir: &Path, table: &str, schema: Arc<Schema>, rows_per_file: u64) -> PartWriter {
        PartWriter {
            dir: dir.to_path_buf(),
            table: table.to_string(),
            schema,
            rows_per_file: rows_per_file.max(1),
            current: None,
            parts: Vec::new(),
        }
    }

    fn part_path(&self, n: usize) -> PathBuf {
        self.dir
            .join(&self.table)
            .join(format!("part-{n:05}.parquet"))
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some((writer, rows)) = self.current.take() {
            let path = self.part_path(self.parts.len());
            writer.close().map_err(|e| io(&path, e))?;
            self.parts.push((path, rows));
        }
        Ok(())
    }

    /// Append `batch`, starting a new part whenever the current one holds `rows_per_file` rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            if self
                .current
                .as_ref()
                .is_some_and(|(_, rows)| *rows >= self.rows_per_file)
            {
                self.close_current()?;
            }
            if self.current.is_none() {
                let path = self.part_path(self.parts.len());
                std::fs::create_dir_all(path.parent().expect("a table directory"))
                    .map_err(|e| io(&path, e))?;
                let file = File::create(&path).map_err(|e| io(&path, e))?;
                let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(properties()))
                    .map_err(|e| io(&path, e))?;
                self.current = Some((writer, 0));
            }
            let (writer, rows) = self.current.as_mut().expect("an open part");
            let take = ((self.rows_per_file - *rows) as usize).min(batch.num_rows() - offset);
            writer
                .write(&batch.slice(offset, take))
                .map_err(|e| Error::export(e.to_string()).because(e))?;
            *rows += take as u64;
            offset += take;
        }
        Ok(())
    }

    /// Close the last part; one part (or none: an empty file) becomes `<table>.parquet`.
    pub fn finish(mut self) -> Result<Vec<TablesWritten>> {
        self.close_current()?;
        let single = self.dir.join(format!("{}.parquet", self.table));
        let files: Vec<(PathBuf, u64)> = match self.parts.len() {
            0 => {
                let file = File::create(&single).map_err(|e| io(&single, e))?;
                let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(properties()))
                    .map_err(|e| io(&single, e))?;
                writer.close().map_err(|e| io(&single, e))?;
                vec![(single, 0)]
            }
            1 => {
                let (part, rows) = self.parts.remove(0);
                std::fs::rename(&part, &single).map_err(|e| io(&single, e))?;
                let _ = std::fs::remove_dir(self.dir.join(&self.table));
                vec![(single, rows)]
            }
            _ => self.parts,
        };
        files
            .into_iter()
            .map(|(path, rows)| TablesWritten::of(&self.dir, &path, rows))
            .collect()
    }
}

impl TablesWritten {
    /// Describe the file `path` under the snapshot root `root` (its size and SHA-256).
    pub fn of(root: &Path, path: &Path, rows: u64) -> Result<TablesWritten> {
        let mut hasher = Sha256::new();
        let mut file = File::open(path).map_err(|e| io(path, e))?;
        let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| io(path, e))?;
        Ok(TablesWritten {
            path: path
                .strip_prefix(root)
                .map_err(|_| io(path, "outside the snapshot directory"))?
                .to_string_lossy()
                .replace('\\', "/"),
            rows,
            bytes,
            sha256: format!("{:x}", hasher.finalize()),
        })
    }
}

/// The manifest entries of the Parquet files occlens wrote under `root` (one per table:
/// `<table>.parquet`, or the part files of `<table>/`), read back from their footers.
pub fn describe_tables(root: &Path) -> Result<Vec<Value>> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut tables: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for path in files_under(root) {
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let table = match parts.as_slice() {
            [file] => file.strip_suffix(".parquet"),
            [dir, file] if file.ends_with(".parquet") => Some(dir.as_str()),
            _ => None,
        };
        if let Some(table) = table {
            tables.entry(table.to_string()).or_default().push(path);
        }
    }
    let mut entries = Vec::new();
    for (table, paths) in tables {
        let mut schema = None;
        let mut written = Vec::new();
        for path in paths {
            let file = File::open(&path).map_err(|e| io(&path, e))?;
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| io(&path, e))?;
            let rows = reader.metadata().file_metadata().num_rows().max(0) as u64;
            schema.get_or_insert_with(|| reader.schema().clone());
            written.push(TablesWritten::of(root, &path, rows)?);
        }
        if let Some(schema) = schema {
            entries.push(table_entry(&table, &schema, &[], &written));
        }
    }
    Ok(entries)
}

/// Where the snapshot goes.
pub enum Output {
    Local(PathBuf),
    Store {
        url: Url,
        store: Arc<dyn ObjectStore>,
        prefix: StorePath,
    },
}

pub const MANIFEST: &str = "_snapshot.json";

impl Output {
    pub fn parse(spec: &str) -> Result<Output> {
        let usage = |m: String| Error::Usage(format!("--out {spec}: {m}"));
        if spec.trim().is_empty() {
            return Err(Error::Usage(
                "--out: empty (expected a directory or URL)".into(),
            ));
        }
        match Url::parse(spec) {
            Ok(url) if url.scheme().len() > 1 && url.scheme() != "file" => {
                let store = store_for(&url).map_err(usage)?;
                let prefix =
                    StorePath::from_url_path(url.path()).map_err(|e| usage(e.to_string()))?;
                Ok(Output::Store { url, store, prefix })
            }
            Ok(url) => url
                .to_file_path()
                .map(Output::Local)
                .map_err(|_| usage("not a local path".into())),
            Err(_) => {
                let path = PathBuf::from(spec);
                if path.exists() && !path.is_dir() {
                    return Err(usage("exists and is not a directory".into()));
                }
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
                if let Some(parent) = parent {
                    if !parent.is_dir() {
                        return Err(usage(format!(
                            "directory {} does not exist",
                            parent.display()
                        )));
                    }
                }
                Ok(Output::Local(path))
            }
        }
    }

    pub fn display(&self) -> String {
        match self {
            Output::Local(p) => p.display().to_string(),
            Output::Store { url, .. } => url.to_string(),
        }
    }

    /// Refuse, before any work, an output that holds something other than an occlens
    /// snapshot: a non-empty local directory without `_snapshot.json`, or an object-store
    /// prefix holding objects but no `_snapshot.json`.
    pub async fn check(&self) -> Result<()> {
        match self {
            Output::Local(p) => crate::staging::replaceable(p, SNAPSHOT_KIND, &is_snapshot),
            Output::Store { url, store, prefix } => {
                use futures::TryStreamExt;
                let cannot_list = |e: object_store::Error| {
                    Error::object_store(format!("--out {url}: cannot list it: {e}")).because(e)
                };
                let objects: Vec<String> = store
                    .list(Some(prefix))
                    .map_ok(|o| {
                        o.location
                            .prefix_match(prefix)
                            .map(|parts| {
                                parts
                                    .map(|p| p.as_ref().to_string())
                                    .collect::<Vec<_>>()
                                    .join("/")
                            })
                            .unwrap_or_default()
                    })
                    .try_collect()
                    .await
                    .map_err(cannot_list)?;
                // A folder marker alone (an empty name) is an empty prefix; so is one holding
                // only what an upload of ours left when it stopped before its first manifest
                // (Ctrl-C, --time-limit): its `.occlens-tmp-…` objects.
                if objects
                    .iter()
                    .all(|rel| rel.is_empty() || rel.starts_with(".occlens-tmp-"))
                {
                    return Ok(());
                }
                let manifest = match store.get(&prefix.clone().join(MANIFEST)).await {
                    Ok(got) => got.bytes().await.ok(),
                    Err(_) => None,
                };
                let manifest: Value = manifest
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null);
                // The same rule as a local directory's (`is_snapshot`): a manifest occlens
                // wrote, and every other object one it lists (or an upload of ours in progress).
                // Also ours: a folder marker (an empty name, left by consoles and s3a), and a
                // table's part file of the kind occlens writes (`<table>/part-N.parquet`,
                // copied before the new manifest by an upload that then stopped), so that a
                // snapshot whose upload was interrupted can be written again.
                let listed: std::collections::HashSet<&str> = listed_files(&manifest).collect();
                let tables: std::collections::HashSet<&str> =
                    listed.iter().filter_map(|f| f.split('/').next()).collect();
                let part_of_ours = |rel: &str| {
                    rel.split_once('/').is_some_and(|(table, part)| {
                        tables.contains(table)
                            && part
                                .strip_prefix("part-")
                                .and_then(|p| p.strip_suffix(".parquet"))
                                .is_some_and(|n| {
                                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                                })
                    })
                };
                let ours = is_occlens_manifest(&manifest)
                    && objects.iter().all(|rel| {
                        rel.is_empty()
                            || rel == MANIFEST
                            || rel.starts_with(".occlens-tmp-")
                            || listed.contains(rel.as_str())
                            || part_of_ours(rel)
                    });
                if ours {
                    Ok(())
                } else {
                    Err(Error::Usage(format!(
                        "--out {url}: the prefix holds objects and is not {SNAPSHOT_KIND}; occlens writes only to an empty prefix or such a snapshot, and touched nothing"
                    )))
                }
            }
        }
    }

    /// A new, empty local staging directory (removed when dropped, and on SIGINT/SIGTERM).
    pub fn staging(&self) -> Result<crate::staging::Temp> {
        let dir = match self {
            Output::Local(p) => crate::staging::Temp::sibling_of(p, "snapshot"),
            Output::Store { .. } => crate::staging::Temp::in_temp_dir("snapshot"),
        };
        std::fs::create_dir_all(dir.path()).map_err(|e| io(dir.path(), e))?;
        Ok(dir)
    }

    /// Write the manifest into `staging` and move everything into place.
    pub async fn commit(&self, staging: crate::staging::Temp, manifest: &Value) -> Result<()> {
        let text = serde_json::to_string_pretty(manifest).expect("serialisable") + "\n";
        let manifest_path = staging.path().join(MANIFEST);
        std::fs::write(&manifest_path, text).map_err(|e| io(&manifest_path, e))?;
        match self {
            Output::Local(p) => {
                crate::staging::publish_dir(staging, p, SNAPSHOT_KIND, &is_snapshot)
            }
            Output::Store { url, store, prefix } => {
                self.check().await?;
                let result = upload(store.as_ref(), prefix, staging.path()).await;
                drop(staging);
                result.map_err(|e| {
                    Error::object_store(format!("upload to {url} failed: {e}")).because(e)
                })
            }
        }
    }
}

/// What `snapshot --out` and `generate --out` may replace.
pub const SNAPSHOT_KIND: &str =
    "an occlens snapshot (its _snapshot.json and only the files it lists)";

/// A local directory holding an occlens snapshot and nothing else: a manifest occlens wrote
/// (`"format": "occlens-snapshot/…"`), and every entry beside it a file or table folder the
/// manifest lists (a user's file put there makes the directory not occlens's to replace),
/// each listed file of the size the manifest records (a file rewritten since, or one a
/// hand-edited manifest lists, is not occlens's output).
pub fn is_snapshot(dir: &Path) -> bool {
    let Ok(text) = std::fs::read(dir.join(MANIFEST)) else {
        return false;
    };
    let Ok(manifest) = serde_json::from_slice::<Value>(&text) else {
        return false;
    };
    if !is_occlens_manifest(&manifest) {
        return false;
    }
    let as_recorded = listed_entries(&manifest).all(|f| {
        let (Some(path), Some(bytes)) = (f["path"].as_str(), f["bytes"].as_u64()) else {
            return false;
        };
        match std::fs::symlink_metadata(dir.join(path)) {
            Ok(m) => m.is_file() && m.len() == bytes,
            Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        }
    });
    if !as_recorded {
        return false;
    }
    let listed: std::collections::HashSet<String> = listed_files(&manifest)
        .filter_map(|p| p.split('/').next().map(String::from))
        .collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name().to_string_lossy().to_string();
        if name == MANIFEST {
            return true;
        }
        if !listed.contains(&name) {
            return false;
        }
        // A table folder holds only the part files the manifest lists.
        let path = e.path();
        !path.is_dir()
            || std::fs::read_dir(&path).is_ok_and(|parts| {
                parts.flatten().all(|p| {
                    let rel = format!("{name}/{}", p.file_name().to_string_lossy());
                    listed_files(&manifest).any(|f| f == rel.as_str())
                })
            })
    })
}

/// A manifest occlens wrote (`"format": "occlens-snapshot/…"`).
fn is_occlens_manifest(manifest: &Value) -> bool {
    manifest["format"]
        .as_str()
        .is_some_and(|f| f.starts_with("occlens-snapshot/"))
}

/// The file entries a manifest lists (`path`, `bytes`, `sha256`).
fn listed_entries(manifest: &Value) -> impl Iterator<Item = &Value> {
    manifest["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["files"].as_array().into_iter().flatten())
}

/// The files a manifest lists (paths relative to the snapshot).
fn listed_files(manifest: &Value) -> impl Iterator<Item = &str> {
    listed_entries(manifest).filter_map(|f| f["path"].as_str())
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Upload the data files under `prefix/.occlens-tmp-<n>/`, copy them to their names, write the
/// manifest last, then delete the temporary objects.
async fn upload(
    store: &dyn ObjectStore,
    prefix: &StorePath,
    staging: &Path,
) -> std::result::Result<(), String> {
    let tmp_name = format!(".occlens-tmp-{}", std::process::id());
    let key = |root: &StorePath, rel: &str| -> StorePath {
        rel.split('/').fold(root.clone(), |p, part| p.join(part))
    };
    let tmp_root = prefix.clone().join(tmp_name.as_str());
    let files = files_under(staging);
    let data: Vec<(String, PathBuf)> = files
        .iter()
        .map(|p| {
            (
                p.strip_prefix(staging)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/"),
                p.clone(),
            )
        })
        .filter(|(rel, _)| rel != MANIFEST)
        .collect();
    for (rel, path) in &data {
        crate::exports::target::upload(store, &key(&tmp_root, rel), path).await?;
    }
    for (rel, _) in &data {
        store
            .copy(&key(&tmp_root, rel), &key(prefix, rel))
            .await
            .map_err(|e| e.to_string())?;
    }
    let previous = previous_files(store, prefix).await;
    let manifest = std::fs::read(staging.join(MANIFEST)).map_err(|e| e.to_string())?;
    store
        .put(&prefix.clone().join(MANIFEST), PutPayload::from(manifest))
        .await
        .map_err(|e| e.to_string())?;
    for (rel, _) in &data {
        let _ = store.delete(&key(&tmp_root, rel)).await;
    }
    // Files of the snapshot this one replaced that it does not have (a table that shrank to
    // fewer parts): only names the previous manifest listed are removed.
    for rel in previous {
        if !data.iter().any(|(r, _)| *r == rel) {
            let _ = store.delete(&key(prefix, &rel)).await;
        }
    }
    Ok(())
}

/// The files listed by the manifest already at `prefix` (none when there is none).
async fn previous_files(store: &dyn ObjectStore, prefix: &StorePath) -> Vec<String> {
    let Ok(got) = store.get(&prefix.clone().join(MANIFEST)).await else {
        return Vec::new();
    };
    let Ok(bytes) = got.bytes().await else {
        return Vec::new();
    };
    let manifest: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    listed_files(&manifest)
        .filter(|p| !p.split('/').any(|part| part == ".." || part.is_empty()))
        .map(String::from)
        .collect()
}

/// The manifest's description of a table.
pub fn table_entry(
    name: &str,
    schema: &Schema,
    omitted: &[String],
    files: &[TablesWritten],
) -> Value {
    json!({
        "name": name,
        "rows": files.iter().map(|f| f.rows).sum::<u64>(),
        "bytes": files.iter().map(|f| f.bytes).sum::<u64>(),
        "files": files.iter().map(|f| json!({"path": f.path, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256})).collect::<Vec<_>>(),
        "columns": schema.fields().iter().map(|f| json!({
            "name": f.name(),
            "arrow_type": f.data_type().to_string(),
            "pg_type": f.metadata().get("pg_type"),
            "nullable": f.is_nullable(),
        })).collect::<Vec<_>>(),
        "omitted_columns": omitted,
    })
}
