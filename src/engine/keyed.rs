//! Rows by key from the cache's Parquet files, read through their page index without planning
//! a statement.
//!
//! The cache writes a detail's related rows and the identifications sorted by occurrence, in
//! pages of 4,096 rows with a page index (`cache`). A request's few keys then select a few
//! pages: `KeyedFile::pages` reads just those (arrow-rs's reader with a row selection), where
//! a statement over the same file costs 3–5 ms of planning and scheduling. The pages are a
//! superset of the rows; `lookup` keeps the rows whose key is asked for and orders them as the
//! statement would.
//!
//! The occurrence list is sorted by project, not by id, and a detail reads its one row by id:
//! there the file's bloom filters of `id` choose the row groups (`KeyedFile::open_by_bloom`),
//! without decoding the page statistics of every column that the list statements prune by.

use crate::error::{Error, Result};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::bloom_filter::Sbbf;
use datafusion::parquet::file::metadata::PageIndexPolicy;
use datafusion::parquet::file::page_index::column_index::ColumnIndexMetaData;
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Requests ask for at most this many keys through the files; more (an export's chunk) touch
/// most pages anyway and are left to a statement, which reads in parallel.
pub const MAX_KEYS: usize = 200;

/// One cache file and its footer with the page index, read once when the engine opens.
pub struct KeyedFile {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    /// The key's leaf column.
    key: usize,
    /// Row groups chosen by their statistics and bloom filters of the key, not by the key's
    /// page index (the footer is read without the column index).
    by_bloom: bool,
    /// Each row group's bloom filter of the key, read when first needed (a server's details
    /// read them once).
    blooms: Vec<OnceLock<Option<Sbbf>>>,
}

/// The index of the root (top-level) column of leaf column `leaf`.
fn key_root(meta: &ArrowReaderMetadata, leaf: usize) -> usize {
    meta.metadata()
        .file_metadata()
        .schema_descr()
        .get_column_root_idx(leaf)
}

/// Row groups chosen for some keys, and the ranges of their rows to read (counted over the
/// chosen groups' `rows`).
#[derive(Default)]
struct Chosen {
    groups: Vec<usize>,
    ranges: Vec<std::ops::Range<usize>>,
    rows: usize,
}

/// The keyed files of an engine's cache by view name (a session config extension, so that
/// every session cloned from the engine's sees them), each opened when first read.
#[derive(Default)]
pub struct KeyedFiles(HashMap<String, Keyed>);

struct Keyed {
    key: String,
    /// Keyed by bloom filters ([`KeyedFile::open_by_bloom`]): read by [`row_by_bloom`] only.
    by_bloom: bool,
    path: PathBuf,
    /// None: the file has no page index on its key, or cannot be opened (then the statement
    /// reads it, and says what is wrong).
    file: OnceLock<Option<KeyedFile>>,
}

impl KeyedFile {
    /// `path` keyed by its Int64 column `key`; None when the file has no page index on it.
    pub fn open(path: &Path, key: &str) -> Result<Option<KeyedFile>> {
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let Some((meta, key)) = Self::footer(path, key, options)? else {
            return Ok(None);
        };
        let md = meta.metadata();
        let indexed = md.column_index().is_some_and(|ci| {
            ci.iter()
                .all(|g| matches!(g.get(key), Some(ColumnIndexMetaData::INT64(_))))
        }) && md.offset_index().is_some();
        Ok(indexed.then(|| KeyedFile {
            path: path.to_path_buf(),
            meta,
            key,
            by_bloom: false,
            blooms: Vec::new(),
        }))
    }

    /// `path` keyed by its Int64 column `key` through the bloom filters every row group holds
    /// of it; None when a row group has none, or the file has no offset index (without it the
    /// reader would decode every page of the chosen row groups).
    pub fn open_by_bloom(path: &Path, key: &str) -> Result<Option<KeyedFile>> {
        let options = ArrowReaderOptions::new()
            .with_column_index_policy(PageIndexPolicy::Skip)
            .with_offset_index_policy(PageIndexPolicy::Optional);
        let Some((meta, key)) = Self::footer(path, key, options)? else {
            return Ok(None);
        };
        let md = meta.metadata();
        // The key read as Int64 (as the page-index keying requires of its key's index).
        let int64 = meta
            .schema()
            .fields()
            .get(key_root(&meta, key))
            .is_some_and(|f| f.data_type() == &datafusion::arrow::datatypes::DataType::Int64);
        let bloomed = md
            .row_groups()
            .iter()
            .all(|g| g.column(key).bloom_filter_offset().is_some());
        let groups = md.num_row_groups();
        Ok(
            (int64 && bloomed && md.offset_index().is_some()).then(|| KeyedFile {
                path: path.to_path_buf(),
                meta,
                key,
                by_bloom: true,
                blooms: (0..groups).map(|_| OnceLock::new()).collect(),
            }),
        )
    }

    /// The footer of `path` read with `options`, and the leaf column `key`; None when the file
    /// has no such column.
    fn footer(
        path: &Path,
        key: &str,
        options: ArrowReaderOptions,
    ) -> Result<Option<(ArrowReaderMetadata, usize)>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = ArrowReaderMetadata::load(&file, options)
            .map_err(|e| Error::Query(format!("{}: {e}", path.display())))?;
        let key = meta
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().parts() == [key.to_string()]);
        Ok(key.map(|key| (meta, key)))
    }

    /// The row groups (and their row ranges, whole) that may hold any of `keys` (sorted,
    /// distinct) by the key's statistics and bloom filter.
    fn groups_by_bloom(&self, keys: &[i64]) -> Result<Chosen> {
        use datafusion::parquet::file::statistics::Statistics;
        let md = self.meta.metadata();
        let opened = std::cell::OnceCell::new();
        let builder = || -> Result<&ParquetRecordBatchReaderBuilder<File>> {
            if let Some(b) = opened.get() {
                return Ok(b);
            }
            let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
            let b = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone());
            Ok(opened.get_or_init(|| b))
        };
        let mut chosen = Chosen::default();
        for (g, group) in md.row_groups().iter().enumerate() {
            let rows = group.num_rows() as usize;
            let in_range = |k: &&i64| match group.column(self.key).statistics() {
                Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(lo), Some(hi)) => lo <= *k && *k <= hi,
                    _ => true,
                },
                _ => true,
            };
            let candidates: Vec<&i64> = keys.iter().filter(in_range).collect();
            if candidates.is_empty() {
                continue;
            }
            let bloom = match self.blooms[g].get() {
                Some(bloom) => bloom,
                None => {
                    let bloom = builder()?
                        .get_row_group_column_bloom_filter(g, self.key)
                        .map_err(|e| self.failed(&e))?;
                    self.blooms[g].get_or_init(|| bloom)
                }
            };
            if bloom
                .as_ref()
                .is_some_and(|b| !candidates.iter().any(|k| b.check(*k)))
            {
                continue;
            }
            chosen.groups.push(g);
            chosen.ranges.push(chosen.rows..chosen.rows + rows);
            chosen.rows += rows;
        }
        Ok(chosen)
    }

    /// The rows holding any of `keys` (sorted, distinct), as one batch: the columns named in
    /// `columns` and the key (None: all), read from the pages that hold those rows.
    pub fn pages(&self, keys: &[i64], columns: Option<&[&str]>) -> Result<RecordBatch> {
        let Chosen {
            groups,
            ranges,
            rows: base,
        } = if self.by_bloom {
            self.groups_by_bloom(keys)?
        } else {
            self.groups_by_pages(keys)?
        };
        let md = self.meta.metadata();
        let descr = md.file_metadata().schema_descr();
        // The columns read: those asked for and the key (its root column), in the file's order.
        let roots: Option<Vec<usize>> = columns.map(|names| {
            let key = descr.column(self.key).path().parts()[0].clone();
            let roots = descr.root_schema().get_fields().iter().enumerate();
            roots
                .filter(|(_, f)| f.name() == key || names.contains(&f.name()))
                .map(|(i, _)| i)
                .collect()
        });
        let schema = match &roots {
            Some(roots) => Arc::new(
                self.meta
                    .schema()
                    .project(roots)
                    .map_err(|e| self.failed(&e))?,
            ),
            None => self.meta.schema().clone(),
        };
        if groups.is_empty() {
            return Ok(RecordBatch::new_empty(schema));
        }
        // First the key column of those pages, then every column of the matching rows only
        // (the pages holding them): a page of a wide table is decoded for its keys' rows.
        let key_only = ProjectionMask::leaves(md.file_metadata().schema_descr(), [self.key]);
        let keys_read = self.read(groups.clone(), &ranges, base, key_only)?;
        let mut values = keys_read.iter().flat_map(|b| {
            b.column(0)
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>()
        });
        let mut exact: Vec<std::ops::Range<usize>> = Vec::new();
        for range in &ranges {
            for row in range.clone() {
                let Some(value) = values.next() else { break };
                if value.is_some_and(|v| keys.binary_search(&v).is_ok()) {
                    match exact.last_mut() {
                        Some(last) if last.end == row => last.end = row + 1,
                        _ => exact.push(row..row + 1),
                    }
                }
            }
        }
        let mask = match roots {
            None => ProjectionMask::all(),
            Some(roots) => ProjectionMask::roots(descr, roots),
        };
        let batches = self.read(groups, &exact, base, mask)?;
        concat_batches(&schema, &batches).map_err(|e| self.failed(&e))
    }

    /// The row groups and pages that may hold any of `keys` (sorted, distinct) by the key's
    /// page index.
    fn groups_by_pages(&self, keys: &[i64]) -> Result<Chosen> {
        let md = self.meta.metadata();
        let (Some(ci), Some(oi)) = (md.column_index(), md.offset_index()) else {
            return Err(Error::Internal(
                "a keyed file without its page index".into(),
            ));
        };
        let (mut groups, mut ranges, mut base) = (Vec::new(), Vec::new(), 0usize);
        for (g, group) in md.row_groups().iter().enumerate() {
            let rows = group.num_rows() as usize;
            let ColumnIndexMetaData::INT64(index) = &ci[g][self.key] else {
                return Err(Error::Internal(
                    "a keyed file without its page index".into(),
                ));
            };
            let pages = oi[g][self.key].page_locations();
            let mut chosen = Vec::new();
            for (p, page) in pages.iter().enumerate() {
                let (Some(lo), Some(hi)) = (index.min_value(p), index.max_value(p)) else {
                    continue;
                };
                let i = keys.partition_point(|k| k < lo);
                if i < keys.len() && keys[i] <= *hi {
                    let start = page.first_row_index as usize;
                    let end = pages
                        .get(p + 1)
                        .map_or(rows, |n| n.first_row_index as usize);
                    chosen.push(base + start..base + end);
                }
            }
            if !chosen.is_empty() {
                groups.push(g);
                ranges.extend(chosen);
                base += rows;
            }
        }
        Ok(Chosen {
            groups,
            ranges,
            rows: base,
        })
    }

    fn failed(&self, e: &dyn std::fmt::Display) -> Error {
        Error::Query(format!("{}: {e}", self.path.display()))
    }

    /// The `ranges` of rows (counted over the row groups `groups`, `rows` in all) of the
    /// columns `columns`.
    fn read(
        &self,
        groups: Vec<usize>,
        ranges: &[std::ops::Range<usize>],
        rows: usize,
        columns: ProjectionMask,
    ) -> Result<Vec<RecordBatch>> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let selection = RowSelection::from_consecutive_ranges(ranges.iter().cloned(), rows);
        ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone())
            .with_row_groups(groups)
            .with_projection(columns)
            .with_row_selection(selection)
            .build()
            .map_err(|e| self.failed(&e))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| self.failed(&e))
    }
}

/// Key the files of `views` (view name, its file, its key column, whether keyed by bloom
/// filters) and make them visible to `ctx` and every session cloned from it.
pub fn attach(ctx: &SessionContext, views: &[(&str, PathBuf, &str, bool)]) {
    let mut files = KeyedFiles::default();
    for (view, path, key, by_bloom) in views {
        let keyed = Keyed {
            key: key.to_string(),
            by_bloom: *by_bloom,
            path: path.clone(),
            file: OnceLock::new(),
        };
        files.0.insert(view.to_string(), keyed);
    }
    ctx.state_ref()
        .write()
        .config_mut()
        .set_extension(Arc::new(files));
}

/// The pages of `table`'s keyed file holding any of `keys` when `column` is its key (by its
/// page index); None otherwise (or for more than `MAX_KEYS` keys).
pub fn pages(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    keys: &[i64],
) -> Result<Option<RecordBatch>> {
    if keys.len() > MAX_KEYS {
        return Ok(None);
    }
    keyed_read(ctx, table, column, false, keys, None)
}

/// The row of `table` whose `column` is `key`, with `columns` (and the key), when `table`'s
/// file is keyed by bloom filters of `column` (a detail's row of the occurrence list); None
/// otherwise (then a statement reads it).
pub fn row_by_bloom(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    key: i64,
    columns: &[&str],
) -> Result<Option<RecordBatch>> {
    keyed_read(ctx, table, column, true, &[key], Some(columns))
}

/// Whether `table`'s file is keyed by `column` (by bloom filters when `by_bloom`) and not
/// known to be unreadable so: a read through it may answer instead of a statement.
pub fn serves(ctx: &SessionContext, table: &str, column: &str, by_bloom: bool) -> bool {
    let files = ctx
        .state_ref()
        .read()
        .config()
        .get_extension::<KeyedFiles>();
    files
        .as_ref()
        .and_then(|f| f.0.get(table))
        .is_some_and(|k| {
            k.key == column && k.by_bloom == by_bloom && !matches!(k.file.get(), Some(None))
        })
}

fn keyed_read(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    by_bloom: bool,
    keys: &[i64],
    columns: Option<&[&str]>,
) -> Result<Option<RecordBatch>> {
    let files = ctx
        .state_ref()
        .read()
        .config()
        .get_extension::<KeyedFiles>();
    let Some(keyed) = files.as_ref().and_then(|f| f.0.get(table)) else {
        return Ok(None);
    };
    if keyed.key != column || keyed.by_bloom != by_bloom {
        return Ok(None);
    }
    let file = keyed.file.get_or_init(|| {
        let open = match by_bloom {
            true => KeyedFile::open_by_bloom,
            false => KeyedFile::open,
        };
        open(&keyed.path, &keyed.key).ok().flatten()
    });
    let Some(file) = file else {
        return Ok(None);
    };
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    file.pages(&keys, columns).map(Some)
}

#[cfg(test)]
mod tests;
