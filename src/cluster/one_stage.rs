//! The client's query planner on a cluster: Ballista's, except that a statement that joins or
//! computes window functions runs as one stage (one partition, no shuffles).
//!
//! Why: Ballista 55's adaptive planner re-plans a job after each stage, and it replaces a
//! shuffle that produced no rows with an empty node. A window's `PARTITION BY`, or a
//! partitioned hash join whose empty side it does not remove (a LEFT JOIN with an empty right
//! side whose output columns are projected), then asks again for its input to be hash
//! partitioned, which plans a new shuffle of the empty node, which is replaced again: the job
//! never ends (measured: 140 stages in 15 s for `SELECT sum(id) OVER (PARTITION BY
//! occurrence_id) … WHERE occurrence_id = -1`). A plan in one partition has no shuffle to
//! replace, so its job is one stage that ends.
//!
//! What it costs: such a statement runs as one task, on one core of one executor. occlens's
//! own heavy statements already run that way, range by range (`engine::range_jobs`); a user's
//! statement over the raw tables that joins runs in one task instead of being spread over the
//! executors. Statements without joins or windows (scans, filters, aggregates, sorts) keep
//! their stages.

use crate::engine::catalog;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
};
use std::fmt;
use std::sync::Arc;

/// Ballista's planner (`inner`), with the statements that join or window run as one stage.
#[derive(Debug)]
pub struct OneStagePlanner {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
}

impl OneStagePlanner {
    pub fn new(inner: Arc<dyn QueryPlanner + Send + Sync>) -> Self {
        Self { inner }
    }
}

/// Whether `plan` (optimized: its subqueries are joins by now) joins or computes a window.
pub fn needs_one_stage(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        found = matches!(node, LogicalPlan::Join(_) | LogicalPlan::Window(_));
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

#[async_trait]
impl QueryPlanner for OneStagePlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self
            .inner
            .create_physical_plan(logical_plan, session_state)
            .await?;
        // Also at one partition: the settings hold dynamic filters off too.
        Ok(if needs_one_stage(logical_plan) {
            Arc::new(OneStageExec { inner: plan })
        } else {
            plan
        })
    }
}

/// Runs `inner` (Ballista's job for a statement) with the settings of a one-stage plan: the
/// job's settings are those of the task context it is executed with.
#[derive(Debug)]
struct OneStageExec {
    inner: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for OneStageExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "OneStageExec")
    }
}

impl ExecutionPlan for OneStageExec {
    fn name(&self) -> &str {
        "OneStageExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.inner]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(inner), true) => Ok(Arc::new(OneStageExec { inner })),
            _ => datafusion::common::internal_err!("OneStageExec has one child"),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut config = context.session_config().clone();
        catalog::one_stage(config.options_mut())?;
        let context = TaskContext::new(
            context.task_id(),
            context.session_id(),
            config,
            context.scalar_functions().clone(),
            context.higher_order_functions().clone(),
            context.aggregate_functions().clone(),
            context.window_functions().clone(),
            context.runtime_env(),
        );
        self.inner.execute(partition, Arc::new(context))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    /// The optimized plan of `sql` over two small tables (the plan this planner is given).
    async fn optimized(sql: &str) -> LogicalPlan {
        let ctx = SessionContext::new();
        for t in ["a", "b"] {
            ctx.sql(&format!("CREATE TABLE {t} AS VALUES (1, 2), (3, 4)"))
                .await
                .unwrap();
        }
        ctx.sql(sql).await.unwrap().into_optimized_plan().unwrap()
    }

    #[tokio::test]
    async fn joins_and_windows_run_as_one_stage() {
        for sql in [
            "SELECT * FROM a JOIN b ON a.column1 = b.column1",
            "SELECT * FROM a LEFT JOIN b ON a.column1 = b.column1 AND b.column2 < 0",
            "SELECT * FROM a WHERE column1 IN (SELECT column1 FROM b)",
            "SELECT * FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.column2 = a.column2)",
            "SELECT column1, row_number() OVER (PARTITION BY column2 ORDER BY column1) FROM a",
            "SELECT count(*) FROM (SELECT * FROM a CROSS JOIN b)",
        ] {
            assert!(needs_one_stage(&optimized(sql).await), "{sql}");
        }
    }

    /// A planner standing for Ballista's: its plan records the settings it is executed with.
    #[derive(Debug, Default)]
    struct Recorder(Arc<std::sync::Mutex<Vec<(usize, bool)>>>);

    #[derive(Debug)]
    struct Recording {
        seen: Arc<std::sync::Mutex<Vec<(usize, bool)>>>,
        properties: Arc<PlanProperties>,
    }

    #[async_trait]
    impl QueryPlanner for Recorder {
        async fn create_physical_plan(
            &self,
            plan: &LogicalPlan,
            _: &dyn Session,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            use datafusion::physical_expr::{EquivalenceProperties, Partitioning};
            use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
            let schema = Arc::new(plan.schema().as_arrow().clone());
            Ok(Arc::new(Recording {
                seen: self.0.clone(),
                properties: Arc::new(PlanProperties::new(
                    EquivalenceProperties::new(schema),
                    Partitioning::UnknownPartitioning(1),
                    EmissionType::Incremental,
                    Boundedness::Bounded,
                )),
            }))
        }
    }

    impl DisplayAs for Recording {
        fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "Recording")
        }
    }

    impl ExecutionPlan for Recording {
        fn name(&self) -> &str {
            "Recording"
        }
        fn properties(&self) -> &Arc<PlanProperties> {
            &self.properties
        }
        fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
            vec![]
        }
        fn apply_expressions(
            &self,
            _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
        ) -> Result<TreeNodeRecursion> {
            Ok(TreeNodeRecursion::Continue)
        }
        fn with_new_children(
            self: Arc<Self>,
            _: Vec<Arc<dyn ExecutionPlan>>,
        ) -> Result<Arc<dyn ExecutionPlan>> {
            Ok(self)
        }
        fn execute(&self, _: usize, ctx: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
            let options = ctx.session_config().options();
            self.seen.lock().unwrap().push((
                options.execution.target_partitions,
                options.optimizer.enable_dynamic_filter_pushdown,
            ));
            Ok(Box::pin(
                datafusion::physical_plan::EmptyRecordBatchStream::new(self.schema()),
            ))
        }
    }

    #[tokio::test]
    async fn a_job_that_joins_runs_with_one_partition_and_no_dynamic_filters() {
        use datafusion::arrow::array::Int64Array;
        use datafusion::execution::session_state::SessionStateBuilder;
        use datafusion::prelude::SessionConfig;
        let recorder = Recorder::default();
        let seen = recorder.0.clone();
        for partitions in [4, 1] {
            let state = SessionStateBuilder::new()
                .with_default_features()
                .with_config(SessionConfig::new().with_target_partitions(partitions))
                .with_query_planner(Arc::new(OneStagePlanner::new(Arc::new(Recorder(
                    seen.clone(),
                )))))
                .build();
            let ctx = SessionContext::new_with_state(state);
            // Registered, not created by a statement: a statement would go through the planner.
            for t in ["a", "b"] {
                let batch = datafusion::arrow::record_batch::RecordBatch::try_from_iter([
                    ("column1", Arc::new(Int64Array::from(vec![1])) as _),
                    ("column2", Arc::new(Int64Array::from(vec![2])) as _),
                ])
                .unwrap();
                ctx.register_batch(t, batch).unwrap();
            }
            for sql in [
                "SELECT * FROM a JOIN b ON a.column1 = b.column1",
                "SELECT * FROM a",
            ] {
                ctx.sql(sql).await.unwrap().collect().await.unwrap();
            }
        }
        // The join at 4 and at 1 partition: one partition, no dynamic filters; the scan as
        // the session has it.
        assert_eq!(
            *seen.lock().unwrap(),
            [(1, false), (4, true), (1, false), (1, true)]
        );
        drop(recorder);
    }

    #[tokio::test]
    async fn scans_aggregates_and_sorts_keep_their_stages() {
        for sql in [
            "SELECT * FROM a WHERE column1 > 1 ORDER BY column2 DESC",
            "SELECT column2, count(*), sum(column1) FROM a GROUP BY column2",
            "SELECT count(DISTINCT column1) FROM a",
            "SELECT column1 FROM a UNION ALL SELECT column1 FROM b",
        ] {
            assert!(!needs_one_stage(&optimized(sql).await), "{sql}");
        }
    }
}
