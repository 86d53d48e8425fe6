//! Left joins whose kept side streams through the join instead of being its build side.
//!
//! A collected (`CollectLeft`) hash join builds one hash table of its left side and streams
//! its right side through it on every partition. For a `LEFT JOIN`, the left rows that no
//! right row matched are emitted once the last partition has streamed its input, by that
//! partition alone: everything above the join (the exports' wall-clock times and structs, the
//! sort) then runs on one core for those rows. DataFusion puts the side it estimates smaller
//! on the left, and its estimates of an aggregation's rows are its input's: a project's
//! export (`occurrence_list` of the project, 199K rows, left-joined to the identifications
//! counted per occurrence, estimated at the 250K identifications, 20K in fact) was built on
//! its occurrences, and 179K of them were shaped and sorted on one core.
//!
//! [`ProbePreservedSide`] swaps such a join (a `RIGHT JOIN` building on the other side) when
//! the estimates cannot tell the sides apart — the other side is estimated at most twice the
//! kept side's rows, and within the rows DataFusion collects — and the kept side is estimated
//! at 64K rows or more (below that the tail is short), unless the other side's scans read more
//! than twice the kept side's rows: built on the kept side, the join's dynamic filter cuts those
//! scans to the kept keys (a project's occurrences and its best prediction).
//!
//! A partitioned `LEFT JOIN` (both sides too big to collect) whose other side is an
//! aggregation that emits only when its input ends is swapped too, unless its kept side is cut
//! by a value, for memory: built on the kept side, every kept row is held in the hash table
//! while the aggregation runs, its peak included; built on the aggregation's output, the join
//! holds those rows instead, once the aggregation has freed its input's work. DataFusion
//! compares the sides' estimated bytes, and a column more on the aggregation's side (the best
//! prediction's time, in the audit) tips its choice to the kept side: at SF10 (10M
//! occurrences, 75M classifications) the audit held 3.3 GB that way against 2.6 GB swapped.
//!
//! Runs right after DataFusion's join selection, before the dynamic filters are built (a swap
//! is not possible after them).

use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinType, Result};
use datafusion::config::ConfigOptions;
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{
    BinaryExpr, CastExpr, Column, InListExpr, Literal, TryCastExpr,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode};
use std::sync::Arc;

/// The kept side's estimated rows below which a join is left as it is.
const MIN_KEPT_ROWS: usize = 65_536;

/// See the module's comment.
#[derive(Debug, Default)]
pub struct ProbePreservedSide;

impl PhysicalOptimizerRule for ProbePreservedSide {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let collected = config.optimizer.hash_join_single_partition_threshold_rows;
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if *join.join_type() != JoinType::Left {
                return Ok(Transformed::no(node));
            }
            if *join.partition_mode() == PartitionMode::Partitioned {
                if emitted_at_its_end(join.right()) && !cut_by_a_value(join.left()) {
                    let swapped = join.swap_inputs(PartitionMode::Partitioned)?;
                    return Ok(Transformed::yes(swapped));
                }
                return Ok(Transformed::no(node));
            }
            if *join.partition_mode() != PartitionMode::CollectLeft {
                return Ok(Transformed::no(node));
            }
            // As DataFusion's join selection estimates them.
            let rows = |plan: &Arc<dyn ExecutionPlan>| -> Option<usize> {
                let stats = StatisticsContext::new()
                    .compute(plan.as_ref(), &StatisticsArgs::new())
                    .ok()?;
                match stats.num_rows {
                    Precision::Exact(n) | Precision::Inexact(n) => Some(n),
                    Precision::Absent => None,
                }
            };
            let (Some(kept), Some(other)) = (rows(join.left()), rows(join.right())) else {
                return Ok(Transformed::no(node));
            };
            if kept < MIN_KEPT_ROWS || other > kept.saturating_mul(2) || other > collected {
                return Ok(Transformed::no(node));
            }
            // Built on the kept side, the join's dynamic filter cuts the other side's scans to
            // the kept keys; swapped, it would filter nothing. Left as it is when the kept side
            // is cut by a condition on a scan (a project, an id, a date) and the other side's
            // scans read more than twice its estimate and more than four times the other
            // side's (an aggregation of many rows, not one the size of its input, as the
            // identifications counted per occurrence): a project's occurrences left-joined to
            // their best prediction, an aggregation of every classification, which swapped was
            // computed for every project's occurrences (SF1: a project's list view 1.24 s
            // instead of 0.67 s). The estimates do not see the cut (DataFusion's estimate of
            // `project_id = 1` without distinct counts is the whole table's share of a
            // validity rule), so the scan's condition is looked at instead.
            let scans_far_more =
                |n: usize| n > kept.saturating_mul(2) && n > other.saturating_mul(4);
            if cut_by_a_value(join.left())
                && leaf_rows(join.right(), &rows).is_none_or(scans_far_more)
            {
                return Ok(Transformed::no(node));
            }
            let swapped = join.swap_inputs(PartitionMode::CollectLeft)?;
            Ok(Transformed::yes(swapped))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "occlens_probe_preserved_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The rows the leaves (scans) under `plan` read, as estimated by `rows`; None when one is not
/// estimated.
fn leaf_rows(
    plan: &Arc<dyn ExecutionPlan>,
    rows: &dyn Fn(&Arc<dyn ExecutionPlan>) -> Option<usize>,
) -> Option<usize> {
    let children = plan.children();
    if children.is_empty() {
        return rows(plan);
    }
    children.into_iter().try_fold(0usize, |sum, child| {
        Some(sum.saturating_add(leaf_rows(child, rows)?))
    })
}

/// Whether `plan`'s rows are an aggregation's groups, emitted once its input has ended (not
/// a partial aggregation, not one that streams groups of ordered input), through projections,
/// filters and repartitions of them.
fn emitted_at_its_end(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(agg) = plan.downcast_ref::<AggregateExec>() {
        let last_step = matches!(
            agg.mode(),
            AggregateMode::Final
                | AggregateMode::FinalPartitioned
                | AggregateMode::Single
                | AggregateMode::SinglePartitioned
        );
        return last_step && *agg.input_order_mode() == InputOrderMode::Linear;
    }
    let through = plan.downcast_ref::<ProjectionExec>().is_some()
        || plan.downcast_ref::<FilterExec>().is_some()
        || plan.downcast_ref::<RepartitionExec>().is_some();
    match plan.children().as_slice() {
        [only] if through => emitted_at_its_end(only),
        _ => false,
    }
}

/// Whether the rows `plan` gives are cut by a filter right above a scan where a column
/// compares with a value (`project_id = 1`, `id IN (1, 2)`, `created_at >= …`): the kept side
/// of a join restricted by the request. A null check, a boolean column (the validity rule's),
/// a filter on an aggregation's output (the rule's count of real detections) or an `OR` with a
/// branch that compares with no value does not count. Followed only through the inputs that
/// bound the rows: one input, a join's preserved side (either side of an inner or semi join;
/// not the rows an anti join removes), every input of a union. At this point of the optimizer
/// a condition is a `FilterExec` on its scan (DataFusion pushes it into the scan later).
fn cut_by_a_value(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(filter) = plan.downcast_ref::<FilterExec>() {
        if filter.input().downcast_ref::<DataSourceExec>().is_some()
            && compares_with_a_value(filter.predicate())
        {
            return true;
        }
    }
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        let (left, right) = (cut_by_a_value(join.left()), || cut_by_a_value(join.right()));
        return match join.join_type() {
            JoinType::Inner | JoinType::LeftSemi | JoinType::RightSemi => left || right(),
            JoinType::Left | JoinType::LeftAnti | JoinType::LeftMark => left,
            JoinType::Right | JoinType::RightAnti | JoinType::RightMark => right(),
            JoinType::Full => false,
        };
    }
    let children = plan.children();
    if plan.downcast_ref::<UnionExec>().is_some() {
        return !children.is_empty() && children.into_iter().all(cut_by_a_value);
    }
    match children.as_slice() {
        [only] => cut_by_a_value(only),
        _ => false,
    }
}

fn compares_with_a_value(expr: &Arc<dyn PhysicalExpr>) -> bool {
    let value = |e: &Arc<dyn PhysicalExpr>| e.downcast_ref::<Literal>().is_some();
    if let Some(b) = expr.downcast_ref::<BinaryExpr>() {
        let (l, r) = (b.left(), b.right());
        return match b.op() {
            Operator::Eq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => {
                (is_column(l) && value(r)) || (value(l) && is_column(r))
            }
            Operator::And => compares_with_a_value(l) || compares_with_a_value(r),
            Operator::Or => compares_with_a_value(l) && compares_with_a_value(r),
            _ => false,
        };
    }
    if let Some(list) = expr.downcast_ref::<InListExpr>() {
        return is_column(list.expr()) && !list.negated() && list.list().iter().all(value);
    }
    false
}

/// A column, also read through a cast or a function of it alone (a snapshot's column read
/// through a conversion, `src/snapshot/types.rs`).
fn is_column(e: &Arc<dyn PhysicalExpr>) -> bool {
    if e.downcast_ref::<Column>().is_some() {
        return true;
    }
    if let Some(cast) = e.downcast_ref::<CastExpr>() {
        return is_column(cast.expr());
    }
    if let Some(cast) = e.downcast_ref::<TryCastExpr>() {
        return is_column(cast.expr());
    }
    match e.downcast_ref::<ScalarFunctionExpr>().map(|f| f.args()) {
        Some([arg]) => is_column(arg),
        _ => false,
    }
}

/// DataFusion's physical rules with [`ProbePreservedSide`] right after its join selection.
pub fn rules_with_probe_preserved_side(
    rules: &[Arc<dyn PhysicalOptimizerRule + Send + Sync>],
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut out = Vec::with_capacity(rules.len() + 1);
    for rule in rules {
        out.push(rule.clone());
        if rule.name() == "join_selection" {
            out.push(Arc::new(ProbePreservedSide) as _);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// A Parquet file of the integers `1..=rows` as column `v`.
    fn write(path: &std::path::Path, rows: i64) {
        use datafusion::arrow::array::Int64Array;
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::arrow::record_batch::RecordBatch;
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let file = std::fs::File::create(path).unwrap();
        let mut w =
            datafusion::parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        let values = Int64Array::from_iter_values(1..=rows);
        w.write(&RecordBatch::try_new(schema, vec![Arc::new(values)]).unwrap())
            .unwrap();
        w.close().unwrap();
    }

    /// A session over `tables` (name, rows: Parquet files of `1..=rows` as column `v`) with
    /// occlens's thresholds for collected join sides, and with [`ProbePreservedSide`] when
    /// `rule`.
    async fn session(dir: &std::path::Path, tables: &[(&str, i64)], rule: bool) -> SessionContext {
        let mut config = SessionConfig::new().with_target_partitions(2);
        crate::engine::tuning::apply(&mut config, crate::engine::tuning::TUNING).unwrap();
        let ctx = SessionContext::new_with_config(config);
        for (t, rows) in tables {
            let path = dir.join(format!("{t}.parquet"));
            if !path.exists() {
                write(&path, *rows);
            }
            ctx.register_parquet(*t, path.to_str().unwrap(), Default::default())
                .await
                .unwrap();
        }
        if !rule {
            return ctx;
        }
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
            .with_physical_optimizer_rules(rules_with_probe_preserved_side(
                ctx.state().physical_optimizers(),
            ))
            .build();
        SessionContext::new_with_state(state)
    }

    async fn plan_text(ctx: &SessionContext, sql: &str) -> String {
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        text
    }

    #[tokio::test]
    async fn a_left_join_on_comparable_estimates_streams_its_kept_side() {
        let dir = tempfile::tempdir().unwrap();
        let tables = [("k", 100_000), ("c", 150_000)];
        // 100K kept rows left-joined to an aggregation estimated at its 150K input rows.
        let sql = "SELECT k.v, c.n FROM k \
                   LEFT JOIN (SELECT v % 1000 AS w, count(*) AS n FROM c GROUP BY v % 1000) c \
                   ON c.w = k.v";
        // DataFusion alone builds on the kept side.
        let text = plan_text(&session(dir.path(), &tables, false).await, sql).await;
        assert!(text.contains("mode=CollectLeft, join_type=Left"), "{text}");
        let ctx = session(dir.path(), &tables, true).await;
        let text = plan_text(&ctx, sql).await;
        assert!(text.contains("mode=CollectLeft, join_type=Right"), "{text}");
        // The rows of the join unswapped: every kept row, 999 of them matched.
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 100_000);
        let matched: usize = batches
            .iter()
            .map(|b| b.column(1).len() - b.column(1).null_count())
            .sum();
        assert_eq!(matched, 999);
    }

    /// A kept side cut by a value (a project's occurrences) stays the build side when the other
    /// side's scans read far more than either side's estimate: its dynamic filter then cuts
    /// those scans. Without the cut, or with an other side the size of its scans, the same join
    /// is swapped.
    #[tokio::test]
    async fn a_kept_side_cut_by_a_value_stays_the_build_side_of_a_bigger_scan() {
        let dir = tempfile::tempdir().unwrap();
        let tables = [("k", 100_000), ("c", 500_000), ("s", 150_000)];
        let ctx = session(dir.path(), &tables, true).await;
        // 500K rows scanned, estimated at 100K once filtered (DataFusion's 20% for `v % 3 = 0`)
        // and grouped: within twice the kept side's 100K rows.
        let other = "(SELECT v AS w, count(*) AS n FROM c WHERE v % 3 = 0 GROUP BY v) c";
        // 150K rows scanned, estimated at 150K grouped: no scan to cut.
        let small = "(SELECT v % 1000 AS w, count(*) AS n FROM s GROUP BY v % 1000) c";
        for (other, cut, join) in [
            (other, "WHERE k.v >= 1", "join_type=Left"),
            (
                other,
                "WHERE k.v IN (1, 2, 3) OR k.v >= 1",
                "join_type=Left",
            ),
            (other, "", "join_type=Right"),
            (small, "WHERE k.v >= 1", "join_type=Right"),
        ] {
            let sql = format!("SELECT k.v, c.n FROM k LEFT JOIN {other} ON c.w = k.v {cut}");
            let text = plan_text(&ctx, &sql).await;
            assert!(
                text.contains(&format!("mode=CollectLeft, {join}")),
                "{sql}\n{text}"
            );
        }
    }

    /// A partitioned left join to an aggregation's groups builds on those groups (also through
    /// a `HAVING` filter, and with a join filter), unless its kept side is cut by a value; the
    /// rows are those of the join unswapped, unmatched kept rows included.
    #[tokio::test]
    async fn a_partitioned_left_join_builds_on_an_aggregation() {
        let dir = tempfile::tempdir().unwrap();
        let tables = [("k", 40_000), ("c", 300_000)];
        // 40K kept rows left-joined to 30K groups (w = 0..29999, each of ten values of c's
        // 1..=300000, m = w + 270000 or 300000 for w = 0) estimated at c's rows (a fifth of
        // them under a filter): DataFusion builds on the kept side, estimated smaller. Kept
        // values 30000..=40000 match no group.
        let other = "(SELECT v % 30000 AS w, count(*) AS n, max(v) AS m FROM c GROUP BY v % 30000";
        let join = |having: &str, on: &str, cut: &str| {
            format!(
                "SELECT k.v, c.n, c.m FROM k LEFT JOIN {other} {having}) c ON c.w = k.v {on} {cut}"
            )
        };
        let plain = join("", "", "");
        let cases = [
            (plain.clone(), "join_type=Right"),
            (join("HAVING max(v) > 285000", "", ""), "join_type=Right"),
            (join("", "AND c.m > 285000", ""), "join_type=Right"),
            (join("", "", "WHERE k.v >= 2"), "join_type=Left"),
        ];
        let partitioned = |ctx: SessionContext| async move {
            for set in [
                "SET datafusion.optimizer.hash_join_single_partition_threshold = 1000",
                "SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 1000",
            ] {
                ctx.sql(set).await.unwrap().collect().await.unwrap();
            }
            ctx
        };
        let alone = partitioned(session(dir.path(), &tables, false).await).await;
        let ctx = partitioned(session(dir.path(), &tables, true).await).await;
        let summary = |ctx: &SessionContext, sql: &str| {
            let sql = format!("SELECT count(*), count(n), sum(n), sum(m), sum(v) FROM ({sql}) j");
            let ctx = ctx.clone();
            async move {
                let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                    .unwrap()
                    .to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        for (sql, with) in &cases {
            let text = plan_text(&alone, sql).await;
            assert!(text.contains("mode=Partitioned, join_type=Left"), "{text}");
            let text = plan_text(&ctx, sql).await;
            assert!(
                text.contains(&format!("mode=Partitioned, {with}")),
                "{text}"
            );
            assert_eq!(
                summary(&ctx, sql).await,
                summary(&alone, sql).await,
                "{sql}"
            );
        }
        // Every kept row once: 29,999 matched (w = 1..=29999, n = 10, m = w + 270000), 10,001
        // not.
        let m: i64 = (1..=29_999i64).map(|w| w + 270_000).sum();
        let v: i64 = (1..=40_000i64).sum();
        let text = summary(&ctx, &plain).await;
        assert!(
            text.contains(&format!("| 40000 | 29999 | 299990 | {m} | {v} |")),
            "{text}"
        );
    }

    /// The conditions that cut a scan: a column compared with a value, in every branch of an
    /// `OR`, in any conjunct of an `AND`.
    #[test]
    fn a_cut_compares_a_column_with_a_value() {
        use datafusion::arrow::datatypes::{DataType, Field, Schema};
        use datafusion::physical_expr::expressions::{binary, col, in_list, is_null, lit};
        let schema = Schema::new(vec![Field::new("v", DataType::Int64, true)]);
        let v = || col("v", &schema).unwrap();
        let cmp = |op, l, r| binary(l, op, r, &schema).unwrap();
        let at_least_1 = || cmp(Operator::GtEq, v(), lit(1i64));
        let even = || {
            cmp(
                Operator::Eq,
                cmp(Operator::Modulo, v(), lit(2i64)),
                lit(0i64),
            )
        };
        let listed = |negated| in_list(v(), vec![lit(1i64), lit(2i64)], &negated, &schema).unwrap();
        for (expr, cuts) in [
            (at_least_1(), true),
            (cmp(Operator::Eq, lit(5i64), v()), true),
            (listed(false), true),
            (listed(true), false),
            (is_null(v()).unwrap(), false),
            (even(), false),
            (cmp(Operator::And, at_least_1(), even()), true),
            (cmp(Operator::Or, at_least_1(), even()), false),
            (cmp(Operator::Or, at_least_1(), listed(false)), true),
        ] {
            assert_eq!(compares_with_a_value(&expr), cuts, "{expr}");
        }
    }
}
