//! Which statements are cut into ranges, and the ranges' results put back together.

use super::*;
use datafusion::arrow::util::pretty::pretty_format_batches;

/// A session with a table named as an occurrence view: ids 1..=100 stored out of order,
/// one NULL id, and a value column.
async fn session() -> SessionContext {
    let ctx = SessionContext::new();
    ctx.sql(
        "CREATE TABLE occurrence_list AS \
         SELECT (id * 37) % 100 + 1 AS id, concat('v', id % 7) AS x \
         FROM (SELECT unnest(range(0, 100)) AS id) \
         UNION ALL SELECT NULL AS id, 'v0' AS x",
    )
    .await
    .unwrap();
    ctx.sql("CREATE TABLE main_taxon AS SELECT 1 AS id")
        .await
        .unwrap();
    ctx.sql("CREATE VIEW occurrence_nested AS SELECT id, x FROM occurrence_list WHERE id > 10")
        .await
        .unwrap();
    ctx
}

async fn order(ctx: &SessionContext, sql: &str) -> Option<IdOrder> {
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    match splittable_by(ctx, &plan, &|_, _| true).await.unwrap() {
        Some(Split::Rows(order)) => Some(order),
        Some(Split::Totals(_)) => panic!("{sql}: rows expected"),
        None => None,
    }
}

async fn totals_of(ctx: &SessionContext, sql: &str) -> Option<Vec<Combine>> {
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    match splittable_by(ctx, &plan, &|_, _| true).await.unwrap() {
        Some(Split::Totals(c)) => Some(c.into_iter().map(|(_, c)| c).collect()),
        Some(Split::Rows(_)) => panic!("{sql}: totals expected"),
        None => None,
    }
}

#[tokio::test]
async fn only_counts_sums_minima_and_maxima_of_every_row_are_totalled() {
    let ctx = session().await;
    use Combine::*;
    let cases = [
        (
            "SELECT count(*) AS n, sum(id) AS ids, min(x), max(id) AS top FROM occurrence_list WHERE x <> 'v1'",
            Some(vec![Sum, Sum, Min, Max]),
        ),
        (
            "SELECT sum(length(x)) FILTER (WHERE id > 5) AS s FROM occurrence_nested",
            Some(vec![Sum]),
        ),
        ("SELECT count(DISTINCT x) FROM occurrence_list", None),
        ("SELECT avg(id) FROM occurrence_list", None),
        ("SELECT x, count(*) FROM occurrence_list GROUP BY x", None),
        ("SELECT sum(id) + 1 FROM occurrence_list", None),
        ("SELECT count(*) FROM occurrence_list ORDER BY 1 LIMIT 1", None),
        ("SELECT count(*) FROM main_taxon", None),
        ("SELECT count(*) FROM occurrence_list a JOIN main_taxon t ON t.id = a.id", None),
    ];
    for (sql, expected) in cases {
        assert_eq!(totals_of(&ctx, sql).await, expected, "{sql}");
    }
}

#[tokio::test]
async fn only_row_wise_statements_over_an_occurrence_view_are_cut() {
    let ctx = session().await;
    let cases = [
        ("SELECT * FROM occurrence_list ORDER BY id", Some(IdOrder::Ascending)),
        (
            "SELECT id, x FROM occurrence_list WHERE x <> 'v1' ORDER BY id DESC",
            Some(IdOrder::Descending),
        ),
        ("SELECT upper(x) AS y FROM occurrence_list ORDER BY id", Some(IdOrder::Ascending)),
        ("SELECT * FROM occurrence_list o", Some(IdOrder::Unordered)),
        // `id` is another column here: its order is not the ranges'.
        ("SELECT x AS id FROM occurrence_list ORDER BY id", None),
        ("SELECT * FROM occurrence_list ORDER BY x", None),
        ("SELECT * FROM occurrence_list ORDER BY id, x", None),
        ("SELECT * FROM occurrence_list ORDER BY id LIMIT 5", None),
        // NULLs where the ranges do not put them.
        ("SELECT * FROM occurrence_list ORDER BY id NULLS FIRST", None),
        ("SELECT * FROM occurrence_list ORDER BY id DESC NULLS LAST", None),
        ("SELECT DISTINCT x FROM occurrence_list", None),
        ("SELECT id, row_number() OVER (ORDER BY id) FROM occurrence_list", None),
        (
            "SELECT * FROM occurrence_list WHERE id IN (SELECT id FROM main_taxon)",
            None,
        ),
        ("SELECT * FROM occurrence_list a JOIN main_taxon t ON t.id = a.id", None),
        ("SELECT * FROM main_taxon ORDER BY id", None),
        // A view, inlined by the planner under its name.
        ("SELECT * FROM occurrence_nested ORDER BY id DESC", Some(IdOrder::Descending)),
        ("SELECT x FROM occurrence_nested n WHERE id < 50", Some(IdOrder::Unordered)),
        // A subquery given a view's name is not the view.
        (
            "SELECT * FROM (SELECT count(*) AS id FROM main_taxon) AS occurrence_nested ORDER BY id",
            None,
        ),
        (
            "SELECT * FROM (SELECT id FROM occurrence_list LIMIT 3) AS occurrence_list ORDER BY id",
            None,
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(order(&ctx, sql).await, expected, "{sql}");
    }
}

/// The rows of `sql` run whole, and run range by range through `InOrder`.
async fn whole_and_cut(ctx: &SessionContext, sql: &str, ranges: &[(i64, i64)]) -> (String, String) {
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let whole = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let how = splittable_by(ctx, &plan, &|_, _| true)
        .await
        .unwrap()
        .expect("splittable");
    let jobs = jobs(ctx, &plan, how, ranges, true).await.unwrap();
    assert_eq!(jobs.len(), ranges.len());
    let plan = jobs.physical_plan().await.unwrap();
    // The same schema, nullability included (a Parquet file's columns follow it).
    let schema = ctx.sql(sql).await.unwrap().schema().as_arrow().clone();
    assert_eq!(plan.schema().as_ref(), &schema, "{sql}");
    let stream = plan.execute(0, Arc::new(TaskContext::default())).unwrap();
    let cut: Vec<_> = futures::TryStreamExt::try_collect(stream).await.unwrap();
    let show = |b: &[datafusion::arrow::record_batch::RecordBatch]| {
        pretty_format_batches(b).unwrap().to_string()
    };
    (show(&whole), show(&cut))
}

#[tokio::test]
async fn ranges_read_in_order_give_the_whole_statements_rows() {
    let ctx = session().await;
    let up = [(i64::MIN, 30), (30, 71), (71, i64::MAX)];
    let (whole, cut) = whole_and_cut(&ctx, "SELECT * FROM occurrence_list ORDER BY id", &up).await;
    assert_eq!(whole, cut);
    // 100 ids and the NULL one, last.
    assert_eq!(whole.lines().count(), 101 + 4, "{whole}");
    let down = [(71, i64::MAX), (30, 71), (i64::MIN, 30)];
    let (whole, cut) = whole_and_cut(
        &ctx,
        "SELECT upper(x) AS y, id FROM occurrence_list WHERE x <> 'v3' ORDER BY id DESC",
        &down,
    )
    .await;
    assert_eq!(whole, cut);
    let (whole, cut) = whole_and_cut(
        &ctx,
        "SELECT x, id FROM occurrence_nested n WHERE x <> 'v2' ORDER BY id",
        &up,
    )
    .await;
    assert_eq!(whole, cut);
    assert_eq!(whole.lines().count(), 4 + 90 - 90 / 7 - 1, "{whole}");
    // Totals: one row, as the whole statement gives it (its types too).
    let (whole, cut) = whole_and_cut(
        &ctx,
        "SELECT count(*) AS n, sum(id) AS ids, min(x) AS low, max(id) AS top, \
         sum(id) FILTER (WHERE x = 'v9') AS none FROM occurrence_list WHERE x <> 'v1'",
        &up,
    )
    .await;
    assert_eq!(whole, cut);
    // One row of totals, of 86 rows (15 of the 101 values of x are 'v1').
    assert_eq!(whole.lines().count(), 5, "{whole}");
    assert!(whole.contains("| 86 "), "{whole}");
    // The whole line is one range without a condition.
    let (whole, cut) = whole_and_cut(
        &ctx,
        "SELECT * FROM occurrence_list ORDER BY id",
        &[(i64::MIN, i64::MAX)],
    )
    .await;
    assert_eq!(whole, cut);
}

#[tokio::test]
async fn a_failing_range_fails_the_statement() {
    let ctx = session().await;
    let sql = "SELECT CAST(length(x) AS INT) AS n, id FROM occurrence_list ORDER BY id";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let frames = vec![
        ctx.execute_logical_plan(restrict(&plan, (i64::MIN, 50), false).unwrap())
            .await
            .unwrap(),
        ctx.execute_logical_plan(
            restrict(
                &ctx.state()
                    .create_logical_plan(
                        "SELECT CAST(x AS INT) AS n, id FROM occurrence_list ORDER BY id",
                    )
                    .await
                    .unwrap(),
                (50, i64::MAX),
                false,
            )
            .unwrap(),
        )
        .await
        .unwrap(),
    ];
    let plan = RangeJobs::of(frames).physical_plan().await.unwrap();
    let stream = plan.execute(0, Arc::new(TaskContext::default())).unwrap();
    let got: datafusion::common::Result<Vec<_>> = futures::TryStreamExt::try_collect(stream).await;
    let e = got.expect_err("the second range cannot cast 'v…'");
    assert!(e.to_string().contains("Cast"), "{e}");
}

#[tokio::test]
async fn a_table_of_a_views_name_is_cut_only_by_an_integer_id() {
    let ctx = SessionContext::new();
    ctx.sql("CREATE TABLE occurrence_flat AS SELECT 'a' AS id, 1 AS n")
        .await
        .unwrap();
    ctx.sql("CREATE TABLE occurrence_nested AS SELECT 1 AS id, 1 AS n")
        .await
        .unwrap();
    assert_eq!(
        order(&ctx, "SELECT * FROM occurrence_flat ORDER BY id").await,
        None
    );
    assert_eq!(
        totals_of(&ctx, "SELECT count(*) FROM occurrence_flat").await,
        None
    );
    assert_eq!(
        order(&ctx, "SELECT * FROM occurrence_nested ORDER BY id").await,
        Some(IdOrder::Ascending)
    );
}

/// The last range's filter reaches both sides of a view's LEFT JOIN on the id when no id is
/// NULL (an `OR id IS NULL` stops at the join: DataFusion moves a filter to a join's other
/// side only when it is false for a NULL key).
#[tokio::test]
async fn a_ranges_filter_crosses_a_views_left_join() {
    let ctx = session().await;
    ctx.sql(
        "CREATE VIEW occurrence_flat AS SELECT o.id, t.n FROM occurrence_list o \
         LEFT JOIN (SELECT id AS oid, count(*) AS n FROM occurrence_list GROUP BY id) t \
         ON t.oid = o.id",
    )
    .await
    .unwrap();
    let sql = "SELECT * FROM occurrence_flat ORDER BY id";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let filters = |null_ids: bool| {
        let restricted = restrict(&plan, (50, i64::MAX), null_ids).unwrap();
        let optimized = ctx.state().optimize(&restricted).unwrap();
        let text = optimized.display_indent().to_string();
        text.matches(">= Int64(50)").count()
    };
    assert_eq!(filters(false), 2, "both sides of the join");
    assert_eq!(filters(true), 1, "the occurrence side only");
}

/// A view a user created under a view's name is not occlens's: its ids may be NULL where the
/// occurrences' are not, and a range would lose them.
#[tokio::test]
async fn a_users_view_of_a_views_name_is_not_cut() {
    let ctx = session().await;
    ctx.sql("CREATE VIEW audit_invalid AS SELECT CASE WHEN id % 2 = 0 THEN id END AS id FROM occurrence_list")
        .await
        .unwrap();
    let sql = "SELECT count(*) AS n FROM audit_invalid";
    let plan = ctx.state().create_logical_plan(sql).await.unwrap();
    let own = |name: &str, definition: &str| {
        name == "audit_invalid" && definition.contains("SELECT CASE")
    };
    assert!(splittable_by(&ctx, &plan, &own).await.unwrap().is_some());
    // occlens's definitions are those of queries/.
    assert!(splittable(&ctx, &plan).await.unwrap().is_none());
    assert!(!catalog::defines("audit_invalid", "SELECT 1 AS id"));
    assert!(catalog::defines(
        "occurrence_list",
        "SELECT * FROM occurrence_list_window"
    ));
}
