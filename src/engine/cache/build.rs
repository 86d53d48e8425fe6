//! Building a part of the cache: its views computed (the big ones in ranges of occurrence
//! ids) and written as Parquet into a temporary directory, renamed into place when complete.

use super::{file, present, remove_entry, CachedView, Part, MARKER};
use crate::engine::even_parquet::EvenWriter;
use crate::error::{Error, Result};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::metadata::KeyValue;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Rows (occurrences, detections, classifications) per range when building: SF10 (10M
/// occurrences) in one range peaked at 8.6 GB, in ranges of 2M occurrences at 2.0 GB (and took
/// 45 s instead of 69 s). 2M occurrences at SF1's proportions (about 11 rows each); fewer where
/// occurrences hold more detections ([`Density`]).
const RANGE_ROWS: i64 = 22_000_000;

/// Compute the cached views of `part` with `ctx` (whose views read the snapshot) and write them
/// to `dir`: first into a sibling temporary directory, renamed into place when complete.
/// Another process finishing first wins; its (identical) result is kept.
///
/// With `project`, the entry holds that project's rows of the [`PROJECT_SCOPED`] views.
///
/// [`PROJECT_SCOPED`]: super::PROJECT_SCOPED
pub async fn build(
    ctx: &SessionContext,
    dir: &Path,
    part: Part,
    project: Option<i64>,
    range_rows: Option<i64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PathBuf> {
    let range_rows = range_rows.unwrap_or(RANGE_ROWS).max(1);
    // On a cluster, one stage per statement: the views read the project default filters'
    // views (default_filter_taxa itself, the facts' passes_defaults), whose empty join sides
    // Ballista 55 never finishes when split into stages (`catalog::one_stage_session`).
    let ctx = &crate::engine::catalog::one_stage_session(ctx)?;
    let io = |path: &Path, e: std::io::Error| Error::io(path, e);
    let parent = dir.parent().unwrap_or(Path::new("."));
    crate::staging::unprotected_as("--cache-dir", dir)?;
    if parent.exists() && !parent.is_dir() {
        return Err(Error::Usage(format!(
            "cache directory {}: not a directory (--cache-dir, OCCLENS_CACHE_DIR or the default under XDG_CACHE_HOME or HOME: a directory for the cache, or a path to create one)",
            parent.display()
        )));
    }
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    // Removed when dropped (an error below) and on SIGINT/SIGTERM.
    let tmp = crate::staging::Temp::sibling_of(dir, "cache");
    std::fs::create_dir_all(tmp.path()).map_err(|e| io(tmp.path(), e))?;
    // The ranges of occurrence ids, computed once for every ranged view of the part.
    let ranges = if part.views().iter().any(|(_, _, ranged)| ranged.is_some()) {
        // The key the cached lists rely on (answers from them skip the check): a broken one
        // would make pages whose count disagrees with their rows.
        crate::engine::keys::check(ctx).await?;
        crate::engine::ranges::occurrence_ranges(ctx, range_rows, 1, "TRUE")
            .await?
            .cuts
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
        tokio::spawn(async move { write_all(&ctx, &dir, &small, project, &[], &|_| {}).await })
    };
    // Declared after `tmp`, so dropped before it: a cancelled build stops the small lane
    // before its directory is removed.
    let guard = AbortOnDrop(small_lane.abort_handle());
    let big = write_all(ctx, tmp.path(), &big, project, &ranges, progress).await;
    if big.is_err() {
        guard.0.abort();
    }
    // Awaited in every case: nothing writes into the directory once it is gone.
    let small = small_lane.await;
    drop(guard);
    let mut files = big?;
    let small = small.map_err(|e| {
        let why = e.to_string().replace('\n', " ");
        Error::Internal(format!(
            "building the {} part of the cache in {}: {why}",
            part.name(),
            dir.display()
        ))
    })?;
    files.extend(small?);
    files.sort_by_key(|(view, _)| part.views().iter().position(|(v, _, _)| v == view));
    let files: Vec<serde_json::Value> = files.into_iter().map(|(_, f)| f).collect();
    let marker = serde_json::json!({
        "format": "occlens-cache/2",
        "part": part.name(),
        "project": project,
        "occlens": env!("CARGO_PKG_VERSION"),
        "files": files,
    });
    let marker_path = tmp.path().join(MARKER);
    std::fs::write(&marker_path, marker.to_string()).map_err(|e| io(&marker_path, e))?;
    // A damaged entry in the way (the caller decided to rebuild it) goes first; nothing that
    // is not an occlens cache entry is ever replaced.
    if dir.exists() && present(dir, part, project).is_none() {
        remove_entry(dir);
    }
    // Still there: another process's complete entry (kept), or something occlens did not
    // write, which a rename could replace (an empty directory) and is left alone.
    if dir.symlink_metadata().is_ok() {
        if present(dir, part, project).is_some() {
            return Ok(dir.to_path_buf());
        }
        return Err(io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "in the way: not an occlens cache entry, left alone (remove it or choose another --cache-dir)",
            ),
        ));
    }
    match std::fs::rename(tmp.path(), dir) {
        Ok(()) => tmp.keep(),
        // Another process finished first: its (identical) result is kept.
        Err(e) => {
            if present(dir, part, project).is_none() {
                return Err(io(dir, e));
            }
        }
    }
    Ok(dir.to_path_buf())
}

/// A writer that hashes (SHA-256) and counts the bytes it passes on: the cache marker's sum of
/// a file, computed while the file is written (the Parquet writer never seeks, and buffers
/// before this) instead of reading the file again (SF1: 100 MB, 0.05-0.09 s).
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    fn sum(self) -> String {
        format!("{:x}", self.hash.finalize())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Write `views` into `dir` one after another (`ranges`: those of the ranged views); each
/// file's marker entry (name, bytes, SHA-256).
async fn write_all(
    ctx: &SessionContext,
    dir: &Path,
    views: &[CachedView],
    project: Option<i64>,
    ranges: &[(i64, i64)],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<(&'static str, serde_json::Value)>> {
    let mut files = Vec::new();
    for (view, order, ranged) in views {
        let path = file(dir, view);
        let started = std::time::Instant::now();
        let (written, waited, encoded) =
            write(ctx, view, order, *ranged, project, ranges, &path, progress).await?;
        let (bytes, sum) = (written.bytes, written.sum());
        if std::env::var_os("OCCLENS_TRACE").is_some() {
            eprintln!(
                "occlens: {:>7.1} ms  (cache) {view}: {bytes} bytes (rows {:.0} ms, encoding {:.0} ms)",
                started.elapsed().as_secs_f64() * 1e3,
                waited * 1e3,
                encoded * 1e3
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

#[allow(clippy::too_many_arguments)]
async fn write(
    ctx: &SessionContext,
    view: &str,
    order: &str,
    ranged: Option<&str>,
    project: Option<i64>,
    ranges: &[(i64, i64)],
    path: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Hashing<File>, f64, f64)> {
    // A project's entry: its rows of the views that have them (super::PROJECT_SCOPED).
    let scope = project
        .filter(|_| super::PROJECT_SCOPED.contains(&view))
        .map(|p| format!("project_id = {p}"));
    let whole = [(i64::MIN, i64::MAX)];
    let (col, ranges) = match ranged {
        Some(col) => (col, ranges),
        None => ("", &whole[..]),
    };
    // Explicitly the order registration declares (`super::register`), whatever the session's
    // default null ordering.
    let order_by = super::order_columns(order)
        .map(|c| format!("{c} ASC NULLS LAST"))
        .collect::<Vec<_>>()
        .join(", ");
    let statements: Vec<String> = ranges
        .iter()
        .map(|&(lo, hi)| {
            let mut cond: Vec<String> = scope.iter().cloned().collect();
            cond.extend(crate::engine::ranges::within(col, (lo, hi)));
            match cond.is_empty() {
                true => format!("SELECT * FROM {view} ORDER BY {order_by}"),
                false => format!(
                    "SELECT * FROM {view} WHERE {} ORDER BY {order_by}",
                    cond.join(" AND ")
                ),
            }
        })
        .collect();
    // Small row groups and pages: a page's id lookups and a project's filter skip the rest.
    // A view read by key (`super::lookup_key`) keeps page statistics (the column index) on
    // its order columns only: a lookup decodes the page index of the file before reading a
    // page, and the other columns' minima and maxima (long strings among them) made most of
    // it. Their row groups keep their statistics.
    let keyed = super::lookup_key(order).is_some();
    let mut builder = WriterProperties::builder().set_statistics_enabled(match keyed {
        true => EnabledStatistics::Chunk,
        false => EnabledStatistics::Page,
    });
    for c in super::order_columns(order).filter(|_| keyed) {
        builder = builder.set_column_statistics_enabled(c.into(), EnabledStatistics::Page);
    }
    // A detail reads its occurrence's row by id alone: sorted by project, every project's row
    // groups span the ids, and the page index left one page in each (SF1: 11 pages, 45,000
    // rows decoded for one). A bloom filter of the ids (64 KiB a row group at 5% false
    // positives) leaves the one row group that holds it.
    if view == super::LIST_VIEW {
        builder = builder
            .set_column_bloom_filter_enabled("id".into(), true)
            .set_column_bloom_filter_fpp("id".into(), 0.05);
    }
    let props = builder
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(65_536))
        .set_data_page_row_count_limit(4_096)
        .set_write_batch_size(1_024)
        // No dictionaries: most columns are near-unique per row (ids, times, scores, paths),
        // so each row group's dictionary page fills its 1 MB before falling back, and every
        // id lookup would read all of them whole before its one page of values.
        .set_dictionary_enabled(false)
        // One statement writes the file in `order` (ranges are each sorted on their own):
        // then registered with that ordering (super::register), so a query in that order
        // streams instead of sorting.
        .set_key_value_metadata((statements.len() == 1).then(|| {
            vec![KeyValue::new(
                super::SORTED_BY.to_string(),
                order.to_string(),
            )]
        }))
        .build();
    let parquet =
        |e: datafusion::parquet::errors::ParquetError| Error::io(path, std::io::Error::other(e));
    // Batches of one size: the same file whatever computed the rows (here, or a cluster).
    let mut writer: Option<EvenWriter<Hashing<File>>> = None;
    let mut rows = 0u64;
    // Seconds waiting for the rows and encoding them (OCCLENS_TRACE).
    let (mut waited, mut encoded) = (0f64, 0f64);
    for sql in statements {
        let df = ctx.sql(&sql).await?;
        if writer.is_none() {
            let file = File::create(path).map_err(|e| Error::io(path, e))?;
            let file = Hashing::new(file);
            let schema = df.schema().inner().clone();
            writer = Some(EvenWriter::try_new(file, schema, props.clone()).map_err(parquet)?);
        }
        let w = writer.as_mut().expect("created above");
        let mut stream = df.execute_stream().await?;
        let mut t = std::time::Instant::now();
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            waited += t.elapsed().as_secs_f64();
            t = std::time::Instant::now();
            rows += batch.num_rows() as u64;
            w.write(&batch).map_err(parquet)?;
            encoded += t.elapsed().as_secs_f64();
            t = std::time::Instant::now();
            progress(rows);
        }
        // Each range starts its own row groups (their statistics stay within the range).
        w.flush().map_err(parquet)?;
    }
    // The Parquet writer flushes its buffer into the file (no buffer of its own) when it ends.
    let file = match writer {
        Some(w) => w.into_inner().map_err(parquet)?,
        // No statement: never (a view has one, a ranged view one per range, at least one).
        None => return Err(Error::Internal(format!("no statement for {view}"))),
    };
    Ok((file, waited, encoded))
}

#[cfg(test)]
mod tests {
    use super::Hashing;
    use sha2::{Digest, Sha256};
    use std::io::Write;

    /// Takes at most 7 bytes per call: a writer that writes less than it is given.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let n = bytes.len().min(7);
            self.0.extend_from_slice(&bytes[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn files_are_hashed_as_they_are_written() {
        let mut w = Hashing::new(Trickle(Vec::new()));
        let mut all = Vec::new();
        for i in 0..10_000u32 {
            let part = format!("{i}:{}\n", i * 31);
            w.write_all(part.as_bytes()).unwrap();
            all.extend_from_slice(part.as_bytes());
        }
        w.flush().unwrap();
        assert_eq!(w.bytes, all.len() as u64);
        assert_eq!(w.inner.0, all);
        assert_eq!(w.sum(), format!("{:x}", Sha256::digest(&all)));
    }

    /// A view written as the cache writes it, in two ranges: the size and sum of the file on
    /// disk.
    #[tokio::test]
    async fn a_written_views_sum_is_the_one_read_back() {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.sql(
            "CREATE VIEW t AS SELECT id, CASE WHEN id % 5 = 0 THEN NULL ELSE concat('name ', id) END AS name \
             FROM (SELECT unnest(range(0, 50000)) AS id)",
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        let ranges = [(i64::MIN, 20_000), (20_000, i64::MAX)];
        let (file, _, _) = super::write(&ctx, "t", "id", Some("id"), None, &ranges, &path, &|_| {})
            .await
            .unwrap();
        let (bytes, sum) = (file.bytes, file.sum());
        // 50,000 rows: hundreds of kilobytes, not an empty file.
        assert!(bytes > 100_000, "{bytes}");
        assert_eq!(bytes, std::fs::metadata(&path).unwrap().len());
        assert_eq!(sum, super::super::sha256(&path).unwrap());
    }
}
