//! Bad snapshots fail at open with one line naming the table, column or file; the command line
//! exits non-zero and never panics.

mod common;

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
        "table main_occurrence: column determination_score: expected Float64, found Utf8"
    );
}

/// `occlens ARGS` fails: exit 1, nothing on stdout, one line on stderr holding `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let (code, out, err) = common::occlens_with(args, &[]);
    assert_eq!(
        (code, out.as_str(), err.lines().count()),
        (1, "", 1),
        "{err}"
    );
    assert!(err.contains(needle), "{needle}: {err}");
}

/// Types other tools write for the same values are read as the contract's (the parity tests
/// check the answers on such a snapshot); a type that cannot stand for a column, and a value
/// that does not fit its column, are errors naming the column.
#[tokio::test]
async fn other_tools_types_are_read_or_named() {
    use datafusion::arrow::array::{Array, Float64Array};
    let list = |dir: &tempfile::TempDir| {
        let snapshot = dir.path().to_str().unwrap().to_string();
        [
            "--snapshot",
            &snapshot,
            "--cache",
            "off",
            "list",
            "--project",
            "1",
        ]
        .map(String::from)
    };
    let run = |args: &[String], needle: &str| {
        fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle)
    };
    let dir = snapshot();
    replace_column(dir.path(), "main_detection", "bbox", |c| {
        Arc::new(Int64Array::from(vec![0; c.len()]))
    });
    assert_eq!(
        open_err(dir.path()).await,
        "table main_detection: column bbox: expected string (JSON text) or a nested type, found Int64"
    );

    let dir = snapshot();
    replace_column(dir.path(), "main_occurrence", "determination_id", |c| {
        Arc::new(StringArray::from(vec!["4"; c.len()]))
    });
    assert_eq!(
        open_err(dir.path()).await,
        "table main_occurrence: column determination_id: expected Int64, found Utf8"
    );

    // Integers stored as floating point (pandas, for a column with nulls): read, unless a
    // value has a fraction; then the statement fails naming the column.
    let dir = snapshot();
    replace_column(dir.path(), "main_occurrence", "determination_id", |c| {
        Arc::new(Float64Array::from(vec![4.5; c.len()]))
    });
    run(
        &list(&dir),
        "column main_occurrence.determination_id holds 4.5",
    );
    // Executors do not have the conversion: a cluster refuses the snapshot, naming it.
    #[cfg(feature = "cluster")]
    {
        let snapshot = dir.path().to_str().unwrap();
        fails_with(
            &[
                "--snapshot",
                snapshot,
                "--cluster",
                "standalone",
                "sql",
                "SELECT 1",
            ],
            "--cluster: main_occurrence (determination_id) can be read by a local occlens only",
        );
    }

    // A 64-bit frame number where PostgreSQL's `integer` was: read, unless a value does not
    // fit; then the statement fails (the command exits 1 with one line), never a NULL.
    let dir = snapshot();
    replace_column(dir.path(), "main_detection", "frame_num", |c| {
        Arc::new(Int64Array::from(vec![7; c.len()]))
    });
    let args = list(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = common::occlens_with(&args, &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert!(out.contains("Agrotis ipsilon"), "{out}");
    replace_column(dir.path(), "main_detection", "frame_num", |c| {
        Arc::new(Int64Array::from(vec![3_000_000_000; c.len()]))
    });
    run(
        &list(&dir),
        "column main_detection.frame_num holds 3000000000, which is not an integer of type Int32",
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
    let who = occlens::api::request::Requester::Anonymous;
    let r = occlens::api::respond::get(
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
    let r = occlens::api::respond::get(&engine, "/api/v2/occurrences/?project_id=1", &who)
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

/// `_snapshot.json` listing every Parquet file under `dir` with its size and SHA-256, as
/// `occlens snapshot` writes it (`absent`: optional tables it names as absent).
fn write_manifest(dir: &std::path::Path, absent: &[&str]) {
    use sha2::{Digest, Sha256};
    let mut tables: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for part in std::fs::read_dir(&path).unwrap() {
                files.push(part.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    files.sort();
    for path in files {
        if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
            continue;
        }
        let rel = path
            .strip_prefix(dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let table = rel.split('/').next().unwrap().trim_end_matches(".parquet");
        if absent.contains(&table) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        tables
            .entry(table.to_string())
            .or_default()
            .push(serde_json::json!({
                "path": rel, "rows": 0, "bytes": bytes.len(),
                "sha256": format!("{:x}", Sha256::digest(&bytes)),
            }));
    }
    let manifest = serde_json::json!({
        "format": "occlens-snapshot/1",
        "tables": tables.into_iter().map(|(name, files)| serde_json::json!({"name": name, "files": files})).collect::<Vec<_>>(),
        "absent_tables": absent,
    });
    std::fs::write(dir.join("_snapshot.json"), manifest.to_string()).unwrap();
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

#[tokio::test]
async fn a_zero_byte_parquet_file_is_not_a_missing_column() {
    let dir = snapshot();
    std::fs::write(dir.path().join("main_detection.parquet"), b"").unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_detection: main_detection.parquet: not a Parquet file (0 bytes)"),
        "{e}"
    );
    let dir = snapshot();
    std::fs::write(dir.path().join("main_taxalist_taxa.parquet"), b"PAR1").unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(
            "table main_taxalist_taxa: main_taxalist_taxa.parquet: not a Parquet file (4 bytes)"
        ),
        "{e}"
    );
}

/// A table written Hive-partitioned (`main_detection/project_id=1/part-0.parquet`, as Spark's
/// `partitionBy` writes it) is named as such, not reported missing; beside a
/// `<table>.parquet`, both are named (which one is current is not occlens's guess: the folder
/// was ignored silently until session 62).
#[tokio::test]
async fn a_hive_partitioned_table_is_named() {
    let dir = snapshot();
    let file = dir.path().join("main_detection.parquet");
    let nested = dir.path().join("main_detection/project_id=1");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::copy(&file, nested.join("part-0.parquet")).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("table main_detection: both main_detection.parquet and a folder main_detection/ with files in it exist")
            && e.ends_with("remove the one that is not current"),
        "{e}"
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        open_err(dir.path()).await,
        format!(
            "snapshot {}: table main_detection: the folder main_detection/ holds Parquet files only in subfolders (e.g. main_detection/project_id=1/part-0.parquet): a table's part files are read directly inside its folder (Hive-partitioned folders are not read)",
            dir.path().display()
        )
    );
}

/// Part files both directly in a table's folder and in a subfolder: reading the top-level
/// ones alone answered from part of the table with no message; the subfolder's file is
/// named. A subfolder hidden by its name (Spark's `_temporary/`) is skipped, as hidden files
/// are.
#[tokio::test]
async fn part_files_in_a_subfolder_beside_top_level_ones_are_named() {
    let dir = snapshot();
    let file = dir.path().join("main_detection.parquet");
    let folder = dir.path().join("main_detection");
    std::fs::create_dir_all(folder.join("_temporary/0")).unwrap();
    std::fs::copy(&file, folder.join("part-0.parquet")).unwrap();
    std::fs::copy(&file, folder.join("_temporary/0/part-9.parquet")).unwrap();
    std::fs::remove_file(&file).unwrap();
    Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .expect("the part under _temporary/ is skipped");
    std::fs::create_dir(folder.join("sub")).unwrap();
    std::fs::copy(
        folder.join("part-0.parquet"),
        folder.join("sub/part-1.parquet"),
    )
    .unwrap();
    assert_eq!(
        open_err(dir.path()).await,
        format!(
            "snapshot {}: table main_detection: the folder main_detection/ holds Parquet files both directly inside it and in subfolders (e.g. main_detection/sub/part-1.parquet): a table's part files are read directly inside its folder (Hive-partitioned folders are not read)",
            dir.path().display()
        )
    );
}

/// An optional table stored in a form occlens does not read (another extension or case) was
/// registered empty, as if absent: a project's exclude filter vanished and
/// counts changed with no message. It is named; a required one likewise, instead of
/// "missing".
#[tokio::test]
async fn a_table_stored_under_another_name_is_named_not_absent() {
    let table = "main_project_default_filters_exclude_taxa";
    for (name, folder) in [
        (format!("{table}.PARQUET"), false),
        (format!("{table}.pq"), false),
        (format!("{table}.parquet.gz"), false),
        (format!("{table}.csv"), false),
        (format!("{}.parquet", table.to_uppercase()), false),
        (table.to_uppercase(), true),
    ] {
        let dir = snapshot();
        let file = dir.path().join(format!("{table}.parquet"));
        if folder {
            std::fs::remove_file(&file).unwrap();
            std::fs::create_dir(dir.path().join(&name)).unwrap();
            std::fs::write(dir.path().join(&name).join("_SUCCESS"), b"").unwrap();
        } else {
            std::fs::rename(&file, dir.path().join(&name)).unwrap();
        }
        let e = open_err(dir.path()).await;
        let expected = format!("table {table}: found {name}, which is not read as table {table}");
        assert!(e.contains(&expected), "{name}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // Absent, with no look-alike, or its own folder holding no part (`_SUCCESS` only): an
    // empty table, as before.
    let dir = snapshot();
    std::fs::remove_file(dir.path().join(format!("{table}.parquet"))).unwrap();
    Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .expect("an absent optional table is registered empty");
    std::fs::create_dir(dir.path().join(table)).unwrap();
    std::fs::write(dir.path().join(table).join("_SUCCESS"), b"").unwrap();
    Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .expect("a folder without parts is an empty table");
    // A required table under another case is named too.
    let dir = snapshot();
    std::fs::rename(
        dir.path().join("main_detection.parquet"),
        dir.path().join("Main_Detection.parquet"),
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("found Main_Detection.parquet, which is not read as table main_detection"),
        "{e}"
    );
}

/// A file that stores a column twice (pyarrow writes such a table): schema inference kept
/// the first and every answer read it, silently. It is named, as a single file and as a
/// part.
#[tokio::test]
async fn a_column_stored_twice_is_named() {
    for parts in [false, true] {
        let dir = snapshot();
        let path = dir.path().join("main_occurrence.parquet");
        let batches = common::read_batches(&path);
        let twice: Vec<RecordBatch> = batches
            .iter()
            .map(|b| common::column_twice(b, "id"))
            .collect();
        std::fs::remove_file(&path).unwrap();
        let (written, shown) = if parts {
            std::fs::create_dir(dir.path().join("main_occurrence")).unwrap();
            write_parquet(&dir.path().join("main_occurrence/part-1.parquet"), &batches).unwrap();
            (
                dir.path().join("main_occurrence/part-2.parquet"),
                "main_occurrence/part-2.parquet",
            )
        } else {
            (path.clone(), "main_occurrence.parquet")
        };
        write_parquet(&written, &twice).unwrap();
        let e = open_err(dir.path()).await;
        assert!(
            e.ends_with(&format!(
                "table main_occurrence: {shown}: column id is stored twice (the reader would take the first, silently)"
            )),
            "{e}"
        );
    }
}

/// Several broken tables: the error names the first in the contract's order, the same one
/// on every run (it was whichever registration failed first).
#[tokio::test]
async fn of_several_broken_tables_the_first_in_contract_order_is_named() {
    let dir = snapshot();
    let broken = [
        "main_detection",
        "main_project",
        "main_occurrence",
        "main_taxon",
    ];
    for t in broken {
        std::fs::write(
            dir.path().join(format!("{t}.parquet")),
            b"PAR1 not parquet PAR1",
        )
        .unwrap();
    }
    let first = occlens::snapshot::contract::TABLES
        .iter()
        .map(|t| t.name)
        .find(|n| broken.contains(n))
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..5 {
        seen.insert(open_err(dir.path()).await);
    }
    assert_eq!(seen.len(), 1, "{seen:?}");
    let e = seen.into_iter().next().unwrap();
    assert!(
        e.contains(&format!("table {first}: {first}.parquet")),
        "{e}"
    );
}

#[tokio::test]
async fn a_directory_named_like_a_table_file_is_not_missing() {
    for table in ["main_detection", "main_taxalist"] {
        let dir = snapshot();
        let file = dir.path().join(format!("{table}.parquet"));
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let e = open_err(dir.path()).await;
        assert!(
            e.ends_with(&format!(
                "table {table}: {table}.parquet is a directory, not a file"
            )),
            "{e}"
        );
        assert!(!e.contains("missing"), "{e}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_optional_table_that_cannot_be_read_is_an_error_not_absent() {
    // A file that exists but cannot be opened (a symbolic link to itself: unreadable even for
    // root, unlike a chmod 000 file) used to make the table "absent", i.e. empty.
    let dir = snapshot();
    let table = "main_project_default_filters_exclude_taxa";
    let file = dir.path().join(format!("{table}.parquet"));
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&file, &file).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains(&format!("table {table}: {table}.parquet cannot be read: ")),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    // A folder of part files that cannot be listed, likewise.
    let dir = snapshot();
    let table = "main_taxalist_projects";
    std::fs::remove_file(dir.path().join(format!("{table}.parquet"))).unwrap();
    let folder = dir.path().join(table);
    std::os::unix::fs::symlink(&folder, &folder).unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.contains(&format!("table {table}: ")), "{e}");
    assert!(!e.contains("missing"), "{e}");
    // A corrupt optional file names the table, the file and the cause.
    let dir = snapshot();
    std::fs::write(
        dir.path().join("main_taxalist.parquet"),
        b"PAR1 not parquet at all PAR1",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("table main_taxalist: main_taxalist.parquet: corrupt Parquet footer"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("main_taxalist.parquet"),
        b"not parquet at all",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_taxalist: main_taxalist.parquet: not a Parquet file (it does not end with the Parquet magic number PAR1)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_corrupt_part_file_is_named() {
    let dir = snapshot();
    let parts = dir.path().join("main_taxon");
    std::fs::create_dir(&parts).unwrap();
    std::fs::rename(
        dir.path().join("main_taxon.parquet"),
        parts.join("part-00000.parquet"),
    )
    .unwrap();
    // A plausible footer over garbage metadata: the Parquet reader's own error, with the file
    // of the folder that fails named.
    let mut bogus = b"PAR1".to_vec();
    bogus.extend_from_slice(&[0xee; 20]);
    bogus.extend_from_slice(&20u32.to_le_bytes());
    bogus.extend_from_slice(b"PAR1");
    std::fs::write(parts.join("part-00001.parquet"), &bogus).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.contains("table main_taxon: cannot read main_taxon/part-00001.parquet: "),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
    // A footer whose metadata length exceeds the file (the reader's arithmetic overflowed).
    std::fs::write(
        parts.join("part-00001.parquet"),
        b"PAR1 garbage garbage PAR1",
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_taxon: main_taxon/part-00001.parquet: corrupt Parquet footer (it declares 543516513 bytes of metadata in a file of 25 bytes)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_table_with_both_a_file_and_a_folder_is_an_error() {
    let dir = snapshot();
    let parts = dir.path().join("main_occurrence");
    std::fs::create_dir(&parts).unwrap();
    std::fs::copy(
        dir.path().join("main_occurrence.parquet"),
        parts.join("part-00000.parquet"),
    )
    .unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("table main_occurrence: both main_occurrence.parquet and a folder main_occurrence/ of 1 part files exist; remove the one that is not current"),
        "{e}"
    );
}

#[tokio::test]
async fn the_manifest_decides_which_files_are_read() {
    let dir = snapshot();
    let parts = dir.path().join("main_occurrence");
    std::fs::create_dir(&parts).unwrap();
    std::fs::rename(
        dir.path().join("main_occurrence.parquet"),
        parts.join("part-00000.parquet"),
    )
    .unwrap();
    write_manifest(dir.path(), &[]);
    // A part left behind by an earlier, larger snapshot to the same place.
    std::fs::copy(
        parts.join("part-00000.parquet"),
        parts.join("part-00001.parquet"),
    )
    .unwrap();
    let engine = open(dir.path()).await;
    assert_eq!(count(&engine, "main_occurrence").await, 1);
    let table = engine
        .snapshot
        .tables
        .iter()
        .find(|t| t.name == "main_occurrence")
        .unwrap();
    assert_eq!(table.files.len(), 1);
    assert!(engine.snapshot.verify_checksums().await.unwrap().is_empty());
    // Without a manifest every part found is read (here: the stale one too).
    std::fs::remove_file(dir.path().join("_snapshot.json")).unwrap();
    assert_eq!(count(&open(dir.path()).await, "main_occurrence").await, 2);
}

#[tokio::test]
async fn manifest_sizes_files_and_absent_tables_are_checked() {
    // A file whose size differs from the manifest's.
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    let file = dir.path().join("main_taxon.parquet");
    let bytes = std::fs::read(&file).unwrap();
    let size = bytes.len();
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"xyz");
    std::fs::write(&file, &longer).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(&format!(
            "table main_taxon: main_taxon.parquet: _snapshot.json lists {size} bytes, found {} bytes (the file changed after the snapshot was written)",
            size + 3
        )),
        "{e}"
    );
    // A listed file that is gone.
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    std::fs::remove_file(dir.path().join("main_event.parquet")).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(
            "table main_event: main_event.parquet, listed in _snapshot.json, does not exist"
        ),
        "{e}"
    );
    // A table the manifest names absent is empty, whatever lies in the folder.
    let dir = snapshot();
    write_manifest(dir.path(), &["main_taxalist"]);
    let engine = open(dir.path()).await;
    assert_eq!(count(&engine, "main_taxalist").await, 0);
    // A required table cannot be absent.
    write_manifest(dir.path(), &["main_taxon"]);
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("required table main_taxon is listed as absent in _snapshot.json"),
        "{e}"
    );
    // Same size, different bytes: only the checksums tell (what `occlens check` reads).
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    let file = dir.path().join("main_deployment.parquet");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[5] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let engine = open(dir.path()).await;
    let problems = engine.snapshot.verify_checksums().await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("table main_deployment: main_deployment.parquet: sha256 is "),
        "{problems:?}"
    );
    // A manifest that is not one.
    std::fs::write(dir.path().join("_snapshot.json"), b"{\"tables\": 3}").unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.ends_with("_snapshot.json has no \"tables\" list"), "{e}");
    let manifest = serde_json::json!({"tables": [{"name": "main_taxon", "files": [
        {"path": "main_taxon.parquet", "bytes": 1, "sha256": "é".repeat(20)}]}]});
    std::fs::write(dir.path().join("_snapshot.json"), manifest.to_string()).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(
            "_snapshot.json: table main_taxon: files[0] has a \"sha256\" that is not 64 hex digits"
        ),
        "{e}"
    );
    let manifest = serde_json::json!({"tables": [{"name": "main_taxon", "files": [
        {"path": "../../etc/passwd", "bytes": 1}]}]});
    std::fs::write(dir.path().join("_snapshot.json"), manifest.to_string()).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("_snapshot.json: table main_taxon: \"../../etc/passwd\" is not a path inside the snapshot"),
        "{e}"
    );
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

/// A snapshot directory served over plain HTTP (HEAD and ranged GET, no listing), on a
/// thread; its base URL.
fn serve(dir: std::path::PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut range = None;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some(r) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                            let (a, b) = r.trim().split_once('-').unwrap();
                            range = Some((a.parse::<usize>().unwrap(), b.parse::<usize>().ok()));
                        }
                    }
                    let mut words = request.split_whitespace();
                    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
                    let file = dir.join(
                        path.trim_start_matches('/')
                            .split('/')
                            .skip(1)
                            .collect::<Vec<_>>()
                            .join("/"),
                    );
                    let (status, body, extra) = match (method, std::fs::read(&file)) {
                        ("GET" | "HEAD", Ok(bytes)) if file.is_file() => match range {
                            Some((a, b)) => {
                                let end = b.unwrap_or(bytes.len() - 1).min(bytes.len() - 1);
                                let body = bytes[a..=end].to_vec();
                                (
                                    "206 Partial Content",
                                    body,
                                    format!("Content-Range: bytes {a}-{end}/{}\r\n", bytes.len()),
                                )
                            }
                            None => ("200 OK", bytes, String::new()),
                        },
                        ("GET" | "HEAD", _) => ("404 Not Found", vec![], String::new()),
                        _ => ("405 Method Not Allowed", vec![], String::new()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}\r\n",
                        body.len()
                    );
                    let _ = out.write_all(head.as_bytes());
                    if method != "HEAD" {
                        let _ = out.write_all(&body);
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}/snap")
}

#[test]
fn an_http_snapshot_with_a_manifest_is_read() {
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    let url = serve(dir.path().to_path_buf());
    let (code, out, err) = common::occlens_with(
        &[
            "--snapshot",
            &url,
            "sql",
            "SELECT count(*) AS n FROM main_occurrence",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains('1'), "{out}");
    // Without a manifest the folders of part files cannot be listed: an error, never "missing".
    std::fs::remove_file(dir.path().join("_snapshot.json")).unwrap();
    let (code, _, err) = common::occlens_with(&["--snapshot", &url, "tables"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!("occlens: snapshot {url}: table ")),
        "{err}"
    );
    assert!(
        !err.contains("missing") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_unreachable_http_snapshot_is_an_error_naming_it() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/snap");
    let (code, _, err) = common::occlens_with(&["--snapshot", &url, "tables"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "occlens: snapshot {url}: _snapshot.json cannot be read: "
        )),
        "{err}"
    );
    assert!(
        !err.contains("missing") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[tokio::test]
async fn a_corrupt_page_is_found_and_named() {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let mut t = Tiny::new();
    for id in 1..=300 {
        t.simple(id, 4, 0.9);
    }
    let dir = tempfile::tempdir().unwrap();
    t.b.write(dir.path()).unwrap();
    let file = dir.path().join("main_detection.parquet");
    let (start, len) = {
        let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
        let group = reader.metadata().row_group(0);
        let column = (0..group.num_columns())
            .map(|i| group.column(i))
            .find(|c| c.column_path().string() == "path")
            .unwrap();
        let (start, len) = column.byte_range();
        (start as usize, len as usize)
    };
    let mut bytes = std::fs::read(&file).unwrap();
    for b in &mut bytes[start + len / 2..start + len / 2 + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();
    // The footer is intact: the snapshot opens; a query reading the page fails.
    let engine = open(dir.path()).await;
    let failed = engine
        .ctx
        .sql("SELECT count(*) FROM main_detection WHERE path LIKE '%x%'")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(failed.is_err());
    let problems = engine.snapshot.decode_files().await;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("table main_detection: main_detection.parquet: "),
        "{problems:?}"
    );
    assert!(!problems[0].contains("panicked"), "{problems:?}");
}

#[test]
fn a_snapshot_path_that_is_a_file_says_so() {
    let dir = snapshot();
    let file = dir.path().join("main_taxon.parquet");
    let (code, _, err) =
        common::occlens_with(&["--snapshot", file.to_str().unwrap(), "tables"], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("occlens: snapshot {}: not a directory\n", file.display())
    );
}
