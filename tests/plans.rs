//! No per-row queries: a response runs the same statements whatever its page size, and the
//! views of queries/ each plan and run on their own.

use datafusion::physical_plan::metrics::MetricValue;
use datafusion::physical_plan::{collect, ExecutionPlan};
use occlens::api::request::Requester;
use occlens::engine::statements::STATEMENTS;
use occlens::{Config, Engine};
use std::sync::{Arc, Mutex};

/// What one response costs: its statements, and over all of them the Parquet row groups read
/// (not pruned by statistics) and the rows the page index let through.
#[derive(Debug, PartialEq)]
struct Cost {
    statements: usize,
    row_groups: usize,
    rows: usize,
}

/// The `matched` count of the pruning metric `name` over `plan` and its children.
fn matched(plan: &Arc<dyn ExecutionPlan>, name: &str) -> usize {
    let own: usize = plan.metrics().map_or(0, |set| {
        set.iter()
            .map(|m| match m.value() {
                MetricValue::PruningMetrics {
                    name: n,
                    pruning_metrics,
                } if n.as_ref() == name => pruning_metrics.matched(),
                _ => 0,
            })
            .sum()
    });
    own + plan
        .children()
        .iter()
        .map(|c| matched(c, name))
        .sum::<usize>()
}

/// An engine over a generated snapshot of `occurrences` (and the directory holding it).
async fn generated(occurrences: usize, seed: u64) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    occlens::generate::realistic(dir.path(), occurrences, seed, &|_| {}).unwrap();
    let engine = Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .unwrap();
    (dir, engine)
}

/// The physical plan of `sql` in `ctx`.
async fn physical(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
    ctx.sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap()
}

/// Answer `url`, recording its statements, then run each again to read its scan metrics.
async fn cost(engine: &Engine, url: &str) -> Cost {
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let who = Requester::Anonymous;
    let response = STATEMENTS
        .scope(recorded.clone(), occlens::api::get(engine, url, &who))
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{url}");
    let statements = recorded.lock().unwrap().clone();
    let (mut row_groups, mut rows) = (0, 0);
    for sql in &statements {
        let plan = physical(&engine.point, sql).await;
        collect(plan.clone(), engine.point.task_ctx())
            .await
            .unwrap();
        row_groups += matched(&plan, "row_groups_pruned_statistics");
        rows += matched(&plan, "page_index_rows_pruned");
    }
    Cost {
        statements: statements.len(),
        row_groups,
        rows,
    }
}

/// No per-row queries (the analogue of Antenna's query-count tests): a page of 5, 25 or 100
/// runs the same statements, and what they read grows at most as the page does in steps of
/// 20 ids (a page's ids are asked in branches of at most 20, each pruned to its own pages).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_runs_the_same_statements_whatever_its_size() {
    let (_dir, engine) = generated(20_000, 7).await;
    for query in [
        "project_id=1&ordering=-determination_score",
        "project_id=1&ordering=-first_appearance_timestamp&verified=false",
        "project_id=1&apply_defaults=false&algorithm=3&ordering=determination__name",
    ] {
        let mut costs = Vec::new();
        for limit in [5, 25, 100] {
            let url = format!("/api/v2/occurrences/?{query}&limit={limit}");
            costs.push(cost(&engine, &url).await);
        }
        eprintln!("{query}: {costs:?}");
        let (five, hundred) = (&costs[0], &costs[2]);
        assert!(
            five.statements > 2 && five.row_groups > 0 && five.rows > 0,
            "{five:?}"
        );
        assert!(
            costs.iter().all(|c| c.statements == five.statements),
            "{query}: {costs:?}"
        );
        // 100 ids are 5 branches of 20: at most 5 times what one branch of 5 reads.
        assert!(
            hundred.row_groups <= 5 * five.row_groups,
            "{query}: {costs:?}"
        );
        assert!(
            hundred.rows <= 5 * five.rows.max(1) * 4,
            "{query}: {costs:?}"
        );
    }
}

/// A detail's related rows are read in a task of their own, beside the statement that finds
/// its row: their statements are recorded with the response's, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_details_related_statements_are_recorded_with_its_own() {
    use occlens::engine::rows::RowExt;
    let (_dir, engine) = generated(2_000, 7).await;
    let visible = "SELECT min(o.id) AS id FROM occurrence_list o \
                   JOIN main_project p ON p.id = o.project_id WHERE NOT p.draft";
    let rows = occlens::engine::statements::rows(&engine.point, visible)
        .await
        .unwrap();
    let id = rows[0].i64("id").expect("a visible occurrence");
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let url = format!("/api/v2/occurrences/{id}/");
    let response = STATEMENTS
        .scope(
            recorded.clone(),
            occlens::api::get(&engine, &url, &Requester::Anonymous),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{url}");
    assert_eq!(response.body["id"], id);
    let statements = recorded.lock().unwrap().clone();
    for view in [
        "occurrence_identifications",
        "detail_images",
        "detail_detections",
        "prediction_candidates",
        "detection_classifications",
    ] {
        let from = format!("FROM {view} WHERE");
        let n = statements.iter().filter(|s| s.contains(&from)).count();
        assert_eq!(n, 1, "{view} in {statements:#?}");
    }
    assert!(
        statements
            .iter()
            .any(|s| s.contains("FROM occurrence_list o")),
        "{statements:#?}"
    );
}

#[tokio::test]
async fn a_small_page_is_the_prefix_of_a_large_one() {
    // The list view runs: existence checks, count, page, identifications, classifications.
    // Its results for limit=5 are the first 5 of limit=500 (same statements, same order).
    let engine = Engine::open(None, Config::default()).await.unwrap();
    let who = Requester::Anonymous;
    let small =
        occlens::api::respond::get(&engine, "/api/v2/occurrences/?project_id=1&limit=5", &who)
            .await
            .unwrap();
    let large =
        occlens::api::respond::get(&engine, "/api/v2/occurrences/?project_id=1&limit=500", &who)
            .await
            .unwrap();
    let s = small.body["results"].as_array().unwrap();
    let l = large.body["results"].as_array().unwrap();
    assert_eq!(s.len(), 5);
    assert_eq!(
        l.len(),
        large.body["count"].as_u64().unwrap().min(500) as usize
    );
    assert_eq!(&l[..5], &s[..]);
}

/// Views are planned when first named (src/engine/lazy.rs): every one of them must plan and run
/// on a snapshot, from a fresh engine each (no other view planned first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_of_queries_plans_and_runs() {
    let names = occlens::engine::catalog::view_names();
    assert!(names.len() > 30);
    for name in names {
        let engine = Engine::open(None, Config::default()).await.unwrap();
        let batches = engine
            .ctx
            .sql(&format!("SELECT * FROM {name} LIMIT 1"))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(batches.iter().map(|b| b.num_rows()).sum::<usize>() <= 1);
    }
}

/// A page at a deep offset is cut from the whole ordered id list of its conditions: the same
/// ids and count as the `LIMIT … OFFSET …` statement and the count beside it give, at any
/// offset and ordering, past the last row too; its rows read within its project are the rows
/// read by id alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_page_cut_from_the_whole_ordering_is_the_page_of_limit_and_offset() {
    use occlens::api::request::{parse, Requester};
    use occlens::engine::occurrences::{page_ids, rows_of, PageSource};
    let (_dir, engine) = generated(3_000, 11).await;
    let who = Requester::Anonymous;
    let (ctx, keys) = (&engine.point, engine.keys_view());
    // (count, the page's ids, the ids of its rows read within `project` or by id alone).
    let page = |where_clause: String, order_by: String, limit, offset, deep_offset, project| async move {
        let source = PageSource {
            memo: None,
            deep_offset,
            project,
        };
        let (count, ids) = page_ids(ctx, source, keys, &where_clause, &order_by, limit, offset)
            .await
            .unwrap();
        let rows = rows_of(ctx, &ids, project).await.unwrap();
        let read: Vec<i64> = rows.iter().filter_map(|r| r.id).collect();
        (count, ids, read)
    };
    for query in [
        "project_id=1&ordering=-first_appearance_timestamp",
        "project_id=1&apply_defaults=false&ordering=-detections_count",
        "project_id=2&ordering=determination__name",
    ] {
        let (_, request) = parse(&format!("/api/v2/occurrences/?{query}")).unwrap();
        let (where_clause, order_by) = engine.plan(&request, &who, None).await.unwrap().unwrap();
        let mut seen = 0;
        for (offset, limit) in [(0, 25), (7, 25), (100, 5), (590, 100), (100_000, 25)] {
            let (w, o) = (where_clause.clone(), order_by.clone());
            let cut = page(w.clone(), o.clone(), limit, offset, 0, request.project_id).await;
            let limited = page(w, o, limit, offset, usize::MAX, None).await;
            assert_eq!(cut.0, limited.0, "{query} offset {offset}");
            assert_eq!(cut.1, limited.1, "{query} offset {offset}");
            // The rows read by id alone, or within the request's project: the same, in order.
            assert_eq!(cut.2, cut.1, "{query} offset {offset}");
            assert_eq!(limited.2, limited.1, "{query} offset {offset}");
            seen += cut.2.len();
        }
        assert!(seen > 100, "{query}: the pages hold rows ({seen})");
    }
    // Conditions that select nothing: a count of 0 and no row, at the first page or past it,
    // cut from the whole ordering or not.
    for (deep_offset, offset) in [(usize::MAX, 0), (usize::MAX, 10), (0, 0)] {
        let (w, o) = ("o.id < 0".to_string(), "o.id ASC".to_string());
        let (count, ids, read) = page(w, o, 25, offset, deep_offset, None).await;
        assert_eq!((count, ids.len(), read.len()), (0, 0, 0), "offset {offset}");
    }
}

/// The hash joins of `sql`'s plan as (build side, probe side) texts.
async fn join_sides(engine: &Engine, sql: &str) -> Vec<(String, String)> {
    use datafusion::physical_plan::displayable;
    use datafusion::physical_plan::joins::HashJoinExec;
    fn walk(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<(String, String)>) {
        if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
            let text =
                |p: &Arc<dyn ExecutionPlan>| displayable(p.as_ref()).indent(true).to_string();
            out.push((text(join.left()), text(join.right())));
        }
        plan.children().into_iter().for_each(|c| walk(c, out));
    }
    let plan = physical(&engine.ctx, sql).await;
    let mut out = Vec::new();
    walk(&plan, &mut out);
    out
}

/// The two filters written so that the planner's estimates pick the right build sides
/// (queries/03_predictions.sql, queries/05_occurrences.sql): the best prediction's join of the
/// classifications with their detections builds from the detections (the fewer rows, and the
/// side a project's ids reach), and a project's valid occurrences build from the project's
/// occurrences, not from every occurrence's detection aggregates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_build_from_the_smaller_side_whatever_the_filters() {
    let (_dir, engine) = generated(5_000, 11).await;
    let sides = join_sides(&engine, "SELECT count(*) FROM best_prediction").await;
    let candidate: Vec<_> = sides
        .iter()
        .filter(|(l, r)| {
            let both = format!("{l}{r}");
            both.contains("main_classification") && both.contains("main_detection")
        })
        .collect();
    assert_eq!(candidate.len(), 1, "{sides:#?}");
    // Collected build sides start when their join asks for rows (engine/deferred_build.rs).
    assert!(
        sides
            .iter()
            .all(|(build, _)| build.starts_with("DeferredExec")),
        "{sides:#?}"
    );
    let (build, probe) = candidate[0];
    assert!(
        build.contains("main_detection") && !build.contains("main_classification"),
        "build side:\n{build}\nprobe side:\n{probe}"
    );
    let sides = join_sides(
        &engine,
        "SELECT count(*) FROM valid_occurrence WHERE project_id = 1",
    )
    .await;
    assert_eq!(sides.len(), 1, "{sides:#?}");
    let (build, probe) = &sides[0];
    assert!(
        build.contains("main_occurrence") && !build.contains("main_detection"),
        "build side:\n{build}\nprobe side:\n{probe}"
    );
}

/// The best prediction's columns come from its own aggregation (queries/03_predictions.sql):
/// the `arg_max_of_maxima` calls a statement reads are merged into one
/// (engine/shared_keys.rs), those it does not read are not computed, and no statement over
/// `occurrence_list` looks up `main_classification` by the winner's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_best_predictions_columns_come_from_one_call_per_aggregation() {
    use datafusion::physical_plan::displayable;
    let (_dir, engine) = generated(2_000, 3).await;
    let every = "SELECT * FROM occurrence_list";
    let text = displayable(physical(&engine.ctx, every).await.as_ref())
        .indent(true)
        .to_string();
    // The best prediction's aggregation, in one step (src/engine/one_step.rs: no partial
    // states), one call for all of its columns.
    let merged: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("AggregateExec") && l.contains("arg_max_of_maxima(named_struct(Utf8(\"v0\")")
        })
        .collect();
    assert_eq!(merged.len(), 1, "{text}");
    for line in &merged {
        assert_eq!(line.matches("arg_max_of_maxima(").count(), 1, "{line}");
        assert!(
            line.contains("mode=SinglePartitioned") || line.contains("mode=Single,"),
            "{line}"
        );
    }
    // Every statement over occurrence_list reads main_classification once: the candidates.
    for sql in [
        every,
        "SELECT count(*), sum(best_prediction_id) FROM occurrence_list",
    ] {
        let text = displayable(physical(&engine.ctx, sql).await.as_ref())
            .indent(true)
            .to_string();
        let scans = text
            .lines()
            .filter(|l| l.contains("DataSourceExec") && l.contains("main_classification"))
            .count();
        assert_eq!(scans, 1, "{sql}\n{text}");
    }
    // The id alone: one value per call, nothing merged in the second aggregation.
    let id = "SELECT sum(best_prediction_id) FROM occurrence_list";
    let text = displayable(physical(&engine.ctx, id).await.as_ref())
        .indent(true)
        .to_string();
    assert!(!text.contains("created_at"), "{text}");
}

/// The related rows are numbered in one pass over their sorted input (engine/row_number.rs),
/// and `--semantics window` keeps DataFusion's own window operator: the reference formulation
/// shares none of occlens's execution.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn row_numbers_of_sorted_rows_in_one_pass_except_for_the_window_semantics() {
    use datafusion::physical_plan::displayable;
    let dir = tempfile::tempdir().unwrap();
    occlens::generate::realistic(dir.path(), 300, 5, &|_| {}).unwrap();
    let snapshot = dir.path().to_str().unwrap();
    let sql = "SELECT * FROM detection_classifications WHERE project_id = 1 \
               ORDER BY occurrence_id, detection_id, position";
    let mut answers = Vec::new();
    for semantics in [
        occlens::engine::catalog::Semantics::Fast,
        occlens::engine::catalog::Semantics::Window,
    ] {
        let config = Config {
            semantics,
            ..Config::default()
        };
        let engine = Engine::open(Some(snapshot), config).await.unwrap();
        let plan = physical(&engine.ctx, sql).await;
        let text = displayable(plan.as_ref()).indent(true).to_string();
        let fast = semantics == occlens::engine::catalog::Semantics::Fast;
        assert_eq!(text.contains("RowNumbersExec"), fast, "{text}");
        assert_eq!(text.contains("BoundedWindowAggExec"), !fast, "{text}");
        let batches = collect(plan, engine.ctx.task_ctx()).await.unwrap();
        answers.push(
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string(),
        );
    }
    assert!(answers[0].lines().count() > 100, "{}", answers[0]);
    assert_eq!(answers[0], answers[1]);
}

/// Scans split by rows (engine/even_scans.rs) answer as unsplit ones. Files this small are
/// read whole by one partition unless DataFusion is told to split files of any size; then
/// every scan of several partitions reads rows ranges, cut inside row groups too.
#[test]
fn scans_split_by_rows_give_the_same_rows() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    occlens::generate::realistic(dir.path(), 3000, 11, &|_| {}).unwrap();
    let run = |split: bool, sql: &str| -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_occlens"));
        cmd.args(["--snapshot", dir.path().to_str().unwrap(), "--cache", "off"])
            .args(["sql", "--format", "csv", sql])
            .env("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "3");
        if split {
            cmd.env("DATAFUSION_OPTIMIZER_REPARTITION_FILE_MIN_SIZE", "1");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let plan = run(true, "EXPLAIN SELECT sum(score) FROM main_classification");
    assert!(plan.contains("file_groups={3 groups"), "{plan}");
    for sql in [
        "SELECT * FROM occurrence_list ORDER BY id",
        "SELECT * FROM detection_classifications ORDER BY occurrence_id, detection_id, position",
        "SELECT * FROM prediction_candidates ORDER BY occurrence_id, position",
        "SELECT * FROM best_identification ORDER BY occurrence_id",
    ] {
        let whole = run(false, sql);
        assert!(whole.lines().count() > 100, "{sql}: {whole}");
        assert_eq!(run(true, sql), whole, "{sql}");
    }
}
