//! `arg_max`/`arg_min` (and `arg_max_of_maxima`) calls of one aggregation that share their keys and filter become one
//! call whose value is a struct of theirs: one comparison of the key tuple per row for all of
//! them, instead of one per call.
//!
//! `queries/` writes one call per value (`arg_max(taxon_id, score, terminal, id)`,
//! `arg_max(created_at, score, terminal, id)`, …) and lets each consumer read the columns it
//! needs. This rule runs after DataFusion has pruned the calls no consumer reads, so it merges
//! only what is computed: the list view's checksums (best prediction id only) keep one call,
//! the cache build's every column of the winning classification gets them in one. Before this
//! rule, those columns were read from `main_classification` by the winner's id, a lookup
//! whose cost did not shrink with a project (SF1: every classification's id decoded).
//!
//! The rewritten aggregation has the same group columns, the calls left alone, and one call
//! per set of shared keys (named `__shared_keys_N` by the session's alias generator, its
//! value `named_struct('v0', …, 'v1', …)`); a projection above it gives every original column
//! its name back (`get_field`), so the plan's schema is unchanged.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result};
use datafusion::functions::core::expr_fn::{get_field, named_struct};
use datafusion::logical_expr::expr::{AggregateFunction, AggregateFunctionParams};
use datafusion::logical_expr::{
    lit, Aggregate, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

/// The logical optimizer rule (every session; a cluster's client optimizes the plan it sends).
#[derive(Debug, Default)]
pub struct ShareKeys;

/// A call this rule can merge: `arg_max`/`arg_min` of a value that is not a struct (their
/// values are scalars or structs of scalars), no DISTINCT, ORDER BY or null treatment.
/// `Some(inner call)`; aliases seen through.
fn mergeable<'a>(e: &'a Expr, input: &DFSchema) -> Option<&'a AggregateFunction> {
    let e = match e {
        Expr::Alias(a) => a.expr.as_ref(),
        e => e,
    };
    let Expr::AggregateFunction(f) = e else {
        return None;
    };
    let p = &f.params;
    let named = matches!(
        f.func.name(),
        "arg_max" | "arg_min" | crate::functions::maxima::NAME
    );
    let plain = !p.distinct && p.order_by.is_empty() && p.null_treatment.is_none();
    if !named || !plain || p.args.len() < 2 {
        return None;
    }
    match p.args[0].get_type(input) {
        Ok(DataType::Struct(_)) | Err(_) => None,
        Ok(_) => Some(f),
    }
}

/// Calls with the same function, keys and filter: one merged call.
fn same_keys(a: &AggregateFunction, b: &AggregateFunction) -> bool {
    a.func.name() == b.func.name()
        && a.params.args[1..] == b.params.args[1..]
        && a.params.filter == b.params.filter
}

impl OptimizerRule for ShareKeys {
    fn name(&self) -> &str {
        "occlens_share_keys"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = plan else {
            return Ok(Transformed::no(plan));
        };
        // Grouping sets (ROLLUP, CUBE) have more output columns than group expressions:
        // left alone.
        if agg
            .group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
        {
            return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
        }
        // Sets of calls with shared keys: the indexes into aggr_expr of each set's members.
        let input = agg.input.schema().clone();
        let calls: Vec<Option<&AggregateFunction>> =
            agg.aggr_expr.iter().map(|e| mergeable(e, &input)).collect();
        let mut sets: Vec<Vec<usize>> = Vec::new();
        for (i, f) in calls.iter().enumerate() {
            let Some(f) = f else { continue };
            match sets
                .iter_mut()
                .find(|set| calls[set[0]].is_some_and(|first| same_keys(first, f)))
            {
                Some(set) => set.push(i),
                None => sets.push(vec![i]),
            }
        }
        sets.retain(|set| set.len() > 1);
        if sets.is_empty() {
            return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
        }
        // One call per set, named by the session's alias generator (no column of the plan
        // holds such a name): the first member's call with the members' values as one struct.
        let merged: Vec<(String, Expr)> = sets
            .iter()
            .map(|set| {
                let first = calls[set[0]].expect("a set holds mergeable calls");
                let mut fields = Vec::with_capacity(set.len() * 2);
                for (k, &i) in set.iter().enumerate() {
                    let f = calls[i].expect("a set holds mergeable calls");
                    fields.push(lit(format!("v{k}")));
                    fields.push(f.params.args[0].clone());
                }
                let mut args = vec![named_struct(fields)];
                args.extend(first.params.args[1..].iter().cloned());
                let call = Expr::AggregateFunction(AggregateFunction {
                    func: first.func.clone(),
                    params: AggregateFunctionParams {
                        args,
                        ..first.params.clone()
                    },
                });
                let name = config.alias_generator().next("__shared_keys");
                (name.clone(), call.alias(name))
            })
            .collect();
        rewrite(agg, &sets, merged).map(Transformed::yes)
    }
}

/// `agg` with each set's calls replaced by its merged call, under a projection that gives
/// every output column its name back.
fn rewrite(
    agg: Aggregate,
    sets: &[Vec<usize>],
    merged: Vec<(String, Expr)>,
) -> Result<LogicalPlan> {
    let groups = agg.group_expr.len();
    let schema = agg.schema.clone();
    // For each original call: None (kept as is) or (its set, its field in the set's struct).
    let mut merged_into: Vec<Option<(usize, usize)>> = vec![None; agg.aggr_expr.len()];
    for (s, set) in sets.iter().enumerate() {
        for (k, &i) in set.iter().enumerate() {
            merged_into[i] = Some((s, k));
        }
    }
    let names: Vec<String> = merged.iter().map(|(name, _)| name.clone()).collect();
    // The merged calls, then the calls left alone (their output columns keep their names).
    let mut aggr_expr: Vec<Expr> = merged.into_iter().map(|(_, call)| call).collect();
    for (i, e) in agg.aggr_expr.iter().enumerate() {
        if merged_into[i].is_none() {
            aggr_expr.push(e.clone());
        }
    }
    let inner = LogicalPlan::Aggregate(Aggregate::try_new(agg.input, agg.group_expr, aggr_expr)?);
    let mut projection = Vec::with_capacity(schema.fields().len());
    for i in 0..schema.fields().len() {
        let (qualifier, field) = schema.qualified_field(i);
        let column = Column::new(qualifier.cloned(), field.name());
        let e = if i < groups {
            Expr::Column(column)
        } else {
            match merged_into[i - groups] {
                Some((s, k)) => {
                    get_field(Expr::Column(Column::from_name(&names[s])), format!("v{k}"))
                        .alias_qualified(qualifier.cloned(), field.name())
                }
                None => Expr::Column(column),
            }
        };
        projection.push(e);
    }
    LogicalPlanBuilder::from(inner).project(projection)?.build()
}

#[cfg(test)]
mod tests {
    use super::ShareKeys;
    use datafusion::common::ScalarValue;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;

    /// A session with occlens's `arg_max`/`arg_min`, with or without the rule, and a table
    /// with ties, NULL values, NULL keys and a filter column.
    async fn session(rule: bool) -> SessionContext {
        let mut state = SessionStateBuilder::new().with_default_features();
        if rule {
            state = state.with_optimizer_rule(Arc::new(ShareKeys));
        }
        let ctx = SessionContext::new_with_state(state.build());
        crate::functions::arg_best::register(&ctx);
        ctx.sql(
            "CREATE TABLE t (g INT, k DOUBLE, id INT, a VARCHAR, b BIGINT, c BOOLEAN, f BOOLEAN) AS \
             VALUES (1, 0.5, 1, 'x', 10, true, true), (1, 0.9, 2, NULL, 20, false, true), \
                    (1, 0.9, 3, 'z', NULL, NULL, false), (2, NULL, 4, 'w', 40, true, true), \
                    (2, 0.1, 5, 'v', 50, false, false), (3, NULL, 6, 'u', 60, NULL, true)",
        )
        .await
        .unwrap();
        ctx
    }

    /// The optimized plan, and the rows as lines of comma-separated values.
    async fn run(ctx: &SessionContext, sql: &str) -> (String, Vec<String>) {
        let df = ctx.sql(sql).await.unwrap();
        let plan = format!(
            "{}",
            df.clone().into_optimized_plan().unwrap().display_indent()
        );
        let mut rows = Vec::new();
        for batch in df.collect().await.unwrap() {
            for r in 0..batch.num_rows() {
                let cells: Vec<String> = batch
                    .columns()
                    .iter()
                    .map(|c| ScalarValue::try_from_array(c, r).unwrap().to_string())
                    .collect();
                rows.push(cells.join(","));
            }
        }
        (plan, rows)
    }

    #[tokio::test]
    async fn calls_with_shared_keys_become_one_with_the_same_rows() {
        let sql = "SELECT g, arg_max(a, k, id) AS a, arg_max(b, k, id) AS b, \
                          arg_max(c, k, id) AS c, arg_max(a, k, id) FILTER (WHERE f) AS fa, \
                          arg_max(b, k, id) FILTER (WHERE f) AS fb, arg_min(a, k, id) AS lo, \
                          arg_max(a, id) AS other_keys, count(*) AS n \
                   FROM t GROUP BY g ORDER BY g";
        let (plain_plan, plain) = run(&session(false).await, sql).await;
        let (plan, rows) = run(&session(true).await, sql).await;
        assert_eq!(rows, plain, "{plan}");
        // a, b, c share (k, id) and no filter; fa, fb share (k, id) and the filter; lo and
        // other_keys share their keys with no other call.
        assert_eq!(plan.matches("AS __shared_keys_").count(), 2, "{plan}");
        assert!(
            plan.contains("named_struct(Utf8(\"v0\"), t.a, Utf8(\"v1\"), t.b, Utf8(\"v2\"), t.c)"),
            "{plan}"
        );
        assert!(!plain_plan.contains("__shared_keys_"), "{plain_plan}");
        // The rows written out: per g, the values of the greatest (least for arg_min) key
        // tuple among the rows the filter keeps.
        assert_eq!(
            rows,
            [
                "1,z,NULL,NULL,NULL,20,x,z,3",
                // A NULL key is the least.
                "2,v,50,false,w,40,w,v,2",
                "3,u,60,NULL,u,60,u,u,1"
            ],
            "{plan}"
        );
    }

    #[tokio::test]
    async fn nested_aggregations_expression_keys_and_repeated_calls() {
        // Two aggregations rewritten in one plan (distinct names), a group key that is an
        // expression, the same call twice, calls without an alias.
        let sql = "SELECT arg_max(a2, k2, h), arg_max(b2, k2, h), arg_max(a2, k2, h) AS again \
                   FROM (SELECT g % 2 AS h, arg_max(a, k, id) AS a2, arg_max(b, k, id) AS b2, \
                                max(k) AS k2 \
                         FROM t GROUP BY g % 2)";
        let (plan, rows) = run(&session(true).await, sql).await;
        let (_, plain) = run(&session(false).await, sql).await;
        assert_eq!(rows, plain, "{plan}");
        // g % 2 = 1: g 1 and 3, greatest (k, id) (0.9, 3): a 'z', b NULL, k2 0.9; g % 2 = 0:
        // (0.1, 5): 'v', 50, k2 0.1. The outer call's greatest k2 is 0.9.
        assert_eq!(rows, ["z,NULL,z"], "{plan}");
        let names: std::collections::BTreeSet<&str> = plan
            .match_indices("AS __shared_keys_")
            .map(|(i, _)| plan[i + 3..].split([']', ',', ' ']).next().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{plan}");
    }

    #[tokio::test]
    async fn grouping_sets_are_left_as_they_are() {
        let sql = "SELECT g, arg_max(a, k, id) AS a, arg_max(b, k, id) AS b FROM t \
                   GROUP BY ROLLUP(g) ORDER BY g NULLS LAST";
        let (plan, rows) = run(&session(true).await, sql).await;
        let (_, plain) = run(&session(false).await, sql).await;
        assert_eq!(rows, plain);
        assert_eq!(rows.len(), 4);
        assert!(!plan.contains("__shared_keys_"), "{plan}");
    }

    #[tokio::test]
    async fn a_call_alone_after_pruning_is_left_as_it_is() {
        let sql = "SELECT g, a FROM (SELECT g, arg_max(a, k, id) AS a, arg_max(b, k, id) AS b \
                   FROM t GROUP BY g) ORDER BY g";
        let (plan, rows) = run(&session(true).await, sql).await;
        let (_, plain) = run(&session(false).await, sql).await;
        assert_eq!(rows, plain);
        assert!(!plan.contains("__shared_keys_"), "{plan}");
        assert!(!plan.contains("t.b"), "{plan}");
    }
}
