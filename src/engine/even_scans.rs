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
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
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
            let Some((config, _)) = scan.downcast_to_file_source::<ParquetSource>() else {
                return Ok(Transformed::no(node));
            };
            let Some(groups) = even_groups(config) else {
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
/// reassigned.
fn files(config: &FileScanConfig) -> Option<Vec<(PartitionedFile, usize)>> {
    if config.file_groups.len() < 2
        || !config.output_ordering.is_empty()
        || config.preserve_order
        || config.output_partitioning.is_some()
    {
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
    Some(files)
}

/// `config`'s rows in as many groups as it has, each the next `total / groups` rows.
fn even_groups(config: &FileScanConfig) -> Option<Vec<FileGroup>> {
    let files = files(config)?;
    let n = config.file_groups.len();
    let total: usize = files.iter().map(|(_, rows)| rows).sum();
    if total < n {
        return None;
    }
    let bound = |i: usize| i * total / n;
    let mut groups = Vec::with_capacity(n);
    let mut start = 0; // the table's row where the file starts
    let mut next = files.iter().peekable();
    for i in 0..n {
        let (from, to) = (bound(i), bound(i + 1));
        let mut pieces = Vec::new();
        while let Some((file, rows)) = next.peek() {
            let (first, end) = (from.max(start), to.min(start + rows));
            if first < end {
                pieces.push(piece(file, *rows, first - start, end - start));
            }
            if start + rows > to {
                break; // the file continues in the next group
            }
            start += rows;
            next.next();
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

    #[tokio::test]
    async fn partitions_read_equal_rows_and_all_of_them() {
        // Two files: 10,000 rows in groups of 7,000 and 3,000, and 2,500 rows in one group.
        // DataFusion gives its partitions whole groups; the rule gives each a quarter of the
        // rows.
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a.parquet"), 10_000, 7_000);
        write(&dir.path().join("b.parquet"), 2_500, 3_000);
        // Partitions executed one after the other read their own files only when they do not
        // take their siblings' (DataFusion's work stealing, on by default, is off here).
        let mut config = SessionConfig::new()
            .with_target_partitions(4)
            .with_repartition_file_min_size(1);
        config
            .options_mut()
            .execution
            .enable_file_stream_work_stealing = false;
        let ctx = SessionContext::new_with_config(config);
        let url = format!("{}/", dir.path().display());
        ctx.register_parquet("t", &url, ParquetReadOptions::default())
            .await
            .unwrap();
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
}
