//! The cache of derived tables: `occurrence_list` (the one view every list page, detail and
//! export reads, and the expensive one — detection aggregates, best prediction, best
//! identification, cover image of every occurrence) and the taxon views the default filters
//! read, computed once per snapshot version and stored as Parquet, so that later requests
//! read them instead of recomputing them.
//!
//! The cache is keyed by a fingerprint of everything the view's rows depend on: every snapshot
//! file's location, size, modification time and e-tag, the text of `queries/`, the time zone
//! (times of day are local) and the occlens version. A changed snapshot or occlens is a new
//! key, never a stale answer. Each key is a directory written under a temporary name and
//! renamed into place when complete; any of them is safe to delete at any time.

use crate::error::{Error, Result};
use crate::snapshot::Snapshot;
use crate::views::catalog::VIEW_FILES;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The views that are materialized, each with the order its rows are written in: a page's
/// project filter then reads only that project's row groups, and id lookups prune to pages.
pub const CACHED_VIEWS: &[(&str, &str)] = &[
    ("taxon_ancestry", "taxon_id, ancestor_id"),
    ("default_filter_taxa", "project_id, taxon_id"),
    ("occurrence_list", "project_id, id"),
];

/// The cached view that holds every column pages filter and order on.
pub const LIST_VIEW: &str = "occurrence_list";

fn file(dir: &Path, view: &str) -> PathBuf {
    dir.join(format!("{view}.parquet"))
}

/// When the cache is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Read the snapshot's cache when present; build it when a command that answers requests
    /// needs it (api, list, detail, verify).
    #[default]
    Auto,
    /// Neither read nor write: every view computed from the snapshot's tables.
    Off,
    /// Rebuild the cache now, then read it.
    Refresh,
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub mode: Mode,
    /// Cache root; default `$OCCLENS_CACHE_DIR`, else `$XDG_CACHE_HOME/occlens`, else
    /// `$HOME/.cache/occlens`.
    pub dir: Option<PathBuf>,
}

impl Settings {
    pub fn root(&self) -> Option<PathBuf> {
        if let Some(d) = &self.dir {
            return Some(d.clone());
        }
        let env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("OCCLENS_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("occlens")))
            .or_else(|| env("HOME").map(|d| d.join(".cache").join("occlens")))
    }
}

/// The fingerprint of `snapshot` as the views would compute it in `time_zone`.
pub fn fingerprint(snapshot: &Snapshot, time_zone: chrono_tz::Tz) -> String {
    let mut h = Sha256::new();
    h.update(format!("occlens {}\n", env!("CARGO_PKG_VERSION")));
    for (name, text) in VIEW_FILES {
        h.update(format!("{name} {}\n", text.len()));
        h.update(text.as_bytes());
    }
    h.update(format!("tz {}\nbase {}\n", time_zone.name(), snapshot.base));
    for t in &snapshot.tables {
        h.update(format!("table {} {}\n", t.name, t.files.len()));
        for f in &t.files {
            h.update(format!(
                "{} {} {} {}\n",
                f.location,
                f.size,
                f.last_modified.to_rfc3339(),
                f.e_tag.as_deref().unwrap_or("")
            ));
        }
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the cache of `snapshot` lives, or None when it is not cached (the built-in demo,
/// whose in-memory files change time on every run, or no cache directory).
pub fn directory(settings: &Settings, snapshot: &Snapshot, tz: chrono_tz::Tz) -> Option<PathBuf> {
    if settings.mode == Mode::Off || snapshot.base.scheme() == "memory" {
        return None;
    }
    Some(settings.root()?.join(fingerprint(snapshot, tz)))
}

/// `dir` if it holds a complete cache (it is renamed into place only when complete).
pub fn present(dir: &Path) -> Option<PathBuf> {
    CACHED_VIEWS
        .iter()
        .all(|(view, _)| file(dir, view).is_file())
        .then(|| dir.to_path_buf())
}

/// The names of the cached views.
pub fn views() -> Vec<&'static str> {
    CACHED_VIEWS.iter().map(|(v, _)| *v).collect()
}

/// Register the cached views of `dir` in `ctx` as tables (their statements are then skipped).
pub async fn register(ctx: &SessionContext, dir: &Path) -> Result<()> {
    for (view, _) in CACHED_VIEWS {
        let url = file(dir, view).to_string_lossy().to_string();
        ctx.register_parquet(*view, &url, ParquetReadOptions::default())
            .await
            .map_err(|e| Error::Query(format!("cache {url}: {}", Error::from(e))))?;
    }
    Ok(())
}

/// Compute the cached views with `ctx` (whose views read the snapshot) and write them to `dir`:
/// first into a sibling temporary directory, renamed into place when complete. Another
/// process finishing first wins; its (identical) result is kept.
pub async fn build(ctx: &SessionContext, dir: &Path, progress: &dyn Fn(u64)) -> Result<PathBuf> {
    let io = |path: &Path, e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source: e,
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = parent.join(format!(".{name}.building-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    for (view, order) in CACHED_VIEWS {
        if let Err(e) = write(ctx, view, order, &file(&tmp, view), progress).await {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    if let Err(e) = std::fs::rename(&tmp, dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        if present(dir).is_none() {
            return Err(io(dir, e));
        }
    }
    Ok(dir.to_path_buf())
}

async fn write(
    ctx: &SessionContext,
    view: &str,
    order: &str,
    path: &Path,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let df = ctx
        .sql(&format!("SELECT * FROM {view} ORDER BY {order}"))
        .await?;
    let schema = df.schema().inner().clone();
    let mut stream = df.execute_stream().await?;
    // Small row groups and pages: a page's id lookups and a project's filter skip the rest.
    let props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(65_536))
        .set_data_page_row_count_limit(4_096)
        .set_write_batch_size(1_024)
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let parquet = |e: datafusion::parquet::errors::ParquetError| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    let file = File::create(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet)?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet)?;
        progress(rows);
    }
    writer.close().map_err(parquet)?;
    Ok(())
}
