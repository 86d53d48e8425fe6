//! Tables and columns: a missing required table, missing, mistyped and twice-stored columns,
//! other tools' types, absent optional tables, the first of several broken tables.

use super::*;

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
    // Ids with a fraction read by a filter Parquet evaluates while decoding (a statement's
    // condition on the id, the audit): the same line, not the reader's quoting of it with a
    // damaged-file hint.
    let ids = snapshot();
    replace_column(ids.path(), "main_occurrence", "id", |c| {
        Arc::new(Float64Array::from_iter_values(
            (0..c.len()).map(|i| i as f64 + 1.5),
        ))
    });
    let snapshot_arg = ids.path().to_str().unwrap();
    for command in [
        &["sql", "SELECT count(*) FROM main_occurrence WHERE id > 2"][..],
        &["audit"][..],
    ] {
        let mut args = vec!["--snapshot", snapshot_arg, "--cache", "off"];
        args.extend_from_slice(command);
        let (code, out, err) = common::occlens_with(&args, &[]);
        assert_eq!((code, out.as_str()), (1, ""), "{command:?}: {err}");
        assert_eq!(
            err,
            "occlens: query failed: Execution error: column main_occurrence.id holds 1.5, which is not an integer of type Int64\n",
            "{command:?}"
        );
    }
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
