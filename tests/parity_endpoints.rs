//! Parity for the endpoints other than occurrences: every recorded Antenna response of
//! tests/fixtures/antenna-oracle2/api/ must be reproduced from the first oracle's snapshot
//! (the same data set), compared as `occlens verify` compares (permission arrays as sets,
//! tie groups of orderings without a tiebreaker as sets, 500s by status).

mod common;

use common::{cached_engine_with, oracle};
use occlens::engine::cache::Mode;
use occlens::engine::catalog::Semantics;
use occlens::verify::input::read;
use occlens::verify::{Verifier, VerifyOptions};

fn oracle2() -> std::path::PathBuf {
    oracle().with_file_name("antenna-oracle2")
}

/// Replay `file` over the snapshot `dir`; returns the number of responses and a line per
/// differing one.
async fn replay(dir: &std::path::Path, file: &str) -> (usize, Vec<String>) {
    let root = tempfile::tempdir().unwrap();
    let engine = cached_engine_with(dir, root.path(), Mode::Off, None, Semantics::Fast).await;
    let options = VerifyOptions {
        superusers: vec!["admin@oracle.test".into()],
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&engine, options).await.unwrap();
    let inputs = read(oracle2().join("api").join(file).to_str().unwrap()).expect("fixture");
    assert!(inputs.skipped.is_empty());
    let mut failures = Vec::new();
    for recorded in &inputs.responses {
        let checked = verifier
            .check(recorded)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", recorded.url));
        if let Some(first) = checked.mismatches.first() {
            failures.push(format!(
                "{} (as {:?}): {} differences; first at {}: expected {} got {}",
                recorded.url,
                recorded.as_user,
                checked.mismatches.len(),
                first.pointer,
                first.expected,
                first.actual
            ));
        }
    }
    (inputs.responses.len(), failures)
}

async fn check(file: &str, expected_total: usize) {
    check_on(&oracle().join("snapshot"), file, expected_total).await
}

async fn check_on(dir: &std::path::Path, file: &str, expected_total: usize) {
    let (total, failures) = replay(dir, file).await;
    eprintln!(
        "{file}: {} of {total} responses match",
        total - failures.len()
    );
    for f in failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert_eq!(total, expected_total, "{file}: responses read");
    assert!(
        failures.is_empty(),
        "{file}: {} of {total} responses differ",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_summary() {
    check("status_summary.jsonl.gz", 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects() {
    check("projects.jsonl.gz", 19).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn occurrence_stats() {
    check("occurrence_stats.jsonl.gz", 58).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_list() {
    check("events_list.jsonl.gz", 37).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_detail() {
    check("events_detail.jsonl.gz", 28).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_list() {
    check("deployments_list.jsonl.gz", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_detail() {
    check("deployments_detail.jsonl.gz", 16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxa_list() {
    check("taxa_list.jsonl.gz", 196).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxa_detail() {
    check("taxa_detail.jsonl.gz", 85).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxa_suggest() {
    check("taxa_suggest.jsonl.gz", 4).await;
}

/// The extras: ML algorithms and category maps, tags, capture sets, identifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extras() {
    check("extras.jsonl.gz", 10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxa_lists() {
    check("taxa_lists.jsonl.gz", 17).await;
}

/// The same answers when the snapshot holds the same values in other tools' types (jsonb
/// decoded into nested types, New York wall-clock timestamps without a zone, other integer
/// widths, dictionary strings: tests/common/retype.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_answers_on_other_tools_types() {
    let dir = tempfile::tempdir().unwrap();
    common::retype::retyped_oracle(dir.path());
    for (file, n) in [
        ("projects.jsonl.gz", 19),
        ("events_detail.jsonl.gz", 28),
        ("deployments_list.jsonl.gz", 20),
        ("taxa_list.jsonl.gz", 196),
        ("taxa_detail.jsonl.gz", 85),
        ("occurrence_stats.jsonl.gz", 58),
    ] {
        check_on(dir.path(), file, n).await;
    }
}
