//! Exports reproduce Antenna's files byte for byte.

use occlens::output::csv_export;
use occlens::{Config, Engine};
use std::path::PathBuf;

fn oracle() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/antenna-oracle")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_csv_matches_antennas_file() {
    let snapshot = oracle().join("snapshot");
    let engine = Engine::open(Some(snapshot.to_str().unwrap()), Config::default())
        .await
        .unwrap();
    let stream = engine
        .export_stream("export_simple_csv", 3, None)
        .await
        .unwrap();
    let mut out = Vec::new();
    let rows = csv_export::write(
        stream,
        &mut out,
        engine.config.time_zone,
        "/media/",
        &|_| {},
    )
    .await
    .unwrap();
    let expected =
        std::fs::read(oracle().join("exports/project3_occurrences_simple_csv.csv")).unwrap();
    assert_eq!(rows, 150);
    let (ours, theirs) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(expected).unwrap(),
    );
    for (i, (a, b)) in ours.split("\r\n").zip(theirs.split("\r\n")).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(ours, theirs);
}
