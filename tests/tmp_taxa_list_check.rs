// TEMPORARY (taxa list implementer): replays taxa_list.jsonl.gz through Verifier::check
// directly, since verify::input::read skips non-occurrence URLs. Deleted before handing back.
mod common;

use common::{cached_engine_with, oracle};
use occlens::engine::cache::Mode;
use occlens::engine::catalog::Semantics;
use occlens::verify::input::Recorded;
use occlens::verify::{Verifier, VerifyOptions};
use std::io::BufRead;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmp_taxa_list() {
    let root = tempfile::tempdir().unwrap();
    let dir = oracle().join("snapshot");
    let engine = cached_engine_with(&dir, root.path(), Mode::Off, None, Semantics::Fast).await;
    let options = VerifyOptions {
        superusers: vec!["admin@oracle.test".into()],
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&engine, options).await.unwrap();
    let file = std::env::var("TL_FILE").unwrap_or_else(|_| {
        oracle()
            .with_file_name("antenna-oracle2")
            .join("api/taxa_list.jsonl.gz")
            .to_string_lossy()
            .into_owned()
    });
    let f = std::fs::File::open(&file).unwrap();
    let reader: Box<dyn BufRead> = if file.ends_with(".gz") {
        Box::new(std::io::BufReader::new(flate2::read::GzDecoder::new(f)))
    } else {
        Box::new(std::io::BufReader::new(f))
    };
    let (mut total, mut bad) = (0, 0);
    for line in reader.lines() {
        let line = line.unwrap();
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let rec = Recorded {
            url: v["url"].as_str().unwrap().into(),
            status: v["status"].as_u64().unwrap() as u16,
            body: v["body"].clone(),
            as_user: v["as_user"].as_str().map(String::from),
        };
        total += 1;
        let checked = verifier
            .check(&rec)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", rec.url));
        if let Some(first) = checked.mismatches.first() {
            bad += 1;
            eprintln!(
                "{} (as {:?}): {} differences; first at {}: expected {} got {}",
                rec.url,
                rec.as_user,
                checked.mismatches.len(),
                first.pointer,
                first.expected,
                first.actual
            );
        }
    }
    eprintln!("{} of {total} match", total - bad);
    assert_eq!(bad, 0);
}
