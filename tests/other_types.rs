//! Statements over a snapshot written with other tools' types for the same values
//! (tests/common/retype.rs) answer as over the fixture snapshot itself, also where the files'
//! statistics describe the stored values rather than the values read: filters and orderings
//! on converted columns, plain min/max, columns constant in a file (`main_identification` is
//! one file per row there).

mod common;

use datafusion::arrow::util::pretty::pretty_format_batches;
use occlens::{Config, Engine};

async fn answer(engine: &Engine, sql: &str) -> String {
    common::table_text(engine, sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_answer_as_on_the_contracts_types() {
    let dir = tempfile::tempdir().unwrap();
    common::retype::retyped_oracle(dir.path());
    let open = |d: std::path::PathBuf| async move {
        Engine::open(Some(d.to_str().unwrap()), Config::default())
            .await
            .unwrap()
    };
    let original = open(common::oracle().join("snapshot")).await;
    let retyped = open(dir.path().to_path_buf()).await;
    // (statement, rows it must return)
    let statements = [
        ("SELECT max(created_at), min(created_at) FROM main_identification", 1),
        (
            "SELECT id, created_at FROM main_identification WHERE created_at > (SELECT min(created_at) FROM main_identification) ORDER BY created_at, id LIMIT 5",
            5,
        ),
        (
            r#"SELECT max("timestamp"), min("timestamp"), count("timestamp") FROM main_sourceimage"#,
            1,
        ),
        (
            r#"SELECT id FROM main_detection ORDER BY "timestamp" DESC NULLS LAST, id LIMIT 3"#,
            3,
        ),
        (
            r#"SELECT id FROM main_detection WHERE "timestamp" >= TIMESTAMP '2024-02-29T05:00:00Z' ORDER BY id LIMIT 5"#,
            5,
        ),
        (
            r#"SELECT id, feature_flags FROM main_project WHERE feature_flags LIKE '%"tags": false%' ORDER BY id"#,
            3,
        ),
        (
            "SELECT id, parents_json FROM main_taxon WHERE parents_json LIKE '%Noctuidae%' ORDER BY id",
            5,
        ),
        (
            "SELECT id, bbox FROM main_detection WHERE bbox = '[10, 10, 20, 20]' ORDER BY id LIMIT 4",
            4,
        ),
        (
            "SELECT deployment_id, count(*) FROM main_occurrence WHERE deployment_id = 1 GROUP BY deployment_id",
            1,
        ),
        (
            "SELECT max(deployment_id), min(occurrence_id) FROM main_occurrence, main_detection WHERE main_occurrence.id = main_detection.occurrence_id",
            1,
        ),
    ];
    for (sql, rows) in statements {
        let expected = answer(&original, sql).await;
        // Header, two rules, the rows, the closing rule.
        assert!(
            expected.lines().count() >= rows + 4,
            "{sql}: the fixture answers\n{expected}"
        );
        assert_eq!(answer(&retyped, sql).await, expected, "{sql}");
    }
}

/// INT96 timestamps (Spark's default; no zone in the file, no Arrow schema beside it) are UTC
/// instants: read as `timestamp[us, tz=UTC]` holding them, not as zone-less times (which a
/// snapshot reads as wall-clock times). tests/fixtures/int96_timestamps.parquet holds
/// 2023-06-11T01:00:00.123456Z and a NULL, written by pyarrow as INT96.
#[tokio::test]
async fn int96_timestamps_are_utc_instants() {
    use occlens::engine::catalog::{session, Semantics};
    let ctx = session(Semantics::Fast).unwrap();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/int96_timestamps.parquet");
    ctx.register_parquet("t", file.to_str().unwrap(), Default::default())
        .await
        .unwrap();
    let batches = ctx
        .sql("SELECT arrow_typeof(ts) AS t, CAST(ts AS VARCHAR) AS v FROM t")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = pretty_format_batches(&batches).unwrap().to_string();
    assert!(text.contains(r#"Timestamp(µs, "UTC")"#), "{text}");
    assert!(text.contains("2023-06-11T01:00:00.123456"), "{text}");
}

/// Zone-less timestamps are wall-clock times of the configured zone, whichever it is: a
/// snapshot retyped with Australia/Sydney wall-clock times, opened with that zone, answers as
/// the fixture does with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zone_less_timestamps_follow_the_configured_zone() {
    let sydney = chrono_tz::Australia::Sydney;
    let dir = tempfile::tempdir().unwrap();
    common::retype::retyped_oracle_in(dir.path(), sydney);
    let config = Config {
        time_zone: sydney,
        ..Config::default()
    };
    let open = |d: std::path::PathBuf| {
        let config = config.clone();
        async move {
            Engine::open(Some(d.to_str().unwrap()), config)
                .await
                .unwrap()
        }
    };
    let original = open(common::oracle().join("snapshot")).await;
    let retyped = open(dir.path().to_path_buf()).await;
    for sql in [
        r#"SELECT id, "timestamp" FROM main_detection ORDER BY id"#,
        "SELECT id, created_at, updated_at FROM main_occurrence ORDER BY id",
        "SELECT id, created_at FROM main_identification ORDER BY id",
    ] {
        assert_eq!(
            answer(&retyped, sql).await,
            answer(&original, sql).await,
            "{sql}"
        );
    }
    // The same instants, also in what the exports print (wall clock of the zone).
    let (_, expected) = common::simple_csv(&original, 3).await;
    assert!(expected.lines().count() > 100);
    assert_eq!(common::simple_csv(&retyped, 3).await.1, expected);
}

/// Instants stored with another zone's label (`timestamp[us, tz=America/New_York]`, the same
/// instants) answer as UTC ones where a request's instant is compared with them: the event's
/// capture page offset counted the captures before the subject as wall-clock times of that
/// zone (session 62: 18 instead of 8 for `?occurrence=2577`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instants_labelled_with_another_zone_compare_as_instants() {
    use datafusion::arrow::array::{Array, TimestampMicrosecondArray};
    let (src, dir) = oracle_copy();
    common::replace_column(dir.path(), "main_sourceimage", "timestamp", |c| {
        let a = c
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        std::sync::Arc::new(a.clone().with_timezone("America/New_York"))
    });
    let open = |d: std::path::PathBuf| async move {
        Engine::open(Some(d.to_str().unwrap()), Config::default())
            .await
            .unwrap()
    };
    let original = open(src).await;
    let labelled = open(dir.path().to_path_buf()).await;
    for url in [
        "/api/v2/events/8/?occurrence=2577",
        "/api/v2/events/8/?capture=143",
        "/api/v2/events/8/?timestamp=2023-11-04T21:50:00",
        "/api/v2/events/1/?detection=229",
    ] {
        let (a, b) = (
            common::call(&original, url).await,
            common::call(&labelled, url).await,
        );
        assert_eq!(a.status, 200, "{url}");
        assert_eq!(b.body, a.body, "{url}");
    }
}

/// The fixture snapshot's directory, and a copy of its files in a new temporary directory.
fn oracle_copy() -> (std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let src = common::oracle().join("snapshot");
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    (src, dir)
}

/// `table` of the snapshot `dir` with the column `name` added, holding `value` on every row.
fn add_column(dir: &std::path::Path, table: &str, name: &str, value: &str) {
    use datafusion::arrow::array::{ArrayRef, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;
    let path = dir.join(format!("{table}.parquet"));
    let batches: Vec<RecordBatch> = common::read_batches(&path)
        .into_iter()
        .map(|b| {
            let mut fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let mut columns = b.columns().to_vec();
            fields.push(Field::new(name, DataType::Utf8, true));
            columns.push(Arc::new(StringArray::from(vec![value; b.num_rows()])) as ArrayRef);
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
        })
        .collect();
    occlens::generate::builder::write_parquet(&path, &batches).unwrap();
}

/// A snapshot whose tables also store columns the views derive under the same names (a later
/// schema caching a count): every view failed on the repeated name; they are read without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_columns_named_like_derived_ones_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::oracle().join("snapshot");
    for entry in std::fs::read_dir(&source).unwrap().flatten() {
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    add_column(dir.path(), "main_occurrence", "detections_count", "999");
    add_column(dir.path(), "main_occurrence", "cover_image_path", "x.jpg");
    add_column(dir.path(), "main_detection", "local_timestamp", "never");
    let original = Engine::open(Some(source.to_str().unwrap()), Config::default())
        .await
        .unwrap();
    let extended = Engine::open(Some(dir.path().to_str().unwrap()), Config::default())
        .await
        .unwrap();
    for url in [
        "/api/v2/occurrences/?project_id=1&limit=50&ordering=-detections_count",
        "/api/v2/occurrences/2571/?project_id=1",
    ] {
        let want = common::call(&original, url).await;
        let got = common::call(&extended, url).await;
        assert_eq!(want.status, 200, "{url}");
        assert_eq!(got.status, want.status, "{url}");
        assert_eq!(got.body, want.body, "{url}");
    }
}

/// Strings stored as `large_string` or `string_view` and lists as `large_list`: the Parquet
/// export is the same file as from the fixture (its schema says `string`, not the input's
/// layout), and so is a detail's body, which reads the lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_string_and_list_layouts_export_the_same_file() {
    use datafusion::arrow::array::ArrayRef;
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field};
    use occlens::exports::{Export, Format, ObjectShape};
    use std::sync::Arc;
    let (src, dir) = oracle_copy();
    let to = |t: DataType| move |c: &ArrayRef| cast(c, &t).unwrap();
    common::replace_column(dir.path(), "main_taxon", "name", to(DataType::LargeUtf8));
    common::replace_column(dir.path(), "main_taxon", "rank", to(DataType::Utf8View));
    common::replace_column(dir.path(), "main_project", "name", to(DataType::Utf8View));
    common::replace_column(
        dir.path(),
        "main_classification",
        "scores",
        to(DataType::LargeList(Arc::new(Field::new(
            "item",
            DataType::Float64,
            true,
        )))),
    );
    common::replace_column(
        dir.path(),
        "ml_algorithmcategorymap",
        "labels",
        to(DataType::LargeList(Arc::new(Field::new(
            "element",
            DataType::Utf8View,
            true,
        )))),
    );
    let open = |d: std::path::PathBuf| async move {
        Engine::open(Some(d.to_str().unwrap()), Config::default())
            .await
            .unwrap()
    };
    let out = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, snapshot) in [("original", src), ("relaid", dir.path().to_path_buf())] {
        let engine = open(snapshot).await;
        let export = Export {
            format: Format::Parquet,
            project: 1,
            collection: None,
            shape: ObjectShape::List,
            columns: None,
            who: Default::default(),
            packaged_at: None,
        };
        let path = out.path().join(name);
        let written = occlens::exports::write(&engine, &export, &path, &|_| {})
            .await
            .unwrap();
        assert!(written.rows > 100, "{name}: {} rows", written.rows);
        let detail = common::call(&engine, "/api/v2/occurrences/2577/").await;
        assert_eq!(detail.status, 200);
        files.push((std::fs::read(&path).unwrap(), detail.body));
    }
    assert!(files[0].0 == files[1].0, "the Parquet exports differ");
    assert_eq!(files[1].1, files[0].1);
}

/// A table in two part files that store `id` (int32 beside int64) and `timestamp`
/// (nanoseconds beside microseconds) with different types: `max`, `min` and `count` answer
/// as over the one file. DataFusion answered `max(id)` from the parts' statistics, of which
/// it kept those of the table's type only (306 for 460, no error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_of_different_types_are_not_answered_from_their_statistics() {
    use datafusion::arrow::compute::{cast, concat_batches};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;
    let (src, dir) = oracle_copy();
    let file = dir.path().join("main_sourceimage.parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let all = concat_batches(&batches[0].schema(), &batches).unwrap();
    std::fs::remove_file(&file).unwrap();
    let folder = dir.path().join("main_sourceimage");
    std::fs::create_dir(&folder).unwrap();
    let half = all.num_rows() / 2;
    occlens::generate::builder::write_parquet(
        &folder.join("part-0.parquet"),
        &[all.slice(0, half)],
    )
    .unwrap();
    // The second half (the higher ids) with the other types.
    let rest = all.slice(half, all.num_rows() - half);
    let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let (mut fields, mut columns) = (Vec::new(), Vec::new());
    for (f, c) in rest.schema().fields().iter().zip(rest.columns()) {
        let to = match f.name().as_str() {
            "id" => DataType::Int32,
            "timestamp" => ns.clone(),
            _ => f.data_type().clone(),
        };
        fields.push(Field::new(f.name(), to.clone(), true));
        columns.push(cast(c, &to).unwrap());
    }
    let other = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    occlens::generate::builder::write_parquet(&folder.join("part-1.parquet"), &[other]).unwrap();
    let open = |d: std::path::PathBuf| async move {
        Engine::open(Some(d.to_str().unwrap()), Config::default())
            .await
            .unwrap()
    };
    let (original, parted) = (open(src).await, open(dir.path().to_path_buf()).await);
    for sql in [
        r#"SELECT max(id) FROM main_sourceimage"#,
        r#"SELECT max("timestamp") FROM main_sourceimage"#,
        r#"SELECT min(id), max(id), min("timestamp"), max("timestamp"), count(*) FROM main_sourceimage"#,
        // Filters on the columns, in the part of each type.
        r#"SELECT id, "timestamp" FROM main_sourceimage WHERE id IN (3, 400) ORDER BY id"#,
        r#"SELECT count(*), min(id) FROM main_sourceimage WHERE "timestamp" >= TIMESTAMP '2024-02-01T00:00:00Z'"#,
    ] {
        let expected = answer(&original, sql).await;
        assert_eq!(answer(&parted, sql).await, expected, "{sql}");
    }
}
