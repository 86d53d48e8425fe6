//! `row_number()` over input already sorted by its window, numbered in one pass.
//!
//! The related rows of a detail and of the JSON exports are numbered within small partitions
//! (`row_number() OVER (PARTITION BY project_id, occurrence_id[, detection_id] ORDER BY …)`:
//! hundreds of thousands of partitions of a few rows each). DataFusion's
//! `BoundedWindowAggExec` keeps a state object and a slice of the batch per partition: on
//! SF1's project 1 it took 1.6 s of compute to number 1.49M classifications in 500k
//! partitions, 3.6 s for the five relations of `occurrences_api_json`, more than the joins
//! and scans under them.
//!
//! Its input is sorted by the partition keys and then by the window's order (the node
//! requires it, and DataFusion sorts for it), so a row's number is its predecessor's plus
//! one when both have the same partition keys, else 1. [`NumberSortedRows`] replaces each
//! such node (one `row_number()`, input `Sorted`) with [`RowNumbers`], which does exactly
//! that, comparing the keys as `arrow::row` rows (NULLs equal, as in `PARTITION BY`). The node
//! keeps the window node it replaces for its schema, properties and input requirements.
//!
//! Added after DataFusion's rules, on local sessions with the fast formulation only: a cluster
//! serializes its plans, and has no codec for this node; `--semantics window` audits occlens
//! on DataFusion's own operators.

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_err, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::window::StandardWindowExpr;
use datafusion::physical_expr::OrderingRequirements;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::distribution_requirements::InputDistributionRequirements;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowUDFExpr};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use std::sync::Arc;

/// Replaces every `BoundedWindowAggExec` computing one `row_number()` over sorted input with
/// [`RowNumbers`].
#[derive(Debug, Default)]
pub struct NumberSortedRows;

/// `Some(window)` when `plan` is a window node that [`RowNumbers`] computes the same way.
fn replaceable(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<BoundedWindowAggExec>> {
    let window = plan.downcast_ref::<BoundedWindowAggExec>()?;
    if window.input_order_mode != InputOrderMode::Sorted || window.window_expr().len() != 1 {
        return None;
    }
    let expr = window.window_expr()[0]
        .as_any()
        .downcast_ref::<StandardWindowExpr>()?;
    let function = expr
        .get_standard_func_expr()
        .as_any()
        .downcast_ref::<WindowUDFExpr>()?;
    let schema = window.input().schema();
    let exact = window.window_expr()[0]
        .partition_by()
        .iter()
        .all(|k| k.data_type(&schema).is_ok_and(|t| exact_key(&t)));
    // DataFusion's own check, when the node runs, that the input orders the partition keys
    // (the window's ordering requirement may also be met by its ORDER BY keys alone).
    let ordered = window.partition_by_sort_keys().is_ok();
    (function.fun().name() == "row_number" && exact && ordered).then(|| Arc::new(window.clone()))
}

/// Key types whose `arrow::row` equality is SQL's (NULLs aside, equal as in `PARTITION BY`).
/// Floating-point keys are left to DataFusion: the row format tells -0.0 from 0.0 and equates
/// NaNs, where the window's own comparison may not.
fn exact_key(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
        )
}

impl PhysicalOptimizerRule for NumberSortedRows {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| match replaceable(&node) {
            Some(window) => Ok(Transformed::yes(Arc::new(RowNumbers::new(window)) as _)),
            None => Ok(Transformed::no(node)),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "number_sorted_rows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The window node's input with its `row_number()` column appended, numbered in one pass.
#[derive(Debug, Clone)]
pub struct RowNumbers {
    /// The node replaced: schema, properties, input and its requirements.
    window: Arc<BoundedWindowAggExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl RowNumbers {
    fn new(window: Arc<BoundedWindowAggExec>) -> Self {
        RowNumbers {
            window,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn partition_by(&self) -> &[Arc<dyn PhysicalExpr>] {
        self.window.window_expr()[0].partition_by()
    }
}

impl DisplayAs for RowNumbers {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self.partition_by().iter().map(|e| e.to_string()).collect();
        write!(f, "RowNumbersExec: partition_by=[{}]", keys.join(", "))
    }
}

impl ExecutionPlan for RowNumbers {
    fn name(&self) -> &str {
        "RowNumbersExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.window.properties()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.window.input_distribution_requirements()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.window.required_input_ordering()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.window.benefits_from_input_partitioning()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.window.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.window.apply_expressions(f)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let window: Arc<dyn ExecutionPlan> = self.window.clone();
        let window = window.replace_children(children, options)?;
        match replaceable(&window) {
            Some(window) => Ok(Arc::new(RowNumbers::new(window))),
            None => Ok(window),
        }
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if !matches!(self.window.input_order_mode, InputOrderMode::Sorted) {
            return internal_err!("RowNumbersExec needs input sorted by its window");
        }
        let input = self.window.input().execute(partition, context)?;
        let schema = self.window.schema();
        let number_type = schema.field(schema.fields().len() - 1).data_type().clone();
        let keys = self.partition_by().to_vec();
        let fields = keys
            .iter()
            .map(|k| Ok(SortField::new(k.data_type(&input.schema())?)))
            .collect::<Result<Vec<_>>>()?;
        let mut numbering = Numbering {
            converter: RowConverter::new(fields)?,
            keys,
            last: None,
            number: 0,
        };
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let out_schema = schema.clone();
        let stream = input.map(move |batch| {
            let batch = batch?;
            let timer = baseline.elapsed_compute().timer();
            let numbers = cast(&numbering.number(&batch)?, &number_type)?;
            let mut columns = batch.columns().to_vec();
            columns.push(numbers);
            let out = RecordBatch::try_new(out_schema.clone(), columns)?;
            timer.done();
            baseline.record_output(out.num_rows());
            Ok(out)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The numbering state of one stream: the last row's partition keys and number.
struct Numbering {
    converter: RowConverter,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    last: Option<OwnedRow>,
    number: u64,
}

impl Numbering {
    /// The numbers of `batch`'s rows, continuing from the previous batch's last row.
    fn number(&mut self, batch: &RecordBatch) -> Result<ArrayRef> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(Arc::new(UInt64Array::from(Vec::<u64>::new())));
        }
        if self.keys.is_empty() {
            // One partition: the numbers go on.
            let first = self.number + 1;
            self.number += rows as u64;
            return Ok(Arc::new(UInt64Array::from_iter_values(first..=self.number)));
        }
        let keys = self
            .keys
            .iter()
            .map(|k| k.evaluate(batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let keys = self.converter.convert_columns(&keys)?;
        let mut numbers = Vec::with_capacity(rows);
        let same_as_last = self.last.as_ref().is_some_and(|l| l.row() == keys.row(0));
        let mut number = if same_as_last { self.number + 1 } else { 1 };
        numbers.push(number);
        for i in 1..rows {
            number = if keys.row(i) == keys.row(i - 1) {
                number + 1
            } else {
                1
            };
            numbers.push(number);
        }
        self.number = number;
        self.last = Some(keys.row(rows - 1).owned());
        Ok(Arc::new(UInt64Array::from(numbers)))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use std::sync::Arc;

    /// A session of small batches (partitions cross batch boundaries), with or without the rule.
    fn session(rule: bool) -> SessionContext {
        let config = SessionConfig::new()
            .with_batch_size(3)
            .with_target_partitions(3);
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features();
        if rule {
            state = state.with_physical_optimizer_rule(Arc::new(super::NumberSortedRows));
        }
        SessionContext::new_with_state(state.build())
    }

    // Keys with NULLs (a NULL key is one partition), partitions of one to many rows, ties in
    // the window's first order key.
    const ROWS: &str = "(VALUES (1, 10, 5, 1), (1, 10, 5, 2), (1, 10, 7, 3), (1, NULL, 1, 4), \
        (1, NULL, 2, 5), (NULL, NULL, 3, 6), (NULL, NULL, 3, 7), (2, 10, 1, 8), (1, 11, 9, 9), \
        (2, 10, 4, 10), (2, 10, 4, 11), (2, 10, 4, 12), (2, 10, 4, 13), (3, 1, NULL, 14), \
        (3, 1, 0, 15)) AS t(a, b, c, d)";

    async fn run(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    #[tokio::test]
    async fn numbers_equal_the_window_functions() {
        for sql in [
            format!(
                "SELECT a, b, c, d, row_number() OVER (PARTITION BY a, b ORDER BY c DESC, d) AS n \
                 FROM {ROWS} ORDER BY a, b, c DESC, d"
            ),
            format!(
                "SELECT * FROM (SELECT d, row_number() OVER (PARTITION BY b ORDER BY d DESC) AS n \
                 FROM {ROWS}) WHERE n <= 2 ORDER BY d"
            ),
            format!("SELECT d, row_number() OVER (ORDER BY c, d) AS n FROM {ROWS} ORDER BY d"),
        ] {
            let (with, without) = (session(true), session(false));
            let plan = run(&with, &format!("EXPLAIN {sql}")).await;
            assert!(plan.contains("RowNumbersExec"), "{plan}");
            assert!(!plan.contains("BoundedWindowAggExec"), "{plan}");
            let expected = run(&without, &sql).await;
            assert!(expected.contains("| 2 "), "{expected}");
            assert_eq!(run(&with, &sql).await, expected, "{sql}");
        }
    }

    #[tokio::test]
    async fn floating_point_keys_stay_with_datafusion() {
        let sql = format!(
            "EXPLAIN SELECT d, row_number() OVER (PARTITION BY CAST(c AS DOUBLE) ORDER BY d) AS n \
             FROM {ROWS}"
        );
        let plan = run(&session(true), &sql).await;
        assert!(plan.contains("BoundedWindowAggExec"), "{plan}");
        assert!(!plan.contains("RowNumbersExec"), "{plan}");
    }
}
