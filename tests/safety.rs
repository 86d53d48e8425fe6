//! What occlens writes and replaces: its own output only, staged and renamed into place;
//! temporaries removed on errors, on SIGINT/SIGTERM, and (after SIGKILL) by the next run.

#[path = "safety/cache_clear.rs"]
mod cache_clear;
mod common;
#[path = "safety/leftovers.rs"]
mod leftovers;
#[path = "safety/outputs.rs"]
mod outputs;

use common::{occlens_with, Tiny};
use std::path::Path;
use std::time::Duration;

fn tiny_snapshot(dir: &Path) {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.b.write(dir).unwrap();
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".occlens-"))
        .collect()
}

#[test]
fn sql_writes_only_when_allowed() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    let target = work.path().join("copy.csv");
    let copy = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        target.display()
    );
    let (code, _, err) = occlens_with(&["--snapshot", s, "sql", &copy], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--allow-write"), "{err}");
    assert!(!target.exists());
    let (code, _, err) = occlens_with(&["--snapshot", s, "sql", "--allow-write", &copy], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "a\n1\n");
    // A folder (no extension, a trailing `/`, PARTITIONED BY): written to a hidden sibling,
    // then renamed; nothing hidden left beside it.
    for (name, clause) in [
        ("folder", ""),
        ("slashed/", ""),
        ("parted.csv", " PARTITIONED BY (p)"),
    ] {
        let dest = work.path().join(name);
        let q = format!(
            "COPY (SELECT 1 AS a, 2 AS p) TO '{}' STORED AS CSV{clause}",
            dest.display()
        );
        let (code, _, err) = occlens_with(&["--snapshot", s, "sql", "--allow-write", &q], &[]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(dest.is_dir(), "{name}");
        let files = common::files_under(&dest);
        assert!(!files.is_empty(), "{name}");
    }
    assert_eq!(temporaries(work.path()), Vec::<String>::new());
    let before: Vec<_> = std::fs::read_dir(&snap)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let (code, _, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "sql",
            "--allow-write",
            "INSERT INTO main_occurrence (id) VALUES (99)",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("never writes into a snapshot"), "{err}");
    let after: Vec<_> = std::fs::read_dir(&snap)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before.len(), after.len());
}

#[test]
fn check_reports_duplicate_ids_null_keys_and_dangling_references() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.simple(2, 4, 0.8);
    // A detection of an occurrence that does not exist.
    t.b.add(
        "main_detection",
        serde_json::json!({"id": 900, "occurrence_id": 777, "source_image_id": 1, "timestamp": common::T0}),
    );
    // Occurrence 1 twice.
    t.b.add(
        "main_occurrence",
        serde_json::json!({"id": 1, "project_id": 1, "deployment_id": 1, "event_id": 1}),
    );
    // A bbox that is not JSON (jsonb holds nothing else; it would read as no box).
    t.b.add(
        "main_detection",
        serde_json::json!({"id": 901, "occurrence_id": 1, "source_image_id": 1, "timestamp": common::T0, "bbox": "[1, 2"}),
    );
    t.b.write(&snap).unwrap();
    let s = snap.to_str().unwrap();
    let (code, report, err) = check_csv(&snap);
    assert_eq!(code, 1, "{report}{err}");
    assert!(
        report.contains("unique,main_occurrence.id,1,1,FAIL"),
        "{report}"
    );
    assert!(
        report
            .contains("foreign_key,main_detection.occurrence_id -> main_occurrence.id,1,777,FAIL"),
        "{report}"
    );
    assert!(
        report.contains("unique,main_detection.id,0,,ok"),
        "{report}"
    );
    assert!(
        report.contains("json,main_detection.bbox,1,\"[1, 2\",FAIL"),
        "{report}"
    );
    assert!(err.contains("rules broken"), "{err}");
    // Answering from it fails instead of giving pages whose count disagrees with their rows.
    let cache = work.path().join("cache");
    let (code, _, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            cache.to_str().unwrap(),
            "api",
            "/api/v2/occurrences/?project_id=1",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("repeat an id"), "{err}");
}

#[test]
fn deep_sql_plans_and_hyperlinks_carry_no_credentials() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    // 3,000 terms overflowed the default 8 MiB stack while planning.
    let sql = format!("SELECT {} AS n", vec!["1"; 3000].join("+"));
    let (code, out, err) = occlens_with(&["--snapshot", s, "sql", "--format", "csv", &sql], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "n\n3000\n");
    let (code, out, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--api-base",
            "http://u:S3cretPw@h.example",
            "api",
            "/api/v2/occurrences/?project_id=1&limit=1",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("S3cretPw") && !err.contains("S3cretPw"),
        "{out}{err}"
    );
    assert!(out.contains("http://h.example/"), "{out}");
}

/// `occlens check --format csv` of `snapshot`, without the cache: exit code, report, stderr.
fn check_csv(snapshot: &std::path::Path) -> (i32, String, String) {
    let s = snapshot.to_str().unwrap();
    let args = [
        "--snapshot",
        s,
        "--cache",
        "off",
        "check",
        "--format",
        "csv",
    ];
    occlens_with(&args, &[])
}
