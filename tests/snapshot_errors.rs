//! Bad snapshots fail at open with one line naming the table, column or file; the command line
//! exits non-zero and never panics.

mod common;

use common::Tiny;
use datafusion::arrow::array::{Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use occlens::generate::builder::write_parquet;
use occlens::{Config, Engine};
use std::process::Command;
use std::sync::Arc;

fn snapshot() -> tempfile::TempDir {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    let dir = tempfile::tempdir().unwrap();
    t.b.write(dir.path()).unwrap();
    dir
}

async fn open_err(dir: &std::path::Path) -> String {
    match Engine::open(Some(dir.to_str().unwrap()), Config::default()).await {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_missing_required_table_is_named() {
    let dir = snapshot();
    std::fs::remove_file(dir.path().join("main_detection.parquet")).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("required table main_detection is missing"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
}

#[tokio::test]
async fn missing_and_mistyped_columns_are_named_with_types() {
    let dir = snapshot();
    let path = dir.path().join("main_occurrence.parquet");
    let ids = Arc::new(Int64Array::from(vec![1]));
    let schema = Schema::new(vec![Field::new("id", DataType::Int64, false)]);
    write_parquet(
        &path,
        &[RecordBatch::try_new(Arc::new(schema), vec![ids.clone()]).unwrap()],
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.contains("table main_occurrence: missing column"), "{e}");

    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    let mut cols: Vec<Arc<dyn datafusion::arrow::array::Array>> = vec![ids];
    for (name, kind) in [
        ("created_at", 0),
        ("updated_at", 0),
        ("deployment_id", 1),
        ("determination_id", 1),
        ("event_id", 1),
        ("project_id", 1),
        ("determination_score", 2),
    ] {
        match kind {
            0 => {
                fields.push(Field::new(
                    name,
                    DataType::Timestamp(
                        datafusion::arrow::datatypes::TimeUnit::Microsecond,
                        Some("UTC".into()),
                    ),
                    false,
                ));
                cols.push(Arc::new(
                    datafusion::arrow::array::TimestampMicrosecondArray::from(vec![0])
                        .with_timezone("UTC"),
                ));
            }
            1 => {
                fields.push(Field::new(name, DataType::Int64, true));
                cols.push(Arc::new(Int64Array::from(vec![1])));
            }
            _ => {
                fields.push(Field::new(name, DataType::Utf8, true));
                cols.push(Arc::new(StringArray::from(vec!["0.9"])));
            }
        }
    }
    write_parquet(
        &path,
        &[RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()],
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert_eq!(
        e,
        "table main_occurrence: column determination_score: expected Float64, found Utf8View"
    );
}

#[tokio::test]
async fn a_corrupt_parquet_file_is_named() {
    let dir = snapshot();
    std::fs::write(
        dir.path().join("main_taxon.parquet"),
        b"PAR1 this is not parquet",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.contains("main_taxon.parquet"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[tokio::test]
async fn optional_tables_may_be_absent() {
    let dir = snapshot();
    for t in [
        "main_taxalist",
        "main_taxalist_taxa",
        "main_project_default_filters_include_taxa",
        "main_userprojectmembership",
        "main_sourceimagecollection_images",
        "ml_algorithmcategorymap",
    ] {
        std::fs::remove_file(dir.path().join(format!("{t}.parquet"))).unwrap();
    }
    let engine = Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .unwrap();
    let who = occlens::views::request::Requester::Anonymous;
    let r = occlens::output::api::get(
        &engine,
        "/api/v2/occurrences/?project_id=1&collection_id=3",
        &who,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.body["count"].clone()),
        (200, serde_json::json!(0))
    );
    let r = occlens::output::api::get(&engine, "/api/v2/occurrences/?project_id=1", &who)
        .await
        .unwrap();
    assert_eq!(r.body["count"], 1);
}

#[test]
fn the_command_line_exits_non_zero_with_one_line() {
    let bin = env!("CARGO_BIN_EXE_occlens");
    let out = Command::new(bin)
        .args(["--snapshot", "/definitely/not/here", "tables"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err,
        "occlens: snapshot /definitely/not/here: no such directory\n"
    );
    let out = Command::new(bin)
        .args(["api", "/api/v2/occurrences/?project_id=999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"detail\":\"Not found.\"}\n"
    );
    let out = Command::new(bin)
        .args(["sql", "SELECT nope FROM main_occurrence"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
    let out = Command::new(bin)
        .args(["--as", "root", "tables"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn batch_mode_answers_each_line_in_order() {
    use std::io::Write;
    let bin = env!("CARGO_BIN_EXE_occlens");
    let mut child = Command::new(bin)
        .args(["api", "--batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = "/api/v2/occurrences/?project_id=1&limit=1\n\n{\"url\": \"/api/v2/occurrences/?project_id=3\", \"as_user\": \"superuser\"}\n/api/v2/occurrences/\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["url"], "/api/v2/occurrences/?project_id=1&limit=1");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["body"]["results"].as_array().unwrap().len(), 1);
    // The draft project is visible to the superuser only.
    assert_eq!(lines[1]["status"], 200);
    assert!(lines[1]["body"]["count"].as_u64().unwrap() > 0);
    assert_eq!(
        lines[1]["body"]["user_permissions"],
        serde_json::json!(["create"])
    );
    assert_eq!(lines[2]["status"], 400);
    assert_eq!(
        lines[2]["body"],
        serde_json::json!({"project_id": ["This field is required."]})
    );
}
