//! The benchmarked operations of the scale issue, on a realistic snapshot:
//!   1. the full list view (every valid occurrence, every list field, materialized);
//!   2. one API page (project, default filters, limit 25) per ordering, and a deep offset;
//!   3. one detail response;
//!   4. the best prediction alone for every occurrence;
//!
//! (2 and 3 twice: computed from the snapshot, and `cached/…` reading the cache of derived
//! tables, built once into a temporary directory before the measurements), and, for the exports issue, one project's `occurrences_simple_csv` export beside the list
//! view of the same project (the rows it renders); for the verification issue, the whole
//! audit (compare with `list_view`).
//!
//! Scale: `OCCLENS_BENCH_OCCURRENCES` (default 20000) occurrences generated once into the
//! system temp directory, or an existing snapshot `OCCLENS_BENCH_SNAPSHOT=DIR`.
//!   cargo bench --bench operations
//!   OCCLENS_BENCH_OCCURRENCES=1000000 cargo bench --bench operations -- list_view

use criterion::{criterion_group, criterion_main, Criterion};
use occlens::api;
use occlens::api::request::Requester;
use occlens::engine::cache::{Mode, Settings};
use occlens::exports::csv_export;
use occlens::{Config, Engine};
use std::path::PathBuf;
use std::time::Duration;

fn snapshot() -> PathBuf {
    if let Ok(dir) = std::env::var("OCCLENS_BENCH_SNAPSHOT") {
        return PathBuf::from(dir);
    }
    let n: usize = std::env::var("OCCLENS_BENCH_OCCURRENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("occlens-bench-{n}"));
    if !dir.join("main_occurrence.parquet").exists() {
        occlens::generate::realistic(&dir, n, 1, &|_| {}).expect("generate the bench snapshot");
    }
    dir
}

async fn collect(engine: &Engine, sql: &str) -> usize {
    let batches = engine.ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches.iter().map(|b| b.num_rows()).sum()
}

fn operations(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = snapshot();
    let engine = rt
        .block_on(Engine::open(Some(dir.to_str().unwrap()), Config::default()))
        .unwrap();
    let who = Requester::Anonymous;
    let mut g = c.benchmark_group("operations");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));

    g.bench_function("list_view", |b| {
        b.to_async(&rt)
            .iter(|| collect(&engine, "SELECT * FROM occurrence_list"))
    });
    g.bench_function("best_prediction", |b| {
        b.to_async(&rt)
            .iter(|| collect(&engine, "SELECT * FROM best_prediction"))
    });
    let cache_dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        mode: Mode::Auto,
        dir: Some(cache_dir.path().to_path_buf()),
        range_rows: None,
        ..Default::default()
    };
    let cached = rt
        .block_on(Engine::open_cached(
            Some(dir.to_str().unwrap()),
            Config::default(),
            &settings,
            &occlens::engine::cache::Part::ALL,
            &|_| {},
        ))
        .unwrap();
    let mut requests: Vec<(String, String)> = [
        "-determination_score",
        "-first_appearance_timestamp",
        "-detections_count",
    ]
    .iter()
    .map(|o| {
        (
            format!("page/{o}"),
            format!("/api/v2/occurrences/?project_id=1&limit=25&ordering={o}"),
        )
    })
    .collect();
    requests.push((
        "page/deep_offset".into(),
        "/api/v2/occurrences/?project_id=1&limit=25&offset=10000&ordering=-first_appearance_timestamp".into(),
    ));
    requests.push(("detail".into(), "/api/v2/occurrences/1/".into()));
    for (prefix, e) in [("", &engine), ("cached/", &cached)] {
        for (name, url) in &requests {
            g.bench_function(format!("{prefix}{name}"), |b| {
                b.to_async(&rt).iter(|| async {
                    let r = api::get(e, url, &who).await.unwrap();
                    assert_eq!(r.status, 200);
                })
            });
        }
    }
    g.bench_function("list_view/project_1", |b| {
        b.to_async(&rt).iter(|| {
            collect(
                &engine,
                "SELECT * FROM occurrence_list WHERE project_id = 1",
            )
        })
    });
    g.bench_function("export_csv/project_1", |b| {
        b.to_async(&rt).iter(|| async {
            let stream = engine
                .export_stream("export_simple_csv", 1, None)
                .await
                .unwrap();
            let tz = engine.config.time_zone;
            let media = engine.config.media_url.clone();
            csv_export::write(stream, &mut std::io::sink(), tz, &media, &|_| {})
                .await
                .unwrap()
        })
    });
    g.bench_function("audit", |b| {
        b.to_async(&rt)
            .iter(|| async { engine.audit(None).await.unwrap().valid })
    });
    g.finish();
}

criterion_group!(benches, operations);
criterion_main!(benches);
