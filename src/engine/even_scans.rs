//! Parquet scans whose partitions read equal numbers of rows, whatever the row groups.
//!
//! DataFusion splits a scan into partitions by byte ranges, and a row group is read by the
//! partition its middle byte falls in. With large row groups (pyarrow writes 1,048,576 rows
//! per group, Spark-like writers about 128 MB), partitions get unequal shares: SF1's
//! pyarrow-written `main_detection` (groups of 1.05M, 1.05M and 0.4M rows) was read as 1.05M
//! rows on one core and 1.45M on the other, and a one-group `main_occurrence` on one core only;
//! the other core waited. [`EvenScans`] reassigns the rows of each such scan: partition `i`
//! of `n` reads rows `[i·T/n, (i+1)·T/n)` of the table's `T` rows (in file order), as whole
//! files or as a file's row selection (`ParquetRowSelection`). A partition that starts or ends
//! inside a row group decodes only its rows of it: without a page index, the reader skips the
//! other pages by their headers' value counts, undecompressed, though it still reads their
//! bytes.
//!
//! Only scans DataFusion already runs on several partitions are changed, never their number of
//! partitions, and never a scan that declares an ordering or a partitioning, whose files carry
//! access plans already or list a whole file twice, or whose row counts are not exactly known.
//! Added after DataFusion's rules on local sessions only: a cluster serializes its plans, and
//! does not carry file extensions.

use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    ParquetAccessPlan, ParquetFileMetrics, ParquetRowSelection, RowGroupAccessPlanFilter,
};
use datafusion::datasource::physical_plan::FileSource;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::parquet::arrow::parquet_to_arrow_schema;
use datafusion::parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use datafusion::physical_optimizer::pruning::{PruningPredicate, PruningPredicateBuilder};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// Reassigns the rows of multi-partition Parquet scans evenly (see the module's comment).
#[derive(Debug, Default)]
pub struct EvenScans;

impl PhysicalOptimizerRule for EvenScans {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(scan) = node.downcast_ref::<DataSourceExec>() else {
                return Ok(Transformed::no(node));
            };
            let Some((config, source)) = scan.downcast_to_file_source::<ParquetSource>() else {
                return Ok(Transformed::no(node));
            };
            let Some(groups) = even_groups(config, source) else {
                return Ok(Transformed::no(node));
            };
            let mut config = config.clone();
            config.file_groups = groups;
            let scan = scan.clone().with_data_source(Arc::new(config));
            Ok(Transformed::yes(Arc::new(scan) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "occlens_even_scans"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The files of `config` (each once, in order) with their row counts, when the scan may be
/// reassigned. A scan that declares an ordering may be when it reads one file: each partition
/// then reads a contiguous range of it, in order.
fn files(config: &FileScanConfig) -> Option<Vec<(PartitionedFile, usize)>> {
    if config.file_groups.len() < 2 || config.output_partitioning.is_some() {
        return None;
    }
    let mut files: Vec<(PartitionedFile, usize)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for file in config.file_groups.iter().flat_map(|g| g.iter()) {
        if !file.extensions.is_empty() || !file.partition_values.is_empty() {
            return None;
        }
        if !seen.insert(file.object_meta.location.clone()) {
            // Another byte range of a file already kept. A whole file listed twice is read
            // twice: that scan is left as it is.
            file.range.as_ref()?;
            continue;
        }
        let Precision::Exact(rows) = file.statistics.as_ref()?.num_rows else {
            return None;
        };
        let mut whole = file.clone();
        whole.range = None;
        files.push((whole, rows));
    }
    let ordered = !config.output_ordering.is_empty() || config.preserve_order;
    if ordered && files.len() > 1 {
        return None;
    }
    Some(files)
}

/// A file's row groups as (first row, rows, whether the scan's predicate may keep rows of it
/// by the group's statistics). Every group is kept when that cannot be told: no predicate, a
/// file not on the local disk (read here, while planning, without waiting on a store), a
/// footer that cannot be read, a file whose columns are not the table's. Only the balance of
/// the partitions depends on it: every row is still assigned to one partition, and the reader
/// prunes the groups itself.
fn groups_kept(
    config: &FileScanConfig,
    predicate: Option<&PruningPredicate>,
    file: &PartitionedFile,
    rows: usize,
) -> Vec<(usize, usize, bool)> {
    let whole = vec![(0, rows, true)];
    let Some(predicate) = predicate else {
        return whole;
    };
    if config.object_store_url.as_str() != "file:///" {
        return whole;
    }
    let Some(meta) = footer(file) else {
        return whole;
    };
    let table = config.file_schema();
    let parquet_schema = meta.file_metadata().schema_descr();
    let same_columns = parquet_to_arrow_schema(parquet_schema, None).is_ok_and(|own| {
        own.fields().len() == table.fields().len()
            && own
                .fields()
                .iter()
                .zip(table.fields().iter())
                .all(|(a, b)| a.name() == b.name())
    });
    let groups = meta.row_groups();
    if !same_columns || groups.iter().map(|g| g.num_rows() as usize).sum::<usize>() != rows {
        return whole;
    }
    let mut filter = RowGroupAccessPlanFilter::new(ParquetAccessPlan::new_all(groups.len()));
    let metrics = ExecutionPlanMetricsSet::new();
    let file_metrics = ParquetFileMetrics::new(0, file.object_meta.location.as_ref(), &metrics);
    filter.prune_by_statistics(table, parquet_schema, groups, predicate, &file_metrics);
    let plan = filter.build();
    let mut first = 0;
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let n = g.num_rows() as usize;
            first += n;
            (first - n, n, plan.should_scan(i))
        })
        .collect()
}

/// The footer of the local file `file`, read once per version of the file (its size and
/// modification time): plans are made for every request.
fn footer(file: &PartitionedFile) -> Option<Arc<ParquetMetaData>> {
    type Key = (String, u64, chrono::DateTime<chrono::Utc>);
    static READ: std::sync::Mutex<Vec<(Key, Arc<ParquetMetaData>)>> =
        std::sync::Mutex::new(Vec::new());
    let m = &file.object_meta;
    let key: Key = (m.location.to_string(), m.size, m.last_modified);
    if let Some((_, meta)) = READ.lock().ok()?.iter().find(|(k, _)| k == &key) {
        return Some(meta.clone());
    }
    let path = std::path::Path::new("/").join(m.location.as_ref());
    let f = std::fs::File::open(path).ok()?;
    let meta = Arc::new(ParquetMetaDataReader::new().parse_and_finish(&f).ok()?);
    let mut read = READ.lock().ok()?;
    // A few dozen footers at most (a snapshot's tables and the cache's).
    if read.len() >= 64 {
        read.remove(0);
    }
    read.push((key, meta.clone()));
    Some(meta)
}

/// `config`'s rows in as many groups as it has: each the next `kept / groups` of the rows its
/// predicate may keep (by row-group statistics), with the pruned rows between them.
fn even_groups(config: &FileScanConfig, source: &ParquetSource) -> Option<Vec<FileGroup>> {
    let files = files(config)?;
    let n = config.file_groups.len();
    let predicate = FileSource::filter(source).and_then(|p| {
        PruningPredicateBuilder::new()
            .with_file_schema(config.file_schema().clone())
            .build(p)
    });
    // The kept row ranges as (file, first row, rows), in order.
    let mut kept: Vec<(usize, usize, usize)> = Vec::new();
    for (f, (file, rows)) in files.iter().enumerate() {
        for (first, count, keep) in groups_kept(config, predicate.as_deref(), file, *rows) {
            if keep && count > 0 {
                kept.push((f, first, count));
            }
        }
    }
    let total: usize = kept.iter().map(|k| k.2).sum();
    if total < n {
        return None;
    }
    // Where the `b`-th kept row is (file, row); the end of the last file for the last bound,
    // the start of the first file for the first (pruned rows before or after go with them).
    let position = |b: usize| -> (usize, usize) {
        if b == 0 {
            return (0, 0);
        }
        if b >= total {
            return (files.len() - 1, files[files.len() - 1].1);
        }
        let mut before = 0;
        for &(f, first, count) in &kept {
            if b < before + count {
                return (f, first + (b - before));
            }
            before += count;
        }
        (files.len() - 1, files[files.len() - 1].1)
    };
    let mut groups = Vec::with_capacity(n);
    for i in 0..n {
        let (from, to) = (position(i * total / n), position((i + 1) * total / n));
        let mut pieces = Vec::new();
        for (f, (file, rows)) in files.iter().enumerate().take(to.0 + 1).skip(from.0) {
            let first = if f == from.0 { from.1 } else { 0 };
            let end = if f == to.0 { to.1 } else { *rows };
            if first < end {
                pieces.push(piece(file, *rows, first, end));
            }
        }
        groups.push(FileGroup::new(pieces));
    }
    Some(groups)
}

/// Rows `[first, end)` of `file` (of `rows` rows): the file itself when that is all of it.
fn piece(file: &PartitionedFile, rows: usize, first: usize, end: usize) -> PartitionedFile {
    if first == 0 && end == rows {
        return file.clone();
    }
    let selectors = [
        RowSelector::skip(first),
        RowSelector::select(end - first),
        RowSelector::skip(rows - end),
    ]
    .into_iter()
    .filter(|s| s.row_count > 0)
    .collect::<Vec<_>>();
    file.clone()
        .with_extension(ParquetRowSelection::new(RowSelection::from(selectors)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use datafusion::physical_plan::{collect, displayable, ExecutionPlanProperties};
    use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

    /// A file of `rows` ids in row groups of `group` rows.
    fn write(path: &std::path::Path, rows: i64, group: usize) {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let file = std::fs::File::create(path).unwrap();
        let mut w = ArrowWriter::try_new(file, schema.clone(), Some(props)).unwrap();
        let ids = Int64Array::from_iter_values(0..rows);
        w.write(&RecordBatch::try_new(schema, vec![Arc::new(ids)]).unwrap())
            .unwrap();
        w.close().unwrap();
    }

    async fn rows_per_partition(plan: &Arc<dyn ExecutionPlan>, ctx: &SessionContext) -> Vec<usize> {
        let mut counts = Vec::new();
        for p in 0..plan.output_partitioning().partition_count() {
            let stream = plan.execute(p, ctx.task_ctx()).unwrap();
            let batches = datafusion::physical_plan::common::collect(stream)
                .await
                .unwrap();
            counts.push(batches.iter().map(|b| b.num_rows()).sum::<usize>());
        }
        counts
    }

    /// A session of `partitions` partitions with the files of `dir` as table `t`. Partitions
    /// executed one after the other read their own files only when they do not take their
    /// siblings' (DataFusion's work stealing, on by default, is off here).
    async fn session(dir: &std::path::Path, partitions: usize) -> SessionContext {
        let mut config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_repartition_file_min_size(1);
        config
            .options_mut()
            .execution
            .enable_file_stream_work_stealing = false;
        let ctx = SessionContext::new_with_config(config);
        let url = format!("{}/", dir.display());
        ctx.register_parquet("t", &url, ParquetReadOptions::default())
            .await
            .unwrap();
        ctx
    }

    #[tokio::test]
    async fn partitions_read_equal_rows_and_all_of_them() {
        // Two files: 10,000 rows in groups of 7,000 and 3,000, and 2,500 rows in one group.
        // DataFusion gives its partitions whole groups; the rule gives each a quarter of the
        // rows.
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a.parquet"), 10_000, 7_000);
        write(&dir.path().join("b.parquet"), 2_500, 3_000);
        let ctx = session(dir.path(), 4).await;
        let plan = ctx
            .sql("SELECT id FROM t")
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let even = EvenScans
            .optimize(plan.clone(), &ConfigOptions::new())
            .unwrap();
        assert_eq!(rows_per_partition(&even, &ctx).await, vec![3125; 4]);
        let before = rows_per_partition(&plan, &ctx).await;
        assert_ne!(
            before,
            vec![3125; 4],
            "{}",
            displayable(plan.as_ref()).indent(true)
        );
        // Every row once: the ids of both files, in any order.
        let mut ids: Vec<i64> = collect(even, ctx.task_ctx())
            .await
            .unwrap()
            .iter()
            .flat_map(|b| {
                let a = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                a.values().to_vec()
            })
            .collect();
        ids.sort();
        let mut expected: Vec<i64> = (0..10_000).chain(0..2_500).collect();
        expected.sort();
        assert_eq!(ids, expected);
    }

    #[tokio::test]
    async fn partitions_share_the_rows_the_predicate_keeps() {
        // One file of ids 0..10,000 in groups of 1,000: `id < 3000` keeps the first three
        // groups by their statistics, which DataFusion's byte ranges gave one partition; the
        // rule gives each partition half of them, and the other rows still to one partition.
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a.parquet"), 10_000, 1_000);
        let ctx = session(dir.path(), 2).await;
        let scan = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let plan = ctx
                    .sql(sql)
                    .await
                    .unwrap()
                    .create_physical_plan()
                    .await
                    .unwrap();
                // The scan itself (below the filter DataFusion keeps over it).
                let mut node = plan.clone();
                while node.downcast_ref::<DataSourceExec>().is_none() {
                    node = node.children()[0].clone();
                }
                node
            }
        };
        let plan = scan("SELECT id FROM t WHERE id < 3000").await;
        let even = EvenScans
            .optimize(plan.clone(), &ConfigOptions::new())
            .unwrap();
        // Rows read per partition (the reader prunes by statistics, not by rows: whole groups).
        assert_eq!(rows_per_partition(&even, &ctx).await, vec![1_500, 1_500]);
        assert_eq!(rows_per_partition(&plan, &ctx).await, vec![3_000, 0]);
        // Without a predicate that prunes: the rows in halves, as before.
        let all = scan("SELECT id FROM t").await;
        let even = EvenScans.optimize(all, &ConfigOptions::new()).unwrap();
        assert_eq!(rows_per_partition(&even, &ctx).await, vec![5_000, 5_000]);
    }
}
