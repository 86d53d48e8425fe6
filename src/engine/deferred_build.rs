//! Build sides that start when their join first asks for rows, not when the plan starts.
//!
//! DataFusion starts the build side of a collected (`CollectLeft`) hash join as soon as the
//! plan is executed: its `CoalescePartitionsExec` spawns the input's tasks at once. A dynamic
//! join filter from an enclosing join (a project's occurrence ids) is then not known yet when
//! those scans open their row groups, and a row group is read with the filter it had when it
//! was opened: on 1M-row row groups a project's detection scan read 1.66M of 2.5M rows instead
//! of 0.5M. [`DeferBuildSides`] wraps each such build side in a [`Deferred`] node, whose
//! `execute` returns a stream that executes its input on the first poll. A join polls its
//! build side when it is itself polled, which an enclosing join does only once its own build
//! side (and so its filter) is complete.
//!
//! Added after DataFusion's rules (the filters are already pushed down), on local sessions
//! only: a cluster serializes its plans, and has no codec for this node.

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::execution::TaskContext;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream,
};
use futures::TryStreamExt;
use std::sync::Arc;

/// Wraps the build side of every collected hash join in [`Deferred`].
#[derive(Debug, Default)]
pub struct DeferBuildSides;

impl PhysicalOptimizerRule for DeferBuildSides {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if *join.partition_mode() != PartitionMode::CollectLeft
                || join.left().downcast_ref::<Deferred>().is_some()
            {
                return Ok(Transformed::no(node));
            }
            let left: Arc<dyn ExecutionPlan> = Arc::new(Deferred::new(join.left().clone()));
            let right = join.right().clone();
            let node = node.replace_children(
                vec![left, right],
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep),
            )?;
            Ok(Transformed::yes(node))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "defer_build_sides"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Its input, executed on the first poll of its stream instead of when it is executed.
#[derive(Debug, Clone)]
pub struct Deferred {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl Deferred {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let properties = input.properties().clone();
        Deferred { input, properties }
    }
}

impl DisplayAs for Deferred {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeferredExec")
    }
}

impl ExecutionPlan for Deferred {
    fn name(&self) -> &str {
        "DeferredExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return datafusion::common::internal_err!("DeferredExec has one input");
        }
        Ok(Arc::new(Deferred::new(children.swap_remove(0))))
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

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.clone();
        let later =
            futures::stream::once(async move { input.execute(partition, context) }).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.input.schema(),
            later,
        )))
    }
}
