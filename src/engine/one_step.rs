//! The best prediction's aggregation in one step: its input rows repartitioned by occurrence
//! and aggregated once, instead of a partial step, a repartition of partial states and a
//! final step.
//!
//! DataFusion plans every grouped aggregation in two steps. `arg_max_of_maxima` groups by
//! occurrence (queries/03_predictions.sql), where nearly every row of a batch is its own
//! group: the partial step gives up (`skip_partial_aggregation_probe_ratio_threshold`,
//! src/engine/tuning.rs) and turns every row into a partial state, a list of one winner
//! (src/functions/maxima.rs), which the repartition then copies list by list. [`OneStep`]
//! rewrites `FinalPartitioned ← hash repartition ← Partial` into `SinglePartitioned ← hash
//! repartition of the partial step's input` when every aggregate of it is
//! `arg_max_of_maxima`: the repartition moves the input's own columns and the aggregation
//! reads them directly (DataFusion's `CombinePartialFinalAggregate` makes the same
//! rewrite when no repartition sits between the steps).

use crate::functions::maxima;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use std::sync::Arc;

/// See the module's comment.
#[derive(Debug, Default)]
pub struct OneStep;

impl PhysicalOptimizerRule for OneStep {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            Ok(match one_step(&node)? {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "occlens_one_step"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `node` in one step, when it is the final step of such an aggregation.
fn one_step(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(last) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if *last.mode() != AggregateMode::FinalPartitioned {
        return Ok(None);
    }
    let Some(shuffle) = last.input().downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    // An order-keeping shuffle: operators above may read its order, which a new one loses.
    if shuffle.preserve_order() {
        return Ok(None);
    }
    let Partitioning::Hash(_, n) = shuffle.partitioning() else {
        return Ok(None);
    };
    let Some(first) = shuffle.input().downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let only_maxima = !first.aggr_expr().is_empty()
        && first
            .aggr_expr()
            .iter()
            .all(|a| a.fun().name() == maxima::NAME);
    if *first.mode() != AggregateMode::Partial
        || !only_maxima
        || !first.group_expr().is_single()
        || first.group_expr().expr().is_empty()
    {
        return Ok(None);
    }
    let keys = first.group_expr().input_exprs();
    let input = Arc::new(RepartitionExec::try_new(
        Arc::clone(first.input()),
        Partitioning::Hash(keys, *n),
    )?);
    let step = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        first.group_expr().clone(),
        first.aggr_expr().to_vec(),
        first.filter_expr().to_vec(),
        input,
        first.input_schema(),
    )?
    .with_limit_options(last.limit_options());
    // The same columns as the final step's (names and types), partitioned and ordered as
    // its rows were (operators above may rely on either), else left as it was.
    let (new, old) = (step.properties(), last.properties());
    if step.schema().fields() != last.schema().fields()
        || new.output_partitioning() != old.output_partitioning()
        || new.output_ordering() != old.output_ordering()
    {
        return Ok(None);
    }
    Ok(Some(Arc::new(step)))
}
