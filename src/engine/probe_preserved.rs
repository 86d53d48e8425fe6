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
//! at 64K rows or more (below that the tail is short). Runs right after DataFusion's join
//! selection, before the dynamic filters are built (a swap is not possible after them).

use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{JoinType, Result};
use datafusion::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::ExecutionPlan;
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
            if *join.partition_mode() != PartitionMode::CollectLeft
                || *join.join_type() != JoinType::Left
            {
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

    #[tokio::test]
    async fn a_left_join_on_comparable_estimates_streams_its_kept_side() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("k.parquet"), 100_000);
        write(&dir.path().join("c.parquet"), 150_000);
        // occlens's thresholds for collected join sides.
        let mut config = SessionConfig::new().with_target_partitions(2);
        crate::engine::tuning::apply(&mut config, crate::engine::tuning::TUNING).unwrap();
        let ctx = SessionContext::new_with_config(config);
        for t in ["k", "c"] {
            let path = dir.path().join(format!("{t}.parquet"));
            ctx.register_parquet(t, path.to_str().unwrap(), Default::default())
                .await
                .unwrap();
        }
        // 100K kept rows left-joined to an aggregation estimated at its 150K input rows.
        let sql = "SELECT k.v, c.n FROM k \
                   LEFT JOIN (SELECT v % 1000 AS w, count(*) AS n FROM c GROUP BY v % 1000) c \
                   ON c.w = k.v";
        // DataFusion alone builds on the kept side.
        let plan = ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        assert!(text.contains("mode=CollectLeft, join_type=Left"), "{text}");
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
            .with_physical_optimizer_rules(rules_with_probe_preserved_side(
                ctx.state().physical_optimizers(),
            ))
            .build();
        let ctx = SessionContext::new_with_state(state);
        let df = ctx.sql(sql).await.unwrap();
        let plan = df.clone().create_physical_plan().await.unwrap();
        let text = displayable(plan.as_ref()).indent(false).to_string();
        assert!(text.contains("mode=CollectLeft, join_type=Right"), "{text}");
        // The rows of the join unswapped: every kept row, 999 of them matched.
        let batches = df.collect().await.unwrap();
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 100_000);
        let matched: usize = batches
            .iter()
            .map(|b| b.column(1).len() - b.column(1).null_count())
            .sum();
        assert_eq!(matched, 999);
    }
}
