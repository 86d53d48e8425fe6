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
type Rows = Vec<u32>;

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

    /// The rows whose value lies in `[lo, hi]`.
    fn range(&self, lo: i64, hi: i64, out: &mut Rows) {
        if lo > hi {
            return;
        }
        let start = self.values.partition_point(|v| *v < lo);
        let end = self.values.partition_point(|v| *v <= hi);
        match &self.rows {
            None => out.extend(start as u32..end as u32),
            Some(rows) => out.extend_from_slice(&rows[start..end]),
        }
    }

    /// The rows `filter` can select, when it is a condition on this index's column.
    fn select(&self, filter: &Expr) -> Option<Rows> {
        let mut out = Rows::new();
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (v, op) = match (self.is_column(left), self.is_column(right)) {
                    (true, false) => (int(right)?, *op),
                    (false, true) => (int(left)?, op.swap()?),
                    _ => return None,
                };
                let (lo, hi) = match op {
                    Operator::Eq => (v, v),
                    Operator::Lt => (i64::MIN, v.checked_sub(1)?),
                    Operator::LtEq => (i64::MIN, v),
                    Operator::Gt => (v.checked_add(1)?, i64::MAX),
                    Operator::GtEq => (v, i64::MAX),
                    _ => return None,
                };
                self.range(lo, hi, &mut out);
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if self.is_column(expr) => self.range(int(low)?, int(high)?, &mut out),
            Expr::InList(list) if !list.negated && self.is_column(&list.expr) => {
                let mut values = list.list.iter().map(int).collect::<Option<Vec<i64>>>()?;
                values.sort_unstable();
                values.dedup();
                for v in values {
                    self.range(v, v, &mut out);
                }
            }
            _ => return None,
        }
        out.sort_unstable();
        Some(out)
    }

    fn is_column(&self, e: &Expr) -> bool {
        matches!(e, Expr::Column(c) if c.name == self.column)
    }
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

    /// The fewest rows any pushed-down filter selects (None: every row).
    fn candidates(&self, filters: &[Expr]) -> Option<Rows> {
        filters
            .iter()
            .flat_map(|f| self.indexes.iter().filter_map(move |i| i.select(f)))
            .min_by_key(|rows| rows.len())
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
                if self.indexes.iter().any(|i| i.select_kind(f)) {
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
        let batch = match self.candidates(filters) {
            None => self.batch.clone(),
            Some(rows) => take_record_batch(&self.batch, &UInt32Array::from(rows))?,
        };
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.batch.schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}

impl Index {
    /// Whether `filter` has a shape this index answers (without computing its rows).
    fn select_kind(&self, filter: &Expr) -> bool {
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                matches!(
                    op,
                    Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
                ) && ((self.is_column(left) && int(right).is_some())
                    || (self.is_column(right) && int(left).is_some()))
            }
            Expr::Between(b) => {
                !b.negated
                    && self.is_column(&b.expr)
                    && int(&b.low).is_some()
                    && int(&b.high).is_some()
            }
            Expr::InList(l) => {
                !l.negated && self.is_column(&l.expr) && l.list.iter().all(|v| int(v).is_some())
            }
            _ => false,
        }
    }
}

/// Replace the table `name` of `ctx` by a resident copy of its rows, indexed on `columns`.
/// Returns the bytes it holds.
pub async fn hold(ctx: &SessionContext, name: &str, columns: &[&str]) -> Result<usize> {
    let df = ctx.table(name).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let table = Resident::new(schema, &batches, columns)
        .map_err(|e| Error::Query(format!("holding {name} in memory: {e}")))?;
    let size = table.size();
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(table))?;
    Ok(size)
}

/// The cache's tables a request reads, each with the columns its lookups filter on.
const CACHED: &[(&str, &[&str])] = &[
    ("occurrence_list", &["project_id", "id"]),
    ("occurrence_identifications", &["occurrence_id"]),
    ("detail_images", &["occurrence_id"]),
    ("detail_detections", &["occurrence_id"]),
    ("prediction_candidates", &["occurrence_id"]),
    ("detection_classifications", &["occurrence_id"]),
    ("default_filter_taxa", &["project_id"]),
    ("taxon_ancestry", &["ancestor_id"]),
];

/// Snapshot tables up to this size on disk are held too (projects, memberships, events,
/// deployments, taxa, lists: what visibility, filters and existence checks read).
const SMALL_TABLE_BYTES: u64 = 8 << 20;

/// Hold in memory what answering requests reads: the cache's request-path tables (when the
/// engine reads a cache) and the snapshot's small tables. Returns the bytes held.
pub async fn hold_for_requests(
    ctx: &SessionContext,
    snapshot: &crate::snapshot::Snapshot,
    cached: bool,
) -> Result<usize> {
    let mut bytes = 0;
    if cached {
        for (name, columns) in CACHED {
            bytes += hold(ctx, name, columns).await?;
        }
    }
    for table in &snapshot.tables {
        let size: u64 = table.files.iter().map(|f| f.size).sum();
        if size <= SMALL_TABLE_BYTES {
            bytes += hold(ctx, table.name, &["id"]).await?;
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
        let t = Resident::new(schema, &[batch.clone()], &["project_id", "id", "name"]).unwrap();
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
        ];
        for (sql, want) in cases {
            assert_eq!(ids(&ctx, sql).await, *want, "{sql}");
        }
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
