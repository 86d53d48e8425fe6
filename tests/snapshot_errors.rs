//! Bad snapshots fail at open with one line naming the table, column or file; the command line
//! exits non-zero and never panics.

mod common;
#[path = "snapshot_errors/files_and_folders.rs"]
mod files_and_folders;
#[path = "snapshot_errors/manifest.rs"]
mod manifest;
#[path = "snapshot_errors/tables_and_columns.rs"]
mod tables_and_columns;

use common::{replace_column, Tiny};
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

async fn count(engine: &Engine, table: &str) -> i64 {
    let batches = engine
        .ctx
        .sql(&format!("SELECT count(*) AS n FROM {table}"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0)
}

async fn open(dir: &std::path::Path) -> Engine {
    Engine::open(Some(dir.to_str().unwrap()), Config::default())
        .await
        .unwrap()
}

#[test]
fn an_invalid_datafusion_setting_is_an_error_naming_the_variable() {
    let (code, out, err) =
        common::occlens_with(&["tables"], &[("DATAFUSION_EXECUTION_BATCH_SIZE", "lots")]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.starts_with("occlens: DATAFUSION_EXECUTION_BATCH_SIZE=\"lots\": not a valid value for datafusion.execution.batch_size"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    // A valid one still applies.
    let (code, out, err) = common::occlens_with(
        &["sql", "SELECT value FROM information_schema.df_settings WHERE name = 'datafusion.execution.batch_size'"],
        &[("DATAFUSION_EXECUTION_BATCH_SIZE", "1234")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1234"), "{out}");
}

#[test]
fn formatting_functions_bound_their_digits_without_panicking() {
    let (code, out, err) = common::occlens_with(&["sql", "SELECT fixed(1.5, 70000) AS x"], &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(
            "fixed(x, n): the number of decimals must be between 0 and 65535, found 70000"
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("internal error"),
        "{err}"
    );
    let (code, out, err) = common::occlens_with(
        &[
            "sql",
            "SELECT py_round(1.5, 99999999999) AS a, py_round(1234.5, -2) AS b, fixed(2.5, 0) AS c",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1.5") && out.contains("1200.0") && out.contains('2'),
        "{out}"
    );
}
