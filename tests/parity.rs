//! Parity: every recorded Antenna response of tests/fixtures/antenna-oracle/api/ must be
//! reproduced from tests/fixtures/antenna-oracle/snapshot.

mod common;

use common::{cached_engine_with, oracle};
use occlens::engine::cache::Mode;
use occlens::engine::catalog::Semantics;
use occlens::verify::input::read;
use occlens::verify::{Verifier, VerifyOptions};

/// Every response of `file`, checked as `occlens verify` checks it (admin is the superuser;
/// pages without an ordering are compared as sets).
/// `cached`: through the cache of derived tables (built in a temporary directory).
/// `semantics`: the formulation of the top-1 rules (the window one never reads the cache).
async fn replay(file: &str, cached: bool, semantics: Semantics) -> (usize, Vec<String>) {
    let root = tempfile::tempdir().unwrap();
    let mode = if cached { Mode::Auto } else { Mode::Off };
    // Small ranges: the build's ranged path (one range per ~2M occurrences at scale).
    let dir = oracle().join("snapshot");
    let engine = cached_engine_with(&dir, root.path(), mode, Some(500), semantics).await;
    assert_eq!(!engine.cache.is_empty(), cached);
    let options = VerifyOptions {
        superusers: vec!["admin@oracle.test".into()],
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&engine, options).await.unwrap();
    let inputs = read(oracle().join("api").join(file).to_str().unwrap()).expect("fixture");
    assert!(inputs.skipped.is_empty());
    let (mut total, mut failures) = (0, Vec::new());
    for recorded in &inputs.responses {
        let checked = verifier
            .check(recorded)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", recorded.url));
        total += 1;
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
    (total, failures)
}

fn report(name: &str, total: usize, failures: &[String]) {
    eprintln!(
        "{name}: {} of {total} responses match",
        total - failures.len()
    );
    for f in failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {total} responses differ",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna() {
    let (total, failures) = replay("occurrences_list.jsonl.gz", false, Semantics::Fast).await;
    assert_eq!(total, 128);
    report("list", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna_from_the_cache() {
    let (total, failures) = replay("occurrences_list.jsonl.gz", true, Semantics::Fast).await;
    assert_eq!(total, 128);
    report("list (cached)", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_responses_match_antenna() {
    let (total, failures) = replay("occurrences_detail.jsonl.gz", false, Semantics::Fast).await;
    assert_eq!(total, 1774);
    report("detail", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_responses_match_antenna_from_the_cache() {
    let (total, failures) = replay("occurrences_detail.jsonl.gz", true, Semantics::Fast).await;
    assert_eq!(total, 1774);
    report("detail (cached)", total, &failures);
}

/// `occlens --semantics window`: the window-function references of queries/reference/
/// answer Antenna's list requests alike (tests/differential.rs compares the formulations).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna_with_window_semantics() {
    let (total, failures) = replay("occurrences_list.jsonl.gz", false, Semantics::Window).await;
    assert_eq!(total, 128);
    report("list (window semantics)", total, &failures);
}
