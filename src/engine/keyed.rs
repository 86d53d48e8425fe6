//! Rows by key from the cache's Parquet files, read through their page index without planning
//! a statement.
//!
//! The cache writes a detail's related rows and the identifications sorted by occurrence, in
//! pages of 4,096 rows with a page index (`cache`). A request's few keys then select a few
//! pages: `KeyedFile::pages` reads just those (arrow-rs's reader with a row selection), where
//! a statement over the same file costs 3–5 ms of planning and scheduling. The pages are a
//! superset of the rows; `lookup` keeps the rows whose key is asked for and orders them as the
//! statement would.

use crate::error::{Error, Result};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use datafusion::parquet::arrow::ProjectionMask;
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
}

/// The keyed files of an engine's cache by view name (a session config extension, so that
/// every session cloned from the engine's sees them), each opened when first read.
#[derive(Default)]
pub struct KeyedFiles(HashMap<String, Keyed>);

struct Keyed {
    key: String,
    path: PathBuf,
    /// None: the file has no page index on its key, or cannot be opened (then the statement
    /// reads it, and says what is wrong).
    file: OnceLock<Option<KeyedFile>>,
}

impl KeyedFile {
    /// `path` keyed by its Int64 column `key`; None when the file has no page index on it.
    pub fn open(path: &Path, key: &str) -> Result<Option<KeyedFile>> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load(&file, options)
            .map_err(|e| Error::Query(format!("{}: {e}", path.display())))?;
        let Some(key) = meta
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .position(|c| c.path().parts() == [key.to_string()])
        else {
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
        }))
    }

    /// The pages holding any of `keys` (sorted, distinct), as one batch.
    pub fn pages(&self, keys: &[i64]) -> Result<RecordBatch> {
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
        let schema = self.meta.schema().clone();
        if groups.is_empty() {
            return Ok(RecordBatch::new_empty(schema));
        }
        // First the key column of those pages, then every column of the matching rows only
        // (the pages holding them): a page of a wide table is decoded for its keys' rows.
        let key_only = ProjectionMask::leaves(md.file_metadata().schema_descr(), [self.key]);
        let keys_read = self.read(groups.clone(), &ranges, base, key_only)?;
        let set: std::collections::HashSet<i64> = keys.iter().copied().collect();
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
                if value.is_some_and(|v| set.contains(&v)) {
                    match exact.last_mut() {
                        Some(last) if last.end == row => last.end = row + 1,
                        _ => exact.push(row..row + 1),
                    }
                }
            }
        }
        let batches = self.read(groups, &exact, base, ProjectionMask::all())?;
        concat_batches(&schema, &batches).map_err(|e| self.failed(&e))
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

/// Key the files of `views` (view name, its file, its key column) and make them visible to
/// `ctx` and every session cloned from it.
pub fn attach(ctx: &SessionContext, views: &[(&str, PathBuf, &str)]) {
    let mut files = KeyedFiles::default();
    for (view, path, key) in views {
        let keyed = Keyed {
            key: key.to_string(),
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

/// The pages of `table`'s keyed file holding any of `keys` when `column` is its key; None
/// otherwise (or for more than `MAX_KEYS` keys).
pub fn pages(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    keys: &[i64],
) -> Result<Option<RecordBatch>> {
    if keys.len() > MAX_KEYS {
        return Ok(None);
    }
    let files = ctx
        .state_ref()
        .read()
        .config()
        .get_extension::<KeyedFiles>();
    let Some(keyed) = files.as_ref().and_then(|f| f.0.get(table)) else {
        return Ok(None);
    };
    if keyed.key != column {
        return Ok(None);
    }
    let file = keyed
        .file
        .get_or_init(|| KeyedFile::open(&keyed.path, &keyed.key).ok().flatten());
    let Some(file) = file else {
        return Ok(None);
    };
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.dedup();
    file.pages(&keys).map(Some)
}

#[cfg(test)]
mod tests {
    use super::{attach, KeyedFile};
    use crate::engine::even_parquet::EvenWriter;
    use crate::engine::lookup::rows;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
    use datafusion::prelude::{ParquetReadOptions, SessionContext};
    use std::sync::Arc;

    /// 10,000 rows sorted by occurrence (7 per occurrence), in pages of 100 rows.
    fn write(path: &std::path::Path) {
        let n = 10_000i64;
        let schema = Arc::new(Schema::new(vec![
            Field::new("occurrence_id", DataType::Int64, false),
            Field::new("position", DataType::Int64, true),
            Field::new("name", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i / 7))),
                Arc::new(Int64Array::from_iter(
                    (0..n).map(|i| (i % 5 != 2).then_some(i % 7)),
                )),
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("r{i}")),
                )),
            ],
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(1_000))
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .set_statistics_enabled(EnabledStatistics::Page)
            .build();
        let file = std::fs::File::create(path).unwrap();
        let mut w = EvenWriter::try_new(file, schema, props).unwrap();
        w.write(&batch).unwrap();
        w.into_inner().unwrap();
    }

    #[tokio::test]
    async fn a_few_pages_and_the_rows_of_the_statement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write(&path);
        let file = KeyedFile::open(&path, "occurrence_id")
            .unwrap()
            .expect("page index");
        // Keys in three pages (one at a page boundary: 100 rows hold ids 0..14), one absent.
        let pages = file.pages(&[0, 14, 700, 5_000]).unwrap();
        assert!(pages.num_rows() <= 400, "{} rows read", pages.num_rows());
        assert!(KeyedFile::open(&path, "name").unwrap().is_none());

        let ctx = SessionContext::new();
        let url = path.to_str().unwrap();
        ctx.register_parquet("t", url, ParquetReadOptions::default())
            .await
            .unwrap();
        attach(&ctx, &[("t", path.clone(), "occurrence_id")]);
        let keys = [700, 14, 0, 5_000, 14];
        let order = ["occurrence_id", "position", "name"];
        let got = rows(&ctx, "t", "occurrence_id", &keys, None, &order)
            .await
            .unwrap()
            .expect("keyed");
        let sql = "SELECT * FROM t WHERE occurrence_id IN (0, 14, 700, 5000) \
                   ORDER BY occurrence_id, position, name";
        let expected = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = |b: &[RecordBatch]| pretty_format_batches(b).unwrap().to_string();
        assert_eq!(got.num_rows(), 21);
        assert_eq!(text(&[got]), text(&expected));
        // Another key column is left to the statement.
        assert!(rows(&ctx, "t", "position", &[1], None, &[])
            .await
            .unwrap()
            .is_none());
    }
}
