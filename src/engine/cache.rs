//! The cache of derived tables: `occurrence_list` (the one view every list page, detail and
//! export reads, and the expensive one — detection aggregates, best prediction, best
//! identification, cover image of every occurrence), the identifications and a detail's
//! related rows (images, detections with their captures, predictions, classifications)
//! sorted by occurrence, the taxon views the default filters read, and the facts the other endpoints
//! aggregate per project (`occurrence_facts`, `capture_hours`, `detection_hours`:
//! queries/11_facts.sql), computed once per snapshot version and stored as Parquet, so that
//! later requests read them instead of recomputing them.
//!
//! The cache is keyed by a fingerprint of everything the view's rows depend on: every snapshot
//! file's location, size, modification time and e-tag, the text of `queries/`, the time zone
//! (times of day are local) and the occlens version and source (see build.rs). A changed snapshot or occlens is a new
//! key, never a stale answer. The cache comes in three parts (`Part`: lists, details, facts),
//! each an entry of its own, built the first time a command needs it; each entry is a
//! directory written under a temporary name and renamed into place when complete; any of them
//! is safe to delete at any time.

use crate::engine::catalog::VIEW_FILES;
use crate::engine::even_parquet::EvenWriter;
use crate::error::{Error, Result};
use crate::snapshot::Snapshot;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

/// A cached view: its name, the order its rows are written in (a page's project filter then
/// reads only that project's pages, and id lookups prune to pages), and `Some(column)` when
/// the view is written in ranges of that (occurrence) id column, each range computed, sorted
/// and written on its own, so memory is bounded by the range, not by the snapshot (the
/// ranges' filter reaches the detection and classification scans).
pub type CachedView = (&'static str, &'static str, Option<&'static str>);

/// The cache comes in parts, each an entry of its own built the first time a command needs
/// it: a first list request waits for the list part only, not for a detail's related rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// What every list page and detail reads: `occurrence_list`, the identifications and
    /// the taxon views the default filters read.
    Lists,
    /// A detail's related rows sorted by occurrence. Without them a detail reads the
    /// snapshot's tables by occurrence (the same rows; slower on large row groups).
    Details,
    /// The per-project facts the other endpoints aggregate (queries/11_facts.sql).
    Facts,
}

impl Part {
    pub const ALL: [Part; 3] = [Part::Lists, Part::Details, Part::Facts];

    pub fn name(self) -> &'static str {
        match self {
            Part::Lists => "lists",
            Part::Details => "details",
            Part::Facts => "facts",
        }
    }

    pub fn views(self) -> &'static [CachedView] {
        match self {
            Part::Lists => &[
                ("taxon_ancestry", "taxon_id, ancestor_id", None),
                ("default_filter_taxa", "project_id, taxon_id", None),
                ("taxon_parent", "taxon_id, position", None),
                ("occurrence_list", "project_id, id", Some("id")),
                // Every identification with its position: a page's or detail's lookup by
                // occurrence id reads a few small pages, whatever the layout of
                // main_identification.
                (
                    "occurrence_identifications",
                    "occurrence_id, position",
                    None,
                ),
            ],
            // A detail's related rows, each read by occurrence id from a few small pages.
            Part::Details => &[
                (
                    "detail_images",
                    "occurrence_id, position",
                    Some("occurrence_id"),
                ),
                (
                    "detail_detections",
                    "occurrence_id, position",
                    Some("occurrence_id"),
                ),
                (
                    "prediction_candidates",
                    "occurrence_id, position",
                    Some("occurrence_id"),
                ),
                (
                    "detection_classifications",
                    "occurrence_id, detection_id, position",
                    Some("occurrence_id"),
                ),
            ],
            Part::Facts => &[
                ("occurrence_facts", "project_id, id", Some("id")),
                (
                    "capture_hours",
                    "project_id, deployment_id, day, hour",
                    None,
                ),
                (
                    "detection_hours",
                    "project_id, passes_defaults, day, hour",
                    None,
                ),
            ],
        }
    }

    /// The parts a request on `url` (an API path or URL) reads: the occurrence endpoints read
    /// the list part, the others (species, summary, charts, stats, …) the facts too.
    pub fn for_url(url: &str) -> &'static [Part] {
        let path = url.split(['?', '#']).next().unwrap_or("");
        if path.contains("api/v2/occurrences") {
            &[Part::Lists]
        } else {
            &[Part::Lists, Part::Facts]
        }
    }
}

/// Occurrences per range when building: SF10 (10M occurrences) in one range peaked at 8.6 GB,
/// in ranges of 2M at 2.0 GB (and took 45 s instead of 69 s).
const RANGE_ROWS: i64 = 2_000_000;

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
    /// Read it, or build it when missing; failing to write it is an error (`occlens cache
    /// build`), where `Auto` warns and answers from the snapshot.
    Build,
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub mode: Mode,
    /// Cache root; default `$OCCLENS_CACHE_DIR`, else `$XDG_CACHE_HOME/occlens`, else
    /// `$HOME/.cache/occlens`.
    pub dir: Option<PathBuf>,
    /// Occurrences per range when building (default 2,000,000; tests use small ranges).
    pub range_rows: Option<i64>,
    /// What to hold in memory (`occlens serve`: a long-running process answering many
    /// requests; see `resident`), and at most how many bytes of it.
    pub hold: crate::engine::resident::Hold,
    pub hold_max: u64,
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
    h.update(format!(
        "occlens {} {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("OCCLENS_SOURCE_HASH")
    ));
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

/// Where `part` of the cache of `snapshot` lives, or None when it is not cached (the built-in
/// demo, whose in-memory files change time on every run, or no cache directory). Each part is
/// an entry of its own, named by the fingerprint and the part.
pub fn directory(
    settings: &Settings,
    snapshot: &Snapshot,
    tz: chrono_tz::Tz,
    part: Part,
) -> Option<PathBuf> {
    if settings.mode == Mode::Off || snapshot.base.scheme() == "memory" {
        return None;
    }
    let key = Sha256::digest(format!("{} {}", fingerprint(snapshot, tz), part.name()));
    let name: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
    Some(settings.root()?.join(name))
}

/// The marker occlens writes last into each entry: the entry's files with their sizes and
/// SHA-256. Only directories holding it are ever read or removed as cache entries.
pub const MARKER: &str = "_occlens_cache.json";

/// What a cache entry directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Absent,
    Ready(PathBuf),
    /// The entry exists but does not match its marker (the reason).
    Damaged(String),
}

/// Inspect the entry `dir` of `part`: its marker and every file's size (cheap, on every open);
/// with `checksums`, every file's SHA-256 too (`occlens cache status --verify`, `occlens check`).
pub fn inspect(dir: &Path, part: Part, checksums: bool) -> Entry {
    if !dir.exists() {
        return Entry::Absent;
    }
    let marker = match std::fs::read(dir.join(MARKER)) {
        Ok(m) => m,
        Err(_) => return Entry::Damaged(format!("no {MARKER}")),
    };
    let marker: serde_json::Value = match serde_json::from_slice(&marker) {
        Ok(m) => m,
        Err(e) => return Entry::Damaged(format!("{MARKER}: {e}")),
    };
    if marker["part"].as_str() != Some(part.name()) {
        return Entry::Damaged(format!("{MARKER} is not that of the {} part", part.name()));
    }
    for (view, _, _) in part.views() {
        let name = format!("{view}.parquet");
        let Some(expected) = marker["files"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name.as_str()))
        else {
            return Entry::Damaged(format!("{MARKER} does not list {name}"));
        };
        let path = dir.join(&name);
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) => return Entry::Damaged(format!("{name}: {e}")),
        };
        if Some(size) != expected["bytes"].as_u64() {
            return Entry::Damaged(format!(
                "{name} is {size} bytes, {MARKER} says {}",
                expected["bytes"]
            ));
        }
        if checksums {
            match sha256(&path) {
                Ok(sum) if Some(sum.as_str()) == expected["sha256"].as_str() => {}
                Ok(_) => return Entry::Damaged(format!("{name}: checksum differs from {MARKER}")),
                Err(e) => return Entry::Damaged(format!("{name}: {e}")),
            }
        }
    }
    Entry::Ready(dir.to_path_buf())
}

/// `dir` if it holds a complete, undamaged `part` (sizes checked against its marker).
pub fn present(dir: &Path, part: Part) -> Option<PathBuf> {
    match inspect(dir, part, false) {
        Entry::Ready(d) => Some(d),
        _ => None,
    }
}

fn sha256(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

/// Whether `dir` is a cache entry occlens wrote: named by a fingerprint (24 hex digits) and
/// holding the marker (or, from before markers, nothing but cached views' files).
pub fn is_entry(dir: &Path) -> bool {
    let named = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .is_some_and(|n| {
            n.len() == 24
                && n.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
    if !named || !dir.is_dir() {
        return false;
    }
    // Only the marker and the cached views' files: a user's file put inside makes the
    // directory not occlens's to remove.
    let mut known: Vec<String> = views().iter().map(|v| format!("{v}.parquet")).collect();
    known.push(MARKER.to_string());
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .all(|e| known.contains(&e.file_name().to_string_lossy().to_string()))
    })
}

/// Remove the cache entry `dir` if occlens wrote it; anything else is left alone.
pub fn remove_entry(dir: &Path) -> bool {
    is_entry(dir) && std::fs::remove_dir_all(dir).is_ok()
}

/// Remove every cache entry under `root` and the leftovers of killed cache builds; nothing
/// else in `root` is touched. Returns what was removed and how many other entries were left.
pub fn clear(root: &Path) -> std::io::Result<(Vec<PathBuf>, usize)> {
    let mut removed = crate::staging::sweep(root);
    let mut others = 0;
    for entry in std::fs::read_dir(root)?.flatten() {
        let path = entry.path();
        if remove_entry(&path) {
            removed.push(path);
        } else if !removed.contains(&path) {
            others += 1;
        }
    }
    Ok((removed, others))
}

/// The names of the cached views, of every part.
pub fn views() -> Vec<&'static str> {
    Part::ALL
        .iter()
        .flat_map(|p| p.views().iter().map(|(v, _, _)| *v))
        .collect()
}

/// Register the cached views of `part`, stored in `dir`, in `ctx` as tables (their statements
/// are then skipped). The files' footers are read together (each registration reads its
/// file's schema).
pub async fn register(ctx: &SessionContext, dir: &Path, part: Part) -> Result<()> {
    let registrations = part.views().iter().map(|(view, _, _)| async move {
        let url = file(dir, view).to_string_lossy().to_string();
        ctx.register_parquet(*view, &url, ParquetReadOptions::default())
            .await
            .map_err(|e| Error::Query(format!("cache {url}: {}", Error::from(e))))
    });
    futures::future::try_join_all(registrations).await?;
    Ok(())
}

/// Compute the cached views of `part` with `ctx` (whose views read the snapshot) and write them
/// to `dir`: first into a sibling temporary directory, renamed into place when complete.
/// Another process finishing first wins; its (identical) result is kept.
pub async fn build(
    ctx: &SessionContext,
    dir: &Path,
    part: Part,
    range_rows: Option<i64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PathBuf> {
    let range_rows = range_rows.unwrap_or(RANGE_ROWS).max(1);
    let io = |path: &Path, e: std::io::Error| Error::io(path, e);
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    // Removed when dropped (an error below) and on SIGINT/SIGTERM.
    let tmp = crate::staging::Temp::sibling_of(dir, "cache");
    std::fs::create_dir_all(tmp.path()).map_err(|e| io(tmp.path(), e))?;
    // The ranges of occurrence ids, computed once for every ranged view of the part.
    let ranges = if part.views().iter().any(|(_, _, ranged)| ranged.is_some()) {
        ranges(ctx, range_rows).await?
    } else {
        Vec::new()
    };
    // Two lanes at once: the ranged (big) views one after another, with the progress, and the
    // small ones beside them on a task of their own (a big view's Parquet encoding keeps one
    // core busy; the small views use the other).
    let (big, small): (Vec<CachedView>, Vec<CachedView>) = part
        .views()
        .iter()
        .copied()
        .partition(|(_, _, ranged)| ranged.is_some());
    let small_lane = {
        let (ctx, dir) = (ctx.clone(), tmp.path().to_path_buf());
        tokio::spawn(async move { write_all(&ctx, &dir, &small, &[], &|_| {}).await })
    };
    let big = write_all(ctx, tmp.path(), &big, &ranges, progress).await;
    // Awaited even when the big lane failed: nothing writes into the directory once it is gone.
    let small = small_lane
        .await
        .map_err(|e| Error::Internal(format!("building the cache: {e}")));
    let mut files = big?;
    files.extend(small??);
    files.sort_by_key(|(view, _)| part.views().iter().position(|(v, _, _)| v == view));
    let files: Vec<serde_json::Value> = files.into_iter().map(|(_, f)| f).collect();
    let marker = serde_json::json!({
        "format": "occlens-cache/2",
        "part": part.name(),
        "occlens": env!("CARGO_PKG_VERSION"),
        "files": files,
    });
    let marker_path = tmp.path().join(MARKER);
    std::fs::write(&marker_path, marker.to_string()).map_err(|e| io(&marker_path, e))?;
    // A damaged entry in the way (the caller decided to rebuild it) goes first; nothing that
    // is not an occlens cache entry is ever replaced.
    if dir.exists() && present(dir, part).is_none() {
        remove_entry(dir);
    }
    match std::fs::rename(tmp.path(), dir) {
        Ok(()) => tmp.keep(),
        // Another process finished first: its (identical) result is kept.
        Err(e) => {
            if present(dir, part).is_none() {
                return Err(io(dir, e));
            }
        }
    }
    Ok(dir.to_path_buf())
}

/// The `[lo, hi)` ranges of `main_occurrence.id` holding about `per` occurrences each.
async fn ranges(ctx: &SessionContext, per: i64) -> Result<Vec<(i64, i64)>> {
    let batches = ctx
        .sql(
            "SELECT min(id) AS lo, max(id) AS hi, count(*) AS n, count(id) AS ids, \
             count(DISTINCT id) AS distinct_ids FROM main_occurrence",
        )
        .await?
        .collect()
        .await?;
    let row = crate::engine::rows::to_rows(&batches)?;
    let get = |k: &str| row.first().and_then(|r| r.get(k)).and_then(|v| v.as_i64());
    // This scan reads every occurrence id anyway: a broken key would make pages whose count
    // disagrees with their rows.
    let (n, ids, distinct) = (get("n"), get("ids"), get("distinct_ids"));
    if n != ids {
        return Err(Error::Snapshot {
            location: "main_occurrence".into(),
            message: format!(
                "{} rows have a NULL id (the contract says NOT NULL); `occlens check` reports every broken rule",
                n.unwrap_or(0) - ids.unwrap_or(0)
            ),
        });
    }
    if ids != distinct {
        return Err(Error::Snapshot {
            location: "main_occurrence".into(),
            message: format!(
                "{} rows repeat an id of another row (ids must be unique); `occlens check` reports every broken rule",
                ids.unwrap_or(0) - distinct.unwrap_or(0)
            ),
        });
    }
    Ok(split(get("lo"), get("hi"), get("n").unwrap_or(0), per))
}

/// Ranges covering every i64, cut between `lo` and `hi` (ids taken as evenly spread) into
/// parts of about `per` of the `n` ids; the first and last are open-ended.
fn split(lo: Option<i64>, hi: Option<i64>, n: i64, per: i64) -> Vec<(i64, i64)> {
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return vec![(i64::MIN, i64::MAX)];
    };
    // In i128: ids at the ends of i64 (±2^63) must neither overflow nor wrap.
    let (lo, hi, n, per) = (lo as i128, hi as i128, n as i128, per.max(1) as i128);
    let parts = ((n + per - 1) / per).clamp(1, (hi - lo + 1).max(1));
    let step = (hi - lo) / parts + 1;
    let clamp = |v: i128| v.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let mut out: Vec<(i64, i64)> = (0..parts)
        .map(|k| (clamp(lo + k * step), clamp(lo + (k + 1) * step)))
        .collect();
    out.first_mut().expect("one range").0 = i64::MIN;
    out.last_mut().expect("one range").1 = i64::MAX;
    out
}

/// Write `views` into `dir` one after another (`ranges`: those of the ranged views); each
/// file's marker entry (name, bytes, SHA-256).
async fn write_all(
    ctx: &SessionContext,
    dir: &Path,
    views: &[CachedView],
    ranges: &[(i64, i64)],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<(&'static str, serde_json::Value)>> {
    let mut files = Vec::new();
    for (view, order, ranged) in views {
        let path = file(dir, view);
        let started = std::time::Instant::now();
        write(ctx, view, order, *ranged, ranges, &path, progress).await?;
        let bytes = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        let sum = sha256(&path).map_err(|e| Error::io(&path, e))?;
        if std::env::var_os("OCCLENS_TRACE").is_some() {
            eprintln!(
                "occlens: {:>7.1} ms  (cache) {view}: {bytes} bytes",
                started.elapsed().as_secs_f64() * 1e3
            );
        }
        let name = format!("{view}.parquet");
        files.push((
            *view,
            serde_json::json!({"name": name, "bytes": bytes, "sha256": sum}),
        ));
    }
    Ok(files)
}

async fn write(
    ctx: &SessionContext,
    view: &str,
    order: &str,
    ranged: Option<&str>,
    ranges: &[(i64, i64)],
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let statements: Vec<String> = match ranged {
        None => vec![format!("SELECT * FROM {view} ORDER BY {order}")],
        Some(col) => ranges
            .iter()
            .map(|&(lo, hi)| {
                // The first and last ranges are open-ended: an id of ±2^63 is kept too.
                let mut cond = vec!["TRUE".to_string()];
                if lo != i64::MIN {
                    cond.push(format!("{col} >= {lo}"));
                }
                if hi != i64::MAX {
                    cond.push(format!("{col} < {hi}"));
                }
                format!(
                    "SELECT * FROM {view} WHERE {} ORDER BY {order}",
                    cond.join(" AND ")
                )
            })
            .collect(),
    };
    // Small row groups and pages: a page's id lookups and a project's filter skip the rest.
    let props = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(65_536))
        .set_data_page_row_count_limit(4_096)
        .set_write_batch_size(1_024)
        .set_statistics_enabled(EnabledStatistics::Page)
        // No dictionaries: most columns are near-unique per row (ids, times, scores, paths),
        // so each row group's dictionary page fills its 1 MB before falling back, and every
        // id lookup would read all of them whole before its one page of values.
        .set_dictionary_enabled(false)
        .build();
    let parquet = |e: datafusion::parquet::errors::ParquetError| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    // Batches of one size: the same file whatever computed the rows (here, or a cluster).
    let mut writer: Option<EvenWriter<File>> = None;
    let mut rows = 0u64;
    for sql in statements {
        let df = ctx.sql(&sql).await?;
        if writer.is_none() {
            let file = File::create(path).map_err(|e| Error::io(path, e))?;
            let schema = df.schema().inner().clone();
            writer = Some(EvenWriter::try_new(file, schema, props.clone()).map_err(parquet)?);
        }
        let w = writer.as_mut().expect("created above");
        let mut stream = df.execute_stream().await?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            w.write(&batch).map_err(parquet)?;
            progress(rows);
        }
        // Each range starts its own row groups (their statistics stay within the range).
        w.flush().map_err(parquet)?;
    }
    if let Some(w) = writer {
        w.into_inner().map_err(parquet)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn ranges_cover_every_id_once() {
        assert_eq!(split(None, None, 0, 10), [(i64::MIN, i64::MAX)]);
        assert_eq!(split(Some(5), Some(5), 1, 10), [(i64::MIN, i64::MAX)]);
        let r = split(Some(1), Some(100), 100, 30);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].0, i64::MIN);
        assert_eq!(r[3].1, i64::MAX);
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
        // More parts than ids: one id per range at most.
        assert_eq!(split(Some(1), Some(3), 3, 1).len(), 3);
        // Ids at the ends of i64: no overflow, every id covered.
        let r = split(Some(i64::MIN), Some(i64::MAX), 3, 1);
        assert_eq!((r[0].0, r[r.len() - 1].1), (i64::MIN, i64::MAX));
        for w in r.windows(2) {
            assert_eq!(w[0].1, w[1].0);
        }
    }
}
