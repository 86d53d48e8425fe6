//! No per-row queries: a page's physical plan scans the same tables the same number of times
//! whatever its size (the analogue of Antenna's query-count regression tests).

use datafusion::physical_plan::displayable;
use occlens::api::request::{parse, Requester};
use occlens::engine::occurrences::{count_sql, page_sql, rows_sql};
use occlens::{Config, Engine};
use std::collections::BTreeMap;

/// Table name -> number of scans in the physical plan of `sql`.
async fn scans(engine: &Engine, sql: &str) -> BTreeMap<String, usize> {
    let plan = engine
        .ctx
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let text = displayable(plan.as_ref()).indent(true).to_string();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.contains("DataSourceExec")) {
        let table = line
            .split(['/', '[', ']', ' ', ','])
            .find(|w| w.ends_with(".parquet"))
            .map(|w| w.trim_end_matches(".parquet").to_string())
            .unwrap_or_else(|| "memory".into());
        *out.entry(table).or_insert(0) += 1;
    }
    out
}

#[tokio::test]
async fn page_plans_do_not_grow_with_the_page_size() {
    let engine = Engine::open(None, Config::default()).await.unwrap();
    for url in [
        "/api/v2/occurrences/?project_id=1",
        "/api/v2/occurrences/?project_id=1&ordering=-determination_score&taxon=1&verified=false",
        "/api/v2/occurrences/?project_id=1&apply_defaults=false&algorithm=3&date_start=2023-06-10&collection_id=1",
    ] {
        let (_, r) = parse(url).unwrap();
        let (where_clause, order_by) = engine.plan(&r, &Requester::Anonymous, None).await.unwrap().unwrap();
        let small = scans(&engine, &page_sql("occurrence_keys", &where_clause, &order_by, 5, 0)).await;
        let large = scans(&engine, &page_sql("occurrence_keys", &where_clause, &order_by, 500, 0)).await;
        assert!(small.contains_key("main_occurrence"), "{small:?}");
        assert_eq!(small, large, "{url}");
        // The page's rows: one statement for 5 ids or 500.
        let five: Vec<i64> = (1..=5).collect();
        let many: Vec<i64> = (1..=500).collect();
        let small_rows = scans(&engine, &rows_sql(&five)).await;
        assert!(small_rows.contains_key("main_classification"), "{small_rows:?}");
        assert_eq!(small_rows, scans(&engine, &rows_sql(&many)).await, "{url}");
        // One page = the same count query whatever the page.
        assert!(!scans(&engine, &count_sql("occurrence_keys", &where_clause)).await.is_empty());
    }
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

/// Views are planned when first named (src/views/lazy.rs): every one of them must plan and run
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
