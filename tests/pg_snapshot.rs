//! `occlens snapshot --from postgres://…` against a real PostgreSQL server started by the test:
//! the shared snapshot is loaded into it (DDL of tests/pg/antenna.sql), exported again, and the
//! result must equal the shared snapshot (rows, values, Arrow types, pg metadata); the views on
//! it must answer the shared API responses; a concurrent writer must not tear it; a
//! `--project` snapshot must answer that project's requests; bad input fails cleanly.

mod common;
#[path = "pg/copy_text.rs"]
mod copy_text;
#[path = "pg/server.rs"]
mod server;

use common::oracle;
use copy_text::text;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::SinkExt;
use occlens::verify::input::read;
use occlens::verify::{Verifier, VerifyOptions};
use occlens::{Config, Engine};
use server::Server;
use std::path::Path;

const TABLES: &[&str] = &[
    "main_occurrence",
    "main_detection",
    "main_classification",
    "main_identification",
    "main_taxon",
    "ml_algorithm",
    "ml_algorithmcategorymap",
    "main_sourceimage",
    "main_event",
    "main_deployment",
    "main_project",
    "main_project_default_filters_include_taxa",
    "main_project_default_filters_exclude_taxa",
    "main_sourceimagecollection",
    "main_sourceimagecollection_images",
    "main_taxalist",
    "main_taxalist_taxa",
    "main_taxalist_projects",
    "main_taxon_projects",
    "main_userprojectmembership",
    "main_site",
    "main_device",
    "users_user",
];

/// A table's rows in id order, as one batch.
async fn table(dir: &Path, name: &str) -> RecordBatch {
    let mut config = datafusion::prelude::SessionConfig::new();
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    let ctx = SessionContext::new_with_config(config);
    let single = dir.join(format!("{name}.parquet"));
    let path = if single.exists() {
        single
    } else {
        dir.join(name)
    };
    ctx.register_parquet("t", path.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    let batches = ctx
        .sql("SELECT * FROM t ORDER BY id")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let schema = ctx.table("t").await.unwrap().schema().as_arrow().clone();
    datafusion::arrow::compute::concat_batches(&std::sync::Arc::new(schema), &batches).unwrap()
}

/// The Arrow schema stored in a table's (first) Parquet file, field metadata included.
fn file_schema(dir: &Path, name: &str) -> datafusion::arrow::datatypes::SchemaRef {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let single = dir.join(format!("{name}.parquet"));
    let path = if single.exists() {
        single
    } else {
        dir.join(name).join("part-00000.parquet")
    };
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .schema()
        .clone()
}

/// Create the schema in `db` and load every shared table into it.
async fn load(server: &Server, db: &str) {
    let admin = server.client("postgres").await;
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    let client = server.client(db).await;
    client
        .batch_execute(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg/antenna.sql"),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let snapshot = oracle().join("snapshot");
    for name in TABLES {
        let batch = table(&snapshot, name).await;
        let columns: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        let mut body = String::new();
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| text(c.as_ref(), row, false))
                .collect();
            body.push_str(&cells.join("\t"));
            body.push('\n');
        }
        let sink = client
            .copy_in(&format!("COPY {name} ({}) FROM STDIN", columns.join(", ")))
            .await
            .unwrap();
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from(body)).await.unwrap();
        sink.close().await.unwrap();
    }
}

fn occlens(args: &[&str]) -> (i32, String, String) {
    common::occlens_with(args, &[])
}

/// Check `responses` whose URL passes `keep` against the snapshot in `dir`.
async fn verify(dir: &Path, file: &str, keep: impl Fn(&str) -> bool) -> (usize, Vec<String>) {
    let config = Config {
        api_base: "http://testserver".into(),
        ..Config::default()
    };
    let engine = Engine::open(Some(dir.to_str().unwrap()), config)
        .await
        .unwrap();
    let options = VerifyOptions {
        superusers: vec!["admin@oracle.test".into()],
        ..VerifyOptions::default()
    };
    let verifier = Verifier::new(&engine, options).await.unwrap();
    let inputs = read(oracle().join("api").join(file).to_str().unwrap()).unwrap();
    let (mut n, mut failures) = (0, Vec::new());
    for r in inputs.responses.iter().filter(|r| keep(&r.url)).take(60) {
        n += 1;
        let checked = verifier.check(r).await.unwrap();
        if let Some(m) = checked.mismatches.first() {
            failures.push(format!(
                "{}: {} expected {} got {}",
                r.url, m.pointer, m.expected, m.actual
            ));
        }
    }
    (n, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_snapshot() {
    let Some(server) = Server::start() else {
        return;
    };
    load(&server, "antenna").await;
    // A storage source with credentials: they never reach the snapshot.
    const SECRET: &str = "wJalrXUtnFEMI-storage-secret";
    server
        .client("antenna")
        .await
        .batch_execute(&format!(
            "INSERT INTO main_s3storagesource VALUES (1, now(), now(), 'Bucket', 'b', NULL, 'p', \
             'AKIA-storage-access', '{SECRET}', NULL, NULL, NULL, NULL, NULL, NULL)"
        ))
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let snap = out.path().join("snap");
    let url = server.url("antenna");

    // 1. The export equals the shared snapshot: schema (names, types, nullability, pg metadata)
    //    and every value.
    let (code, _, err) = occlens(&[
        "snapshot",
        "--from",
        &url,
        "--out",
        snap.to_str().unwrap(),
        "--classification-arrays",
        "keep",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(server::PASSWORD), "{err}");
    let fixture = oracle().join("snapshot");
    for name in TABLES {
        let (ours, theirs) = (table(&snap, name).await, table(&fixture, name).await);
        assert_eq!(
            file_schema(&snap, name).fields(),
            file_schema(&fixture, name).fields(),
            "{name}: schema"
        );
        assert_eq!(ours.num_rows(), theirs.num_rows(), "{name}: rows");
        for (i, f) in theirs.schema().fields().iter().enumerate() {
            assert_eq!(
                ours.column(i).as_ref(),
                theirs.column(i).as_ref(),
                "{name}.{}",
                f.name()
            );
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(snap.join("_snapshot.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["source"],
        format!("postgres://postgres@127.0.0.1:{}/antenna", server.port)
    );
    assert!(manifest["server_version"]
        .as_str()
        .unwrap()
        .starts_with(char::is_numeric));
    let users = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "users_user")
        .unwrap();
    assert_eq!(users["rows"], 6);
    assert_eq!(
        users["omitted_columns"],
        serde_json::json!(["password", "last_login", "is_superuser", "is_staff"])
    );
    assert_eq!(users["files"][0]["sha256"].as_str().unwrap().len(), 64);
    let storage = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "main_s3storagesource")
        .unwrap();
    assert_eq!(storage["rows"], 1);
    let omitted = storage["omitted_columns"].as_array().unwrap();
    assert!(omitted.contains(&"access_key".into()) && omitted.contains(&"secret_key".into()));
    for entry in common::files_under(&snap) {
        let bytes = std::fs::read(&entry).unwrap();
        for secret in [SECRET.as_bytes(), b"AKIA-storage-access"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a storage credential",
                entry.display()
            );
        }
    }
    let (code, shown, _) = occlens(&["--snapshot", snap.to_str().unwrap(), "tables"]);
    assert_eq!(code, 0);
    assert!(
        shown.contains(&format!(
            "exported from postgres://postgres@127.0.0.1:{}/antenna (PostgreSQL ",
            server.port
        )),
        "{shown}"
    );
    assert!(shown.contains("    manifest: 6 rows, "), "{shown}");
    assert!(
        shown.contains("omitted: password, last_login, is_superuser, is_staff"),
        "{shown}"
    );

    // 2. The views on the exported snapshot answer the shared API responses.
    let (n, failures) = verify(&snap, "occurrences_list.jsonl.gz", |_| true).await;
    assert!(n > 50 && failures.is_empty(), "{failures:?}");
    let (n, failures) = verify(&snap, "occurrences_detail.jsonl.gz", |_| true).await;
    assert!(n > 50 && failures.is_empty(), "{failures:?}");

    // 3. Without --classification-arrays keep, logits and scores are left out; a second export
    //    replaces the first only when complete.
    let (code, _, err) = occlens(&["snapshot", "--from", &url, "--out", snap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let classifications = table(&snap, "main_classification").await;
    assert!(classifications.schema().field_with_name("logits").is_err());
    assert_eq!(classifications.num_rows(), 9320);

    // 4. A per-project snapshot answers that project's requests.
    let p3 = out.path().join("p3");
    let (code, _, err) = occlens(&[
        "snapshot",
        "--from",
        &url,
        "--out",
        p3.to_str().unwrap(),
        "--project",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(table(&p3, "main_occurrence").await.num_rows(), 150);
    let (n, failures) = verify(&p3, "occurrences_list.jsonl.gz", |u| {
        u.contains("project_id=3")
    })
    .await;
    assert!(n > 10 && failures.is_empty(), "{failures:?}");
    let detail = |u: &str| u.contains("?project_id=3") && !u.contains('&') && u.len() < 40;
    let (n, failures) = verify(&p3, "occurrences_detail.jsonl.gz", detail).await;
    assert!(n > 10 && failures.is_empty(), "{failures:?}");

    // 5. Errors: one line, non-zero, nothing under --out.
    let bad = out.path().join("bad");
    let cases: Vec<(String, &str)> = vec![
        (
            format!(
                "postgres://postgres:wrong@127.0.0.1:{}/antenna",
                server.port
            ),
            "password authentication failed",
        ),
        (
            "postgres://postgres@127.0.0.1:1/antenna".to_string(),
            "cannot connect",
        ),
        (server.url("nosuchdb"), "does not exist"),
    ];
    for (from, message) in &cases {
        let (code, _, err) = occlens(&["snapshot", "--from", from, "--out", bad.to_str().unwrap()]);
        assert_ne!(code, 0);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err}");
        assert!(
            !err.contains("wrong") && !err.contains(server::PASSWORD),
            "{err}"
        );
        assert!(!bad.exists());
    }
    let client = server.client("postgres").await;
    client
        .batch_execute("CREATE DATABASE broken TEMPLATE antenna")
        .await
        .unwrap();
    let broken = server.client("broken").await;
    for (sql, message) in [
        ("ALTER TABLE main_taxon ADD COLUMN weight numeric", "table main_taxon: column weight: unsupported PostgreSQL type numeric"),
        ("ALTER TABLE main_taxon DROP COLUMN weight; ALTER TABLE main_detection DROP COLUMN bbox", "table main_detection: missing column bbox"),
        ("ALTER TABLE main_detection ADD COLUMN bbox jsonb; DROP TABLE main_event", "table main_event: missing from the database"),
    ] {
        broken.batch_execute(sql).await.unwrap();
        let (code, _, err) = occlens(&["snapshot", "--from", &server.url("broken"), "--out", bad.to_str().unwrap()]);
        assert_ne!(code, 0);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err}");
        assert!(!bad.exists());
        assert!(std::fs::read_dir(out.path()).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().contains("tmp")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_writer_does_not_tear_the_snapshot() {
    let Some(server) = Server::start() else {
        return;
    };
    load(&server, "antenna").await;
    let writer = server.client("antenna").await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    // Each transaction adds an occurrence and its detection, from id 100000 up.
    let task = tokio::spawn(async move {
        let mut n = 0i64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let id = 100_000 + n;
            writer
                .batch_execute(&format!(
                    "BEGIN;
                     INSERT INTO main_occurrence (id, created_at, updated_at, project_id, determination_id, determination_score)
                       VALUES ({id}, now(), now(), 1, 7, 0.9);
                     INSERT INTO main_detection (id, created_at, updated_at, occurrence_id, source_image_id, bbox)
                       VALUES ({id}, now(), now(), {id}, 1, '[1, 2, 3, 4]');
                     COMMIT;"
                ))
                .await
                .unwrap();
            n += 1;
        }
        n
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out = tempfile::tempdir().unwrap();
    let snap = out.path().join("snap");
    let url = server.url("antenna");
    let path = snap.to_str().unwrap().to_string();
    let (code, _, err) =
        tokio::task::spawn_blocking(move || occlens(&["snapshot", "--from", &url, "--out", &path]))
            .await
            .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = task.await.unwrap();
    assert_eq!(code, 0, "{err}");
    let occurrences = table(&snap, "main_occurrence").await;
    let detections = table(&snap, "main_detection").await;
    let new = |b: &RecordBatch, column: &str| {
        let ids = b
            .column_by_name(column)
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        ids.iter()
            .flatten()
            .filter(|id| *id >= 100_000)
            .collect::<Vec<i64>>()
    };
    let (o, d) = (new(&occurrences, "id"), new(&detections, "occurrence_id"));
    assert!(
        !o.is_empty() && (o.len() as i64) < written,
        "the export overlapped the writer ({} of {written})",
        o.len()
    );
    assert_eq!(
        o, d,
        "every new occurrence has its detection, and no detection is without its occurrence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_to_s3_and_back() {
    let Some(s3) = common::services::S3::start() else {
        return;
    };
    let Some(server) = Server::start() else {
        return;
    };
    load(&server, "antenna").await;
    let root = &s3.root;
    let env = s3.env();
    let run = |args: &[&str]| common::occlens_with(args, &env);
    let url = server.url("antenna");
    let (code, _, err) = run(&[
        "snapshot",
        "--from",
        &url,
        "--out",
        "s3://bucket/antenna/2026-11-21",
        "--rows-per-file",
        "4000",
    ]);
    assert_eq!(code, 0, "{err}");
    // Stored under the prefix, manifest included, part files for the big tables, nothing temporary left.
    let prefix = root.path().join("bucket/antenna/2026-11-21");
    assert!(prefix.join("_snapshot.json").exists());
    assert!(prefix
        .join("main_classification/part-00002.parquet")
        .exists());
    assert!(prefix.join("main_occurrence.parquet").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&prefix)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".occlens-tmp"))
        .filter(|n| {
            std::fs::read_dir(prefix.join(n))
                .map(|d| d.flatten().any(|e| e.path().is_file()))
                .unwrap_or(true)
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Read back from s3:// it answers the shared responses.
    let sample = tempfile::tempdir().unwrap();
    let file = sample.path().join("sample.jsonl");
    let gz = std::fs::File::open(oracle().join("api/occurrences_list.jsonl.gz")).unwrap();
    let lines: Vec<String> =
        std::io::BufRead::lines(std::io::BufReader::new(flate2::read::GzDecoder::new(gz)))
            .take(25)
            .map(Result::unwrap)
            .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (code, out, err) = run(&[
        "--snapshot",
        "s3://bucket/antenna/2026-11-21",
        "--api-base",
        "http://testserver",
        "verify",
        "--responses",
        file.to_str().unwrap(),
        "--superuser",
        "admin@oracle.test",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("25 responses checked: 25 match, 0 differ; 0 skipped"),
        "{out}"
    );
    let (code, shown, _) = run(&["--snapshot", "s3://bucket/antenna/2026-11-21", "tables"]);
    assert_eq!(code, 0);
    assert!(
        shown.contains("main_classification/ (3 part files)") || shown.contains("part files"),
        "{shown}"
    );
    // An export into the snapshot being read replaced its table (refused locally).
    let table = prefix.join("main_occurrence.parquet");
    let before = std::fs::read(&table).unwrap();
    let (code, _, err) = run(&[
        "--snapshot",
        "s3://bucket/antenna/2026-11-21",
        "--cache",
        "off",
        "export",
        "--format",
        "parquet",
        "--project",
        "1",
        "--out",
        "s3a://bucket/antenna/2026-11-21/main_occurrence.parquet",
        "--overwrite",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is inside the snapshot being read"), "{err}");
    assert_eq!(std::fs::read(&table).unwrap(), before);
    // Taken again to the same prefix: its own snapshot is replaced.
    let again = [
        "snapshot",
        "--from",
        &url,
        "--out",
        "s3://bucket/antenna/2026-11-21",
        "--rows-per-file",
        "4000",
    ];
    let (code, _, err) = run(&again);
    assert_eq!(code, 0, "{err}");
    // An upload that stopped after copying a part the manifest does not list yet (a table
    // that grew): the snapshot is still ours to write again.
    std::fs::write(prefix.join("main_classification/part-00009.parquet"), b"x").unwrap();
    let (code, _, err) = run(&again);
    assert_eq!(code, 0, "{err}");
    // A prefix holding only what an upload of ours left when it stopped before its first
    // manifest (Ctrl-C, --time-limit): written, not refused.
    let stopped = root.path().join("bucket/stopped/.occlens-tmp-999999-0");
    std::fs::create_dir_all(&stopped).unwrap();
    std::fs::write(stopped.join("main_taxon.parquet"), b"half").unwrap();
    let (code, _, err) = run(&["snapshot", "--from", &url, "--out", "s3://bucket/stopped"]);
    assert_eq!(code, 0, "{err}");
    assert!(root.path().join("bucket/stopped/_snapshot.json").exists());
    // A prefix holding another tool's _snapshot.json and a user's files: they were replaced.
    let foreign = root.path().join("bucket/foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("_snapshot.json"), br#"{"tool": "other"}"#).unwrap();
    std::fs::write(foreign.join("notes.txt"), b"mine").unwrap();
    let (code, _, err) = run(&["snapshot", "--from", &url, "--out", "s3://bucket/foreign"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is not an occlens snapshot"), "{err}");
    assert_eq!(
        std::fs::read(foreign.join("_snapshot.json")).unwrap(),
        br#"{"tool": "other"}"#
    );
    assert_eq!(std::fs::read(foreign.join("notes.txt")).unwrap(), b"mine");
    // Beside our own snapshot, a user's file makes the prefix not ours.
    std::fs::write(prefix.join("notes.txt"), b"mine").unwrap();
    let (code, _, err) = run(&again);
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read(prefix.join("notes.txt")).unwrap(), b"mine");
}
