//! Tables held in memory by a long-running process (`occlens serve`): the cache's tables and
//! the snapshot's small ones, each one Arrow batch with integer key indexes, so that a
//! request's lookups by occurrence, project or id read a few rows instead of decoding Parquet
//! pages — whatever the layout of the files they came from.
//!
//! A `Resident` table is a DataFusion `TableProvider`: SQL stays the only way rows are
//! selected. Filters on an indexed column (`=`, `IN (…)`, `BETWEEN`, `<`, `<=`, `>`, `>=`
//! against integer literals) are pushed down as *inexact*: the scan returns the rows the
//! index finds (a superset), and DataFusion still applies every filter to them.

use crate::error::{Error, Result};
use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{
    Between, BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use std::sync::Arc;

/// Rows the scan of one index returns: sorted, distinct row numbers.
pub type Rows = Vec<u32>;

/// The values of a column the filters on it allow: `[lo, hi]`, and when some filter lists
/// them (`=`, `IN`), only those (sorted, distinct).
struct Constraint {
    lo: i64,
    hi: i64,
    points: Option<Vec<i64>>,
}

impl Constraint {
    fn range(lo: i64, hi: i64) -> Constraint {
        Constraint {
            lo,
            hi,
            points: None,
        }
    }

    fn points(mut values: Vec<i64>) -> Constraint {
        values.sort_unstable();
        values.dedup();
        Constraint {
            lo: i64::MIN,
            hi: i64::MAX,
            points: Some(values),
        }
    }

    /// Both constraints at once.
    fn and(self, other: Constraint) -> Constraint {
        let points = match (self.points, other.points) {
            (Some(a), Some(b)) => Some(
                a.into_iter()
                    .filter(|v| b.binary_search(v).is_ok())
                    .collect(),
            ),
            (a, b) => a.or(b),
        };
        Constraint {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
            points,
        }
    }
}

/// An index on one Int64 column: its values in ascending order and, unless the batch is
/// already sorted by it, the row each sorted value comes from.
#[derive(Debug)]
struct Index {
    column: String,
    values: Vec<i64>,
    rows: Option<Vec<u32>>,
}

impl Index {
    fn build(batch: &RecordBatch, column: &str) -> Option<Index> {
        let array = batch.column_by_name(column)?;
        if array.data_type() != &DataType::Int64 || array.null_count() > 0 {
            return None;
        }
        let values = array.as_primitive::<Int64Type>().values();
        if values.windows(2).all(|w| w[0] <= w[1]) {
            return Some(Index {
                column: column.to_string(),
                values: values.to_vec(),
                rows: None,
            });
        }
        let mut pairs: Vec<(i64, u32)> = values
            .iter()
            .enumerate()
            .map(|(row, v)| (*v, row as u32))
            .collect();
        pairs.sort_unstable();
        Some(Index {
            column: column.to_string(),
            values: pairs.iter().map(|p| p.0).collect(),
            rows: Some(pairs.iter().map(|p| p.1).collect()),
        })
    }

    /// The positions in `values` of the values in `[lo, hi]`.
    fn span(&self, lo: i64, hi: i64) -> std::ops::Range<usize> {
        if lo > hi {
            return 0..0;
        }
        self.values.partition_point(|v| *v < lo)..self.values.partition_point(|v| *v <= hi)
    }

    /// What `filter` says of this index's column: a range `[lo, hi]`, and for `=` and
    /// `IN (…)` the values themselves.
    fn constraint(&self, filter: &Expr) -> Option<Constraint> {
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (v, op) = match (self.is_column(left), self.is_column(right)) {
                    (true, false) => (int(right)?, *op),
                    (false, true) => (int(left)?, op.swap()?),
                    _ => return None,
                };
                let empty = Constraint::range(1, 0);
                Some(match op {
                    Operator::Eq => Constraint::points(vec![v]),
                    Operator::Lt => v
                        .checked_sub(1)
                        .map_or(empty, |v| Constraint::range(i64::MIN, v)),
                    Operator::LtEq => Constraint::range(i64::MIN, v),
                    Operator::Gt => v
                        .checked_add(1)
                        .map_or(empty, |v| Constraint::range(v, i64::MAX)),
                    Operator::GtEq => Constraint::range(v, i64::MAX),
                    _ => return None,
                })
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if self.is_column(expr) => Some(Constraint::range(int(low)?, int(high)?)),
            Expr::InList(list) if !list.negated && self.is_column(&list.expr) => {
                let values = list.list.iter().map(int).collect::<Option<Vec<i64>>>()?;
                Some(Constraint::points(values))
            }
            _ => None,
        }
    }

    /// Every filter on this index's column together: how many rows they can select, and
    /// (called again with `materialize`) those rows, sorted. None: no filter on it.
    fn select(&self, filters: &[Expr], materialize: bool) -> Option<(usize, Rows)> {
        let mut all = filters.iter().filter_map(|f| self.constraint(f));
        let mut c = all.next()?;
        for other in all {
            c = c.and(other);
        }
        let spans: Vec<std::ops::Range<usize>> = match &c.points {
            Some(points) => points
                .iter()
                .filter(|v| (c.lo..=c.hi).contains(*v))
                .map(|v| self.span(*v, *v))
                .collect(),
            None => vec![self.span(c.lo, c.hi)],
        };
        let count = spans.iter().map(|s| s.len()).sum();
        let mut rows = Rows::new();
        if materialize {
            rows.reserve(count);
            for s in spans {
                match &self.rows {
                    None => rows.extend(s.start as u32..s.end as u32),
                    Some(map) => rows.extend_from_slice(&map[s]),
                }
            }
            if self.rows.is_some() {
                rows.sort_unstable();
            }
        }
        Some((count, rows))
    }

    fn is_column(&self, e: &Expr) -> bool {
        matches!(e, Expr::Column(c) if c.name == self.column)
    }
}

/// `(start, len)` when `rows` (sorted, distinct) are one run of consecutive rows.
fn contiguous(rows: &[u32]) -> Option<(usize, usize)> {
    let (first, last) = (*rows.first()? as usize, *rows.last()? as usize);
    (last - first + 1 == rows.len()).then_some((first, rows.len()))
}

/// An integer literal (NULL and other types: no index use).
fn int(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => Some(*v),
        Expr::Literal(ScalarValue::Int32(Some(v)), _) => Some(*v as i64),
        Expr::Literal(ScalarValue::Int16(Some(v)), _) => Some(*v as i64),
        Expr::Literal(ScalarValue::Int8(Some(v)), _) => Some(*v as i64),
        Expr::Cast(c) => int(&c.expr),
        Expr::TryCast(c) => int(&c.expr),
        _ => None,
    }
}

/// One table in memory with its indexes.
#[derive(Debug)]
pub struct Resident {
    batch: RecordBatch,
    indexes: Vec<Index>,
}

impl Resident {
    /// `batches` as one batch, indexed on each of `columns` that is a non-NULL Int64 column.
    pub fn new(schema: SchemaRef, batches: &[RecordBatch], columns: &[&str]) -> Result<Resident> {
        let batch = concat_batches(&schema, batches)?;
        let indexes = columns
            .iter()
            .filter_map(|c| Index::build(&batch, c))
            .collect();
        Ok(Resident { batch, indexes })
    }

    /// Bytes held (the batch and its indexes).
    pub fn size(&self) -> usize {
        self.batch.get_array_memory_size()
            + self
                .indexes
                .iter()
                .map(|i| i.values.len() * 8 + i.rows.as_ref().map_or(0, |r| r.len() * 4))
                .sum::<usize>()
    }

    /// The table's rows.
    pub fn batch(&self) -> &RecordBatch {
        &self.batch
    }

    /// The rows the pushed-down filters select through the index that selects fewest
    /// (None: every row, also when that index would select most of the table anyway).
    pub fn candidates(&self, filters: &[Expr]) -> Option<Rows> {
        let (best, count) = self
            .indexes
            .iter()
            .filter_map(|i| Some((i, i.select(filters, false)?.0)))
            .min_by_key(|(_, count)| *count)?;
        if count > self.batch.num_rows() / 2 {
            return None;
        }
        best.select(filters, true).map(|(_, rows)| rows)
    }
}

#[async_trait]
impl TableProvider for Resident {
    fn schema(&self) -> SchemaRef {
        self.batch.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.indexes.iter().any(|i| i.constraint(f).is_some()) {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        // Only the projected columns are copied, and only the rows an index found.
        let batch = match projection {
            Some(p) => self.batch.project(p)?,
            None => self.batch.clone(),
        };
        let batch = match self.candidates(filters) {
            None => batch,
            Some(rows) => take_rows(&batch, rows)?,
        };
        if std::env::var_os("OCCLENS_TRACE").is_some() {
            eprintln!(
                "occlens:            resident scan: {} rows of {}, {} columns",
                batch.num_rows(),
                self.batch.num_rows(),
                batch.num_columns()
            );
        }
        let schema = batch.schema();
        let exec = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None)?;
        Ok(exec)
    }
}

/// The rows `rows` (sorted, distinct) of `batch`: a slice when they are contiguous.
pub fn take_rows(
    batch: &RecordBatch,
    rows: Rows,
) -> std::result::Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    match contiguous(&rows) {
        Some((start, len)) => Ok(batch.slice(start, len)),
        None => take_record_batch(batch, &UInt32Array::from(rows)),
    }
}

/// Replace the table `name` of `ctx` by a resident copy of its rows, indexed on `columns`,
/// unless it takes more than `room` bytes (None: left as it was). Returns the bytes it holds.
pub async fn hold(
    ctx: &SessionContext,
    name: &str,
    columns: &[&str],
    room: u64,
) -> Result<Option<usize>> {
    let df = ctx.table(name).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let mut stream = df.execute_stream().await?;
    let (mut batches, mut read) = (Vec::new(), 0u64);
    while let Some(batch) = futures::StreamExt::next(&mut stream).await {
        let batch = batch?;
        read += batch.get_array_memory_size() as u64;
        if read > room {
            return Ok(None);
        }
        batches.push(batch);
    }
    let table = Resident::new(schema, &batches, columns)
        .map_err(|e| Error::Query(format!("holding {name} in memory: {e}")))?;
    drop(batches);
    let size = table.size();
    if size as u64 > room {
        return Ok(None);
    }
    if std::env::var_os("OCCLENS_TRACE").is_some() {
        eprintln!(
            "occlens:            {name} held: {} rows, {} MB",
            table.batch.num_rows(),
            size >> 20
        );
    }
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(Some(size))
}

/// What a long-running process holds in memory (`occlens serve --in-memory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Hold {
    /// Nothing: every statement reads Parquet files (the cache's and the snapshot's).
    #[default]
    None,
    /// What list pages read (the occurrence list, identifications, taxon filters) and the
    /// snapshot's small tables: a server peak of 752 MiB at 1M occurrences.
    Lists,
    /// Also a detail's related rows (images, detections, predictions, classifications):
    /// a server peak of 2.6 GiB at 1M occurrences and 7.5M classifications.
    All,
}

/// The cache's tables a request reads, each with the columns its lookups filter on, and
/// whether lists need it (else only details do).
const CACHED: &[(&str, &[&str], bool)] = &[
    ("occurrence_list", &["project_id", "id"], true),
    ("occurrence_identifications", &["occurrence_id"], true),
    ("default_filter_taxa", &["project_id"], true),
    ("taxon_ancestry", &["ancestor_id"], true),
    ("detail_images", &["occurrence_id"], false),
    ("detail_detections", &["occurrence_id"], false),
    ("prediction_candidates", &["occurrence_id"], false),
    ("detection_classifications", &["occurrence_id"], false),
];

/// Snapshot tables up to this size on disk are held too (projects, memberships, events,
/// deployments, taxa, lists: what visibility, filters and existence checks read).
const SMALL_TABLE_BYTES: u64 = 8 << 20;

/// Hold in memory what answering requests reads (`hold`): the snapshot's small tables, then
/// the cache's request-path tables (those of the `cached` views), as long as the total stays
/// within `max` bytes; a table that would pass it stays on its files (with a warning on
/// stderr). Returns the bytes held.
pub async fn hold_for_requests(
    ctx: &SessionContext,
    snapshot: &crate::snapshot::Snapshot,
    cached: &[&str],
    hold_what: Hold,
    max: u64,
) -> Result<usize> {
    if hold_what == Hold::None {
        return Ok(0);
    }
    let mut wanted: Vec<(&str, &[&str])> = Vec::new();
    for table in &snapshot.tables {
        let size: u64 = table.files.iter().map(|f| f.size).sum();
        if size <= SMALL_TABLE_BYTES {
            wanted.push((table.name, &["id"]));
        }
    }
    for (name, columns, lists) in CACHED {
        if cached.contains(name) && (*lists || hold_what == Hold::All) {
            wanted.push((name, columns));
        }
    }
    let mut bytes = 0;
    for (name, columns) in wanted {
        match hold(ctx, name, columns, max.saturating_sub(bytes as u64)).await? {
            Some(size) => bytes += size,
            None => eprintln!(
                "occlens: {name} stays on its files: holding it would pass --in-memory-max ({} MB held)",
                bytes >> 20
            ),
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn table() -> (SessionContext, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("project_id", DataType::Int64, false),
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 1, 1, 2, 2, 3])),
                Arc::new(Int64Array::from(vec![50, 7, 9, 3, 70, 1])),
                Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e", "f"])),
            ],
        )
        .unwrap();
        let ctx = SessionContext::new();
        let t = Resident::new(
            schema,
            std::slice::from_ref(&batch),
            &["project_id", "id", "name"],
        )
        .unwrap();
        // An index on a sorted column (no row map), one on an unsorted one, none on text.
        assert_eq!(t.indexes.len(), 2);
        assert!(t.indexes[0].rows.is_none() && t.indexes[1].rows.is_some());
        ctx.register_table("t", Arc::new(t)).unwrap();
        (ctx, batch)
    }

    async fn ids(ctx: &SessionContext, sql: &str) -> Vec<i64> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn every_filter_shape_selects_what_sql_says() {
        let (ctx, _) = table();
        let cases: &[(&str, &[i64])] = &[
            ("SELECT id FROM t WHERE id = 9", &[9]),
            ("SELECT id FROM t WHERE 9 = id", &[9]),
            ("SELECT id FROM t WHERE id IN (3, 70, 1000)", &[3, 70]),
            ("SELECT id FROM t WHERE id BETWEEN 7 AND 50", &[7, 9, 50]),
            ("SELECT id FROM t WHERE id < 7", &[1, 3]),
            ("SELECT id FROM t WHERE 7 >= id", &[1, 3, 7]),
            ("SELECT id FROM t WHERE id > 50", &[70]),
            ("SELECT id FROM t WHERE project_id = 2", &[3, 70]),
            ("SELECT id FROM t WHERE project_id = 1 AND id > 8", &[9, 50]),
            (
                "SELECT id FROM t WHERE project_id = 1 AND id IN (1, 3, 9)",
                &[9],
            ),
            ("SELECT id FROM t WHERE id NOT IN (3, 70)", &[1, 7, 9, 50]),
            ("SELECT id FROM t WHERE id = 9 OR project_id = 3", &[1, 9]),
            ("SELECT id FROM t WHERE name = 'e'", &[70]),
            ("SELECT id FROM t WHERE id > 9223372036854775807", &[]),
            ("SELECT id FROM t WHERE id < -9223372036854775808", &[]),
            ("SELECT id FROM t WHERE id BETWEEN 50 AND 7", &[]),
            ("SELECT id FROM t", &[1, 3, 7, 9, 50, 70]),
            ("SELECT id FROM t WHERE id >= 7 AND id <= 50", &[7, 9, 50]),
            (
                "SELECT id FROM t WHERE id IN (3, 9, 70) AND id > 5",
                &[9, 70],
            ),
            (
                "SELECT id FROM t WHERE id IN (3, 9) AND id IN (9, 50)",
                &[9],
            ),
            (
                "SELECT id FROM t WHERE project_id IN (1, 3) AND id < 8",
                &[1, 7],
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(ids(&ctx, sql).await, *want, "{sql}");
        }
    }

    #[test]
    fn the_index_that_selects_fewest_rows_is_used() {
        use datafusion::prelude::{col, lit};
        let schema = Arc::new(Schema::new(vec![
            Field::new("project_id", DataType::Int64, false),
            Field::new("id", DataType::Int64, false),
        ]));
        let n = 1000i64;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i / 100))),
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| (i * 7919) % n))),
            ],
        )
        .unwrap();
        let t = Resident::new(schema, &[batch], &["project_id", "id"]).unwrap();
        // A project: one run of rows; both bounds of a range together, not each alone.
        assert_eq!(
            t.candidates(&[col("project_id").eq(lit(3i64))]).unwrap(),
            (300..400).collect::<Vec<u32>>()
        );
        let range = [col("id").gt_eq(lit(10i64)), col("id").lt_eq(lit(12i64))];
        assert_eq!(t.candidates(&range).unwrap().len(), 3);
        let both = [
            col("project_id").eq(lit(3i64)),
            col("id").in_list(vec![lit(5i64), lit(6i64)], false),
        ];
        assert_eq!(t.candidates(&both).unwrap().len(), 2);
        // Most of the table: a plain scan.
        assert!(t.candidates(&[col("id").gt(lit(10i64))]).is_none());
        assert!(t.candidates(&[col("id").not_eq(lit(10i64))]).is_none());
    }

    #[tokio::test]
    async fn a_lookup_returns_rows_in_table_order_with_every_column() {
        let (ctx, batch) = table();
        let got = ctx
            .sql("SELECT * FROM t WHERE id IN (70, 50, 1)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let got = concat_batches(&batch.schema(), &got).unwrap();
        let want = take_record_batch(&batch, &UInt32Array::from(vec![0, 4, 5])).unwrap();
        assert_eq!(got, want);
    }
}
