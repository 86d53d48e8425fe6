//! TEMPORARY (taxa_detail implementer): replay fixtures bypassing verify::input's occurrences-only filter.
mod common;
use common::{cached_engine_with, oracle};
use occlens::engine::cache::Mode;
use occlens::engine::catalog::Semantics;
use occlens::verify::input::Recorded;
use occlens::verify::{Verifier, VerifyOptions};
use std::io::BufRead;

async fn replay(file: &str) {
    let root = tempfile::tempdir().unwrap();
    let dir = oracle().join("snapshot");
    let engine = cached_engine_with(&dir, root.path(), Mode::Off, None, Semantics::Fast).await;
    let options = VerifyOptions {
        superusers: vec!["admin@oracle.test".into()],
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&engine, options).await.unwrap();
    let path = oracle()
        .with_file_name("antenna-oracle2")
        .join("api")
        .join(file);
    let f = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(
        std::fs::File::open(path).unwrap(),
    ));
    let (mut n, mut bad) = (0, 0);
    for line in f.lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let r = Recorded {
            url: v["url"].as_str().unwrap().into(),
            status: v["status"].as_u64().unwrap() as u16,
            body: v["body"].clone(),
            as_user: v["as_user"].as_str().map(String::from),
        };
        n += 1;
        let c = verifier.check(&r).await.unwrap();
        if !c.mismatches.is_empty() {
            bad += 1;
            eprintln!(
                "MISMATCH {} ({:?}): {} diffs",
                r.url,
                r.as_user,
                c.mismatches.len()
            );
            for m in c.mismatches.iter().take(4) {
                eprintln!("   {} expected {} got {}", m.pointer, m.expected, m.actual);
            }
        }
    }
    eprintln!("{file}: {} of {n} match", n - bad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_taxa_detail() {
    replay("taxa_detail.jsonl.gz").await
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_taxa_suggest() {
    replay("taxa_suggest.jsonl.gz").await
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch_taxa_lists() {
    replay("taxa_lists.jsonl.gz").await
}
