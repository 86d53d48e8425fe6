//! On a cluster, a statement over occurrences runs as one job per range of occurrence ids,
//! the jobs started together and their results put back together on the client.
//!
//! Ballista plans a statement in the default partitioning as one stage per hash repartition,
//! each writing its shuffle files and reading them back: with one executor the full list view
//! of SF1 wrote 0.6–1.1 GB of them and took 2.3–2.9 times its local time. Planned in one
//! partition a job is one stage and writes no shuffle, but it is one task, so it uses one core
//! of the cluster, and its join sides must fit one executor (at SF10 a 4G pool did not).
//!
//! The occurrence views compute each row from its occurrence's own rows, so a range of
//! occurrence ids is a statement of its own: each range is planned in one partition
//! (`catalog::one_stage_session`), every range's job is started at once (the cluster runs
//! them on its task slots), and their rows are read in range order, which for a statement
//! ordered by id is its order ([`Split::Rows`]); a count, sum, minimum or maximum of the rows
//! is computed per range and combined here ([`Split::Totals`]). The number of ranges is
//! rounded up to a multiple of the partitions the session plans (`DATAFUSION_EXECUTION_TARGET_PARTITIONS`,
//! by default the client's cores: set it to the cluster's task slots), more than one each
//! when a range would hold more than [`JOB_ROWS`] rows. A `UNION ALL` of the ranges would be
//! one job, but Ballista 55 restricts a union's branches per task, and such jobs failed
//! ("partition count mismatch 0!=1") or never finished.
//!
//! Ballista 55 does not cancel a job whose client stops reading: after an error in one range
//! or a Ctrl-C, the other ranges' jobs run to their end on the cluster (as a single job did).

use crate::engine::catalog;
use crate::engine::in_order::InOrder;
use crate::error::Result;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Column;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{lit, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::{DataFrame, SessionContext};
use std::sync::Arc;

/// Rows (occurrences, detections, classifications) a range's job may hold: as for the
/// cache's ranges (`cache::build`), 2M occurrences at SF1's proportions.
pub const JOB_ROWS: i64 = 22_000_000;

/// The views whose rows are one per occurrence with its id as `id`, each computed from that
/// occurrence's rows only: a filter on `id` narrows their scans of detections and
/// classifications (it reaches them through the joins on occurrence_id).
pub const BY_OCCURRENCE: &[&str] = &[
    "occurrence_list",
    "occurrence_nested",
    "valid_occurrence",
    "audit_determination",
    "audit_difference",
    "audit_invalid",
    "export_simple_csv",
    "occurrence_flat",
];

/// How the results of a split statement's ranges are put back together.
#[derive(Debug, Clone, PartialEq)]
pub enum Split {
    /// Its rows, ranges after ranges.
    Rows(IdOrder),
    /// One row of totals (an aggregate without GROUP BY): each output column combined over
    /// the ranges' rows.
    Totals(Vec<(String, Combine)>),
}

/// How an aggregate's values of the ranges make the whole's: counts and sums are summed,
/// minima and maxima taken again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Combine {
    Sum,
    Min,
    Max,
}

/// How the rows of a split statement are put back together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IdOrder {
    /// Ordered by id: the ranges in ascending order.
    Ascending,
    /// Ordered by id descending: the ranges in descending order.
    Descending,
    /// No order asked: the ranges in ascending order.
    Unordered,
}

/// The relation a split statement reads: one of the [`BY_OCCURRENCE`] names, as a table, or
/// as a view inlined by the planner (an alias of that name over its plan).
enum Leaf<'a> {
    Table(&'a datafusion::logical_expr::TableScan),
    View(&'a datafusion::common::TableReference, &'a LogicalPlan),
}

impl Leaf<'_> {
    fn name(&self) -> &datafusion::common::TableReference {
        match self {
            Leaf::Table(scan) => &scan.table_name,
            Leaf::View(t, _) => t,
        }
    }
}

/// Whether `plan` (as planned from SQL) can run range by range, and how: a chain of
/// projections, filters, aliases and at most one sort by `id` (NULLs where the ranges put
/// them) over one of the [`BY_OCCURRENCE`] views (or a table of that name with an integer
/// `id`, the cache's), or counts, sums, minima and maxima (not DISTINCT, no GROUP BY) of such
/// a chain. Anything else (another aggregate, a join, a limit, a window, a subquery, a sort
/// by another column, a subquery merely aliased as a view's name) is not cut.
pub async fn splittable(ctx: &SessionContext, plan: &LogicalPlan) -> Result<Option<Split>> {
    splittable_by(ctx, plan, &catalog::defines).await
}

/// [`splittable`], with `own(name, definition)` telling occlens's views from views a user
/// created under their names (`sql --allow-write`), whose ids may be NULL where the
/// occurrences' are not.
async fn splittable_by(
    ctx: &SessionContext,
    plan: &LogicalPlan,
    own: &(dyn Fn(&str, &str) -> bool + Sync),
) -> Result<Option<Split>> {
    let (split, leaf) = match totals(plan) {
        Some((combine, input)) => match shape(input) {
            Some((_, leaf)) => (Split::Totals(combine), leaf),
            None => return Ok(None),
        },
        None => match shape(plan) {
            Some((order, leaf)) => (Split::Rows(order), leaf),
            None => return Ok(None),
        },
    };
    // Ranges of integers: an `id` of another type (a table of a view's name) is not cut.
    let id_type = match &leaf {
        Leaf::Table(scan) => scan
            .source
            .schema()
            .field_with_name("id")
            .ok()
            .map(|f| f.data_type().clone()),
        Leaf::View(_, inlined) => inlined
            .schema()
            .field_with_unqualified_name("id")
            .ok()
            .map(|f| f.data_type().clone()),
    };
    if !id_type.is_some_and(|t| t.is_integer()) {
        return Ok(None);
    }
    if let Leaf::View(name, inlined) = leaf {
        // The view itself, not a subquery given its name.
        let Some(provider) = ctx.table_provider(name.clone()).await.ok() else {
            return Ok(None);
        };
        if provider.get_logical_plan().as_deref() != Some(inlined) {
            return Ok(None);
        }
        let definition = provider
            .downcast_ref::<datafusion::catalog::view::ViewTable>()
            .and_then(|v| v.definition().cloned());
        if !definition.is_some_and(|d| own(name.table(), d.as_str())) {
            return Ok(None);
        }
    }
    Ok(Some(split))
}

/// The statement below its totals, if it has any.
fn input_of(plan: &LogicalPlan) -> &LogicalPlan {
    totals(plan).map_or(plan, |(_, input)| input)
}

/// A projection of the columns of an aggregate without GROUP BY, each a count, sum, minimum
/// or maximum (not DISTINCT): how each output column combines, and the aggregate's input.
fn totals(plan: &LogicalPlan) -> Option<(Vec<(String, Combine)>, &LogicalPlan)> {
    let LogicalPlan::Projection(p) = plan else {
        return None;
    };
    let LogicalPlan::Aggregate(agg) = p.input.as_ref() else {
        return None;
    };
    if !agg.group_expr.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(p.expr.len());
    for (e, field) in p.expr.iter().zip(p.schema.fields()) {
        let mut e = e;
        while let Expr::Alias(a) = e {
            e = &a.expr;
        }
        let Expr::Column(c) = e else {
            return None;
        };
        let i = agg
            .schema
            .fields()
            .iter()
            .position(|f| f.name() == &c.name)?;
        let mut a = agg.aggr_expr.get(i)?;
        while let Expr::Alias(alias) = a {
            a = &alias.expr;
        }
        let Expr::AggregateFunction(f) = a else {
            return None;
        };
        if f.params.distinct
            || f.params.args.iter().any(has_subquery)
            || f.params.filter.as_deref().is_some_and(has_subquery)
        {
            return None;
        }
        let combine = match f.func.name() {
            "count" | "sum" => Combine::Sum,
            "min" => Combine::Min,
            "max" => Combine::Max,
            _ => return None,
        };
        out.push((field.name().clone(), combine));
    }
    Some((out, &agg.input))
}

fn shape(plan: &LogicalPlan) -> Option<(IdOrder, Leaf<'_>)> {
    let mut order = IdOrder::Unordered;
    let mut node = plan;
    loop {
        match node {
            LogicalPlan::Projection(p) => {
                if p.expr.iter().any(has_subquery) {
                    return None;
                }
                node = &p.input;
            }
            LogicalPlan::Filter(f) => {
                if has_subquery(&f.predicate) {
                    return None;
                }
                node = &f.input;
            }
            LogicalPlan::SubqueryAlias(a) if BY_OCCURRENCE.contains(&a.alias.table()) => {
                return Some((order, Leaf::View(&a.alias, &a.input)));
            }
            LogicalPlan::SubqueryAlias(a) => node = &a.input,
            LogicalPlan::Sort(s) if order == IdOrder::Unordered && s.fetch.is_none() => {
                let [by] = s.expr.as_slice() else {
                    return None;
                };
                // NULLs where the ranges put them (the default: last ascending, first
                // descending).
                if !is_id(&by.expr) || !id_passes(&s.input) || by.nulls_first == by.asc {
                    return None;
                }
                order = match by.asc {
                    true => IdOrder::Ascending,
                    false => IdOrder::Descending,
                };
                node = &s.input;
            }
            LogicalPlan::TableScan(scan)
                if BY_OCCURRENCE.contains(&scan.table_name.table())
                    && scan.filters.is_empty()
                    && scan.fetch.is_none() =>
            {
                return Some((order, Leaf::Table(scan)));
            }
            _ => return None,
        }
    }
}

fn has_subquery(e: &Expr) -> bool {
    e.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_)
                | Expr::InSubquery(_)
                | Expr::Exists(_)
                | Expr::SetComparison(_)
        ))
    })
    .unwrap_or(true)
}

/// `e` is the column `id` (qualified or not).
fn is_id(e: &Expr) -> bool {
    matches!(e, Expr::Column(c) if c.name == "id")
}

/// The column `id` of `plan`'s output is the scanned view's `id`: every projection on the way
/// down passes it through unchanged.
fn id_passes(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Projection(p) => {
            p.expr.iter().any(|e| match e {
                Expr::Alias(a) => a.name == "id" && is_id(&a.expr),
                e => is_id(e),
            }) && id_passes(&p.input)
        }
        LogicalPlan::Filter(f) => id_passes(&f.input),
        LogicalPlan::SubqueryAlias(a) if BY_OCCURRENCE.contains(&a.alias.table()) => true,
        LogicalPlan::SubqueryAlias(a) => id_passes(&a.input),
        LogicalPlan::Sort(s) => id_passes(&s.input),
        LogicalPlan::TableScan(_) => true,
        _ => false,
    }
}

/// `plan` (one [`splittable`] says yes to) with its view's rows kept within `[lo, hi)`
/// (open-ended at i64's ends, as `ranges::split` cuts them), and NULL ids in the last range
/// when `null_ids`.
fn restrict(plan: &LogicalPlan, (lo, hi): (i64, i64), null_ids: bool) -> Result<LogicalPlan> {
    let Some((_, leaf)) = shape(input_of(plan)) else {
        return Err(crate::error::Error::Query(
            "range jobs: the statement is not one a range can cut".into(),
        ));
    };
    let name = leaf.name().clone();
    // A table's NULL ids (a user's table of a view's name) cost nothing to keep: no join
    // below its scan for the OR to stop at.
    let null_ids = null_ids || matches!(leaf, Leaf::Table(_));
    let id = Expr::Column(Column::new(Some(name.clone()), "id"));
    // NULL ids (of a broken key: the occurrence views join on the id, the audit's hidden
    // occurrences do not) go with the last range, read last in an ascending order and first
    // in a descending one, where NULLs sort; only when there are some, since the OR keeps
    // the range's filter from crossing the views' LEFT JOINs to their detections.
    let cond = match (lo != i64::MIN, hi != i64::MAX) {
        (true, true) => id.clone().gt_eq(lit(lo)).and(id.lt(lit(hi))),
        (true, false) if null_ids => id.clone().gt_eq(lit(lo)).or(id.is_null()),
        (true, false) => id.gt_eq(lit(lo)),
        (false, true) => id.lt(lit(hi)),
        (false, false) => return Ok(plan.clone()),
    };
    let restricted = plan.clone().transform_down(|node| {
        let is_leaf = match &node {
            LogicalPlan::SubqueryAlias(a) => a.alias == name,
            LogicalPlan::TableScan(scan) => scan.table_name == name,
            _ => false,
        };
        if !is_leaf {
            return Ok(Transformed::no(node));
        }
        let filtered = LogicalPlanBuilder::from(node)
            .filter(cond.clone())?
            .build()?;
        Ok(Transformed::new(filtered, true, TreeNodeRecursion::Jump))
    })?;
    Ok(restricted.data)
}

/// Range jobs of `plan` when the session runs on a cluster and `plan` can be cut; `None`
/// otherwise (the statement runs as one job). The ranges are cut between the lowest and
/// highest ids of the occurrences `scope` keeps (a condition over `main_occurrence`: the
/// statement's project, or `TRUE`).
pub async fn split(
    ctx: &SessionContext,
    plan: &LogicalPlan,
    scope: &str,
) -> Result<Option<RangeJobs>> {
    if !catalog::is_remote() {
        return Ok(None);
    }
    let Some(how) = splittable(ctx, plan).await? else {
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let slots = ctx.state().config().target_partitions() as i64;
    let ranges = crate::engine::ranges::occurrence_ranges(ctx, JOB_ROWS, slots, scope).await?;
    let mut cuts = ranges.cuts;
    if how == Split::Rows(IdOrder::Descending) {
        cuts.reverse();
    }
    let one_stage = catalog::one_stage_session(ctx)?;
    let jobs = jobs(&one_stage, plan, how, &cuts, ranges.null_ids).await?;
    crate::engine::statements::trace(&format!("{} range jobs planned", jobs.len()), started);
    Ok(Some(jobs))
}

/// Run `df` (planned by `ctx`) as a stream: on a cluster as range jobs within `scope` when
/// it can be cut ([`split`]), else as one statement.
pub async fn stream(
    ctx: &SessionContext,
    df: DataFrame,
    scope: &str,
) -> Result<SendableRecordBatchStream> {
    match split(ctx, df.logical_plan(), scope).await? {
        Some(jobs) => jobs.stream().await,
        None => Ok(df.execute_stream().await?),
    }
}

/// The jobs of `plan` cut by `ranges` (in the order given), planned by `session`.
async fn jobs(
    session: &SessionContext,
    plan: &LogicalPlan,
    how: Split,
    ranges: &[(i64, i64)],
    null_ids: bool,
) -> Result<RangeJobs> {
    let mut frames = Vec::with_capacity(ranges.len());
    for &range in ranges {
        frames.push(
            session
                .execute_logical_plan(restrict(plan, range, null_ids)?)
                .await?,
        );
    }
    let totals = match how {
        Split::Totals(combine) => Some((combine, Arc::new(plan.schema().as_arrow().clone()))),
        Split::Rows(_) => None,
    };
    Ok(RangeJobs { frames, totals })
}

/// A statement's range jobs, planned, in the order their rows are read.
pub struct RangeJobs {
    frames: Vec<DataFrame>,
    /// For totals, how each column combines, and the whole statement's schema.
    totals: Option<(
        Vec<(String, Combine)>,
        datafusion::arrow::datatypes::SchemaRef,
    )>,
}

impl RangeJobs {
    /// Jobs of statements already planned, in order, whose rows are read one after another.
    pub fn of(frames: Vec<DataFrame>) -> RangeJobs {
        RangeJobs {
            frames,
            totals: None,
        }
    }

    /// How many jobs.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The jobs' rows in order, the jobs started now.
    pub async fn stream(self) -> Result<SendableRecordBatchStream> {
        let plan = self.physical_plan().await?;
        Ok(plan.execute(0, Arc::new(TaskContext::default()))?)
    }

    /// One plan reading the jobs' rows in order ([`InOrder`]); for totals, a plan (in this
    /// process) of the totals of the jobs' rows, once the jobs have run.
    pub async fn physical_plan(self) -> Result<Arc<dyn ExecutionPlan>> {
        let mut jobs = Vec::with_capacity(self.frames.len());
        for df in self.frames {
            let task = Arc::new(df.task_ctx());
            jobs.push((df.create_physical_plan().await?, task));
        }
        let rows = InOrder::try_new(jobs)?;
        let Some((combine, schema)) = self.totals else {
            return Ok(rows);
        };
        let stream = rows.execute(0, Arc::new(TaskContext::default()))?;
        let batches: Vec<_> = futures::TryStreamExt::try_collect(stream).await?;
        if batches.is_empty() {
            return Err(crate::error::Error::Query(
                "range jobs: an aggregate's ranges returned no rows".into(),
            ));
        }
        let df = SessionContext::new().read_batches(batches)?;
        let mut exprs = Vec::with_capacity(combine.len());
        for ((name, how), field) in combine.iter().zip(schema.fields()) {
            let c = Expr::Column(Column::from_name(name.clone()));
            let total = match how {
                Combine::Sum => datafusion::functions_aggregate::expr_fn::sum(c),
                Combine::Min => datafusion::functions_aggregate::expr_fn::min(c),
                Combine::Max => datafusion::functions_aggregate::expr_fn::max(c),
            };
            // Of the whole statement's type (a sum of sums may be typed wider).
            exprs
                .push(datafusion::logical_expr::cast(total, field.data_type().clone()).alias(name));
        }
        // The whole statement's schema (a count is not nullable; a sum of counts would be).
        let mut out = Vec::new();
        for batch in df.aggregate(vec![], exprs)?.collect().await? {
            out.push(datafusion::arrow::record_batch::RecordBatch::try_new(
                schema.clone(),
                batch.columns().to_vec(),
            )?);
        }
        Ok(datafusion::datasource::memory::MemorySourceConfig::try_new_exec(&[out], schema, None)?)
    }
}

#[cfg(test)]
mod tests;
