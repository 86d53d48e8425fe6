//! A plan that reads its inputs' rows input after input, every input started at once: the
//! range jobs of a statement on a cluster (`range_jobs`), read back in range order.

use crate::error::Result;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use std::sync::Arc;

/// Its inputs' rows, input after input, every input started at once. Each input runs with
/// the task context it was planned with (a cluster's job takes its settings, one partition
/// among them, from it), whatever context this node is executed with.
#[derive(Debug)]
pub struct InOrder {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    tasks: Vec<Arc<TaskContext>>,
    properties: Arc<PlanProperties>,
}

impl InOrder {
    pub fn try_new(
        jobs: Vec<(Arc<dyn ExecutionPlan>, Arc<TaskContext>)>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some((first, _)) = jobs.first() else {
            return Err(crate::error::Error::Query("no range to run".into()));
        };
        let schema = first.schema();
        for (plan, _) in &jobs {
            let kinds = |s: &datafusion::arrow::datatypes::Schema| -> Vec<_> {
                s.fields()
                    .iter()
                    .map(|f| (f.name().clone(), f.data_type().clone()))
                    .collect()
            };
            if kinds(&plan.schema()) != kinds(&schema) {
                return Err(crate::error::Error::Query(
                    "the ranges of a statement were planned with different columns".into(),
                ));
            }
        }
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        let (inputs, tasks) = jobs.into_iter().unzip();
        Ok(Arc::new(InOrder {
            inputs,
            tasks,
            properties,
        }))
    }
}

impl DisplayAs for InOrder {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InOrderExec: {} inputs", self.inputs.len())
    }
}

/// Batches an input may have ready before the reader reaches it.
const AHEAD: usize = 2;

impl ExecutionPlan for InOrder {
    fn name(&self) -> &str {
        "InOrderExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let jobs = children
            .into_iter()
            .zip(self.tasks.iter().cloned())
            .collect();
        InOrder::try_new(jobs)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        if partition != 0 {
            return datafusion::common::internal_err!("InOrderExec has one partition");
        }
        // Every input starts now, each feeding its own channel; the reader drains them in
        // order. A dropped reader drops the tasks, which stops them.
        let mut readers = Vec::with_capacity(self.inputs.len());
        let started = std::time::Instant::now();
        for (i, (input, task)) in self.inputs.iter().zip(&self.tasks).enumerate() {
            let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
            let (input, task) = (input.clone(), task.clone());
            let job = SpawnedTask::spawn(async move {
                let mut stream = match input.execute(0, task) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let mut first = true;
                while let Some(batch) = stream.next().await {
                    if first {
                        crate::engine::statements::trace(&format!("range job {i}: rows"), started);
                        first = false;
                    }
                    let failed = batch.is_err();
                    if tx.send(batch).await.is_err() || failed {
                        return;
                    }
                }
                crate::engine::statements::trace(&format!("range job {i}: read"), started);
            });
            readers.push((job, rx));
        }
        // A job whose task ended without an error (its channel closed) either finished or
        // panicked: a panic is this input's error, never its rows silently left out.
        let batches = futures::stream::iter(readers).flat_map(|(job, rx)| {
            futures::stream::unfold((Some(job), rx), |(job, mut rx)| async move {
                if let Some(batch) = rx.recv().await {
                    return Some((batch, (job, rx)));
                }
                match job?.join().await {
                    Ok(()) => None,
                    Err(e) => Some((
                        Err(datafusion::error::DataFusionError::Execution(format!(
                            "a range job stopped: {e}"
                        ))),
                        (None, rx),
                    )),
                }
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
    use datafusion::prelude::SessionContext;

    async fn plan(ctx: &SessionContext, sql: &str) -> (Arc<dyn ExecutionPlan>, Arc<TaskContext>) {
        let df = ctx.sql(sql).await.unwrap();
        let task = Arc::new(df.task_ctx());
        (df.create_physical_plan().await.unwrap(), task)
    }

    /// An input whose task panics is an error of the whole, not rows silently left out.
    #[tokio::test]
    async fn an_input_that_panics_fails_the_whole() {
        let ctx = SessionContext::new();
        ctx.register_udf(create_udf(
            "boom",
            vec![DataType::Int64],
            DataType::Int64,
            Volatility::Volatile,
            Arc::new(|_: &[ColumnarValue]| panic!("boom")),
        ));
        let first = plan(&ctx, "SELECT 1 AS n").await;
        let second = plan(&ctx, "SELECT boom(2) AS n").await;
        let third = plan(&ctx, "SELECT 3 AS n").await;
        let whole = InOrder::try_new(vec![first.clone(), third.clone()]).unwrap();
        let stream = whole.execute(0, Arc::new(TaskContext::default())).unwrap();
        let rows: Vec<_> = futures::TryStreamExt::try_collect(stream).await.unwrap();
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        let broken = InOrder::try_new(vec![first, second, third]).unwrap();
        let stream = broken.execute(0, Arc::new(TaskContext::default())).unwrap();
        let got: datafusion::common::Result<Vec<_>> =
            futures::TryStreamExt::try_collect(stream).await;
        let e = got.expect_err("the second input panicked");
        assert!(e.to_string().contains("a range job stopped"), "{e}");
    }
}
