//! Snapshots whose values break the contract, and options that name bad places or values.

use super::*;

pub(super) fn snapshot_values(work: &Path, good: &Path, cases: &mut Vec<Case>) {
    let g = good.to_str().unwrap();
    let s = |n: &str, f: &dyn Fn(&Path)| variant(work, good, n, f);
    let list = "/api/v2/occurrences/?project_id=1";
    // A cache directory inside the snapshot: occlens never writes there.
    let inside = good.join("cache-inside");
    cases.push(
        case(
            "cache build: --cache-dir inside the snapshot",
            &[
                "--snapshot",
                g,
                "--cache-dir",
                inside.to_str().unwrap(),
                "cache",
                "build",
            ],
            Some(1),
            "is inside the snapshot being read",
        )
        .absent(&inside),
    );
    // An id on two rows of a dimension table: the joins doubled rows, silently.
    let dup_taxon = s("duplicate_taxon_id", &|d| {
        let path = d.join("main_taxon.parquet");
        let batches = common::read_batches(&path);
        let twice: Vec<_> = batches.iter().chain(&batches).cloned().collect();
        occlens::generate::builder::write_parquet(&path, &twice).unwrap();
    });
    // A file storing a column twice: the first was read, silently.
    let dup_column = s("column_stored_twice", &|d| {
        let path = d.join("main_taxon.parquet");
        let batches = common::read_batches(&path);
        let twice: Vec<_> = batches
            .iter()
            .map(|b| common::column_twice(b, "name"))
            .collect();
        occlens::generate::builder::write_parquet(&path, &twice).unwrap();
    });
    cases.push(case(
        "snapshot: a column stored twice in a file",
        &["--snapshot", &dup_column, "--cache", "off", "api", list],
        Some(1),
        "main_taxon.parquet: column name is stored twice",
    ));
    cases.push(case(
        "snapshot: an id on two rows of main_taxon",
        &["--snapshot", &dup_taxon, "--cache", "off", "api", list],
        Some(1),
        "main_taxon: id 1 is on more than one row",
    ));
    // An --api-base that is not a URL, or with a query (a secret in it went into every
    // hyperlink): accepted, and written into answers.
    for (base, names) in [
        ("not a url", "--api-base not a url"),
        (
            "http://h.example/api?x=S3cretTok",
            "--api-base http://h.example/api: a query",
        ),
        ("ftp://h.example", "not an http(s) URL"),
    ] {
        cases.push(case(
            &format!("--api-base {base}"),
            &[
                "--snapshot",
                g,
                "--cache",
                "off",
                "--api-base",
                base,
                "api",
                list,
            ],
            None,
            names,
        ));
    }
    // A --media-url with a query (a token in it was copied into every media URL of bodies
    // and exports), not a URL, or without its final slash (every URL broken): accepted.
    for (base, names) in [
        (
            "https://cdn.example/media/?token=S3cretTok",
            "--media-url https://cdn.example/media/: a query",
        ),
        ("not a url at all", "--media-url not a url at all"),
        ("https://cdn.example/media", "end with /"),
        ("ftp://cdn.example/media/", "neither a path"),
    ] {
        cases.push(case(
            &format!("--media-url {base}"),
            &[
                "--snapshot",
                g,
                "--cache",
                "off",
                "--media-url",
                base,
                "api",
                list,
            ],
            None,
            names,
        ));
    }
    // Two statements as sql's QUERY: DataFusion's message did not say to use -c or -f.
    cases.push(case(
        "sql: two statements as QUERY",
        &[
            "--snapshot",
            g,
            "--cache",
            "off",
            "sql",
            "SELECT 1; SELECT 2",
        ],
        None,
        "QUERY holds 2 statements",
    ));
    // A --token that cannot go in a header: every request failed with the client's message.
    cases.push(case(
        "verify: a --token with a newline",
        &[
            "--snapshot",
            g,
            "--cache",
            "off",
            "verify",
            "--api-url",
            "http://127.0.0.1:1",
            "--token",
            "S3cretTok\nx",
            "--project",
            "1",
        ],
        None,
        "--token: not usable in an Authorization header",
    ));
    // A manifest whose web server announces 100 GB: its body was allocated whole (an abort).
    let liar = liar_server();
    cases.push(case(
        "snapshot: a manifest announced at 100 GB",
        &["--snapshot", &liar, "--cache", "off", "tables"],
        Some(1),
        "_snapshot.json is 100000000000 bytes",
    ));
    // Strings stored as bytes (no UTF-8 annotation) with one value that is not UTF-8: the
    // Parquet reader, asked for text, panicked.
    let not_utf8 = s("not_utf8", &|d| {
        use datafusion::arrow::array::{ArrayRef, AsArray, BinaryArray};
        common::replace_column(d, "main_taxon", "name", |c: &ArrayRef| -> ArrayRef {
            let names = c.as_string::<i32>();
            let bytes = names
                .iter()
                .map(|n| n.map(|n| [b"\xff", n.as_bytes()].concat()));
            std::sync::Arc::new(BinaryArray::from_iter(bytes))
        })
    });
    // Values are checked when read: a request that reads them fails.
    cases.push(case(
        "snapshot: bytes that are not UTF-8 in a string column",
        &["--snapshot", &not_utf8, "--cache", "off", "api", list],
        Some(1),
        "main_taxon.name holds bytes that are not UTF-8",
    ));
    // main_occurrence's key broken (an occurrence twice, an id NULL): every answer computed
    // from the tables refuses the snapshot, with the cache or without it, instead of pages
    // and exports that repeat rows or lose them (session 55: --cache off answered).
    for (name, id, names) in [
        (
            "occurrence_id_repeated",
            1,
            "1 rows repeat an id of another row",
        ),
        ("occurrence_id_null", 999, "1 rows have a NULL id"),
        // Broken twice (a NULL taxon name too): the key is reported, whichever of the
        // check's statements, which run at once, ends first.
        (
            "occurrence_id_repeated_and_null_name",
            1,
            "1 rows repeat an id of another row",
        ),
    ] {
        let dir = work.join(name);
        let mut t = Tiny::new();
        t.simple(1, 4, 0.9);
        t.simple(2, 3, 0.8);
        t.b.add(
            "main_occurrence",
            serde_json::json!({"id": id, "project_id": 1, "deployment_id": 1, "event_id": 1}),
        );
        t.b.write(&dir).unwrap();
        if id == 999 {
            null_in(&dir.join("main_occurrence.parquet"), "id", 999);
        }
        if name.ends_with("null_name") {
            null_in(&dir.join("main_taxon.parquet"), "name", 4);
        }
        let d = dir.to_str().unwrap().to_string();
        let out = work.join(format!("{name}.csv"));
        let o = out.to_str().unwrap().to_string();
        for (how, cache) in [("without the cache", "off"), ("building the cache", "auto")] {
            // verify fails on the snapshot before it fetches anything (here, from a port
            // where nothing listens), with its code for an error.
            let runs: [(&str, Vec<&str>); 5] = [
                ("api", vec!["api", list]),
                ("list", vec!["list", "--project", "1"]),
                ("detail", vec!["detail", "2"]),
                (
                    "export",
                    vec!["export", "--format", "csv", "--project", "1", "--out", &o],
                ),
                (
                    "verify",
                    vec![
                        "verify",
                        "--api-url",
                        "http://127.0.0.1:9",
                        "--project",
                        "1",
                    ],
                ),
            ];
            for (what, args) in runs {
                let mut all = vec!["--snapshot", d.as_str(), "--cache", cache];
                all.extend(args);
                let c = case(
                    &format!("snapshot: {name} ({what}, {how})"),
                    &all,
                    Some(if what == "verify" { 2 } else { 1 }),
                    names,
                );
                cases.push(if what == "export" { c.absent(&out) } else { c });
            }
        }
    }
    // A NULL in a NOT NULL column the views read: every answer computed from the tables
    // refuses the snapshot (naming the table and column) instead of answering without a
    // word (session 59: a NULL default_filters_score_threshold emptied every list of its
    // project, a NULL taxon name changed the counts; `check` alone reported them).
    // A taxon's parents_json that is JSON but not a list of parents: the taxa list read it as
    // no parents (exit 0) where its detail failed, and `check` passed (session 59).
    for (name, parents) in [
        ("parents_object", serde_json::json!({"id": 1})),
        ("parents_numbers", serde_json::json!([1, 2, 3])),
        (
            "parents_text_id",
            serde_json::json!([{"id": "abc", "name": "x"}]),
        ),
    ] {
        let dir = work.join(name);
        let mut t = Tiny::new();
        t.simple(1, 4, 0.9);
        t.b.add(
            "main_taxon",
            serde_json::json!({"id": 8, "name": "Odd", "rank": "SPECIES", "parents_json": parents}),
        );
        t.b.write(&dir).unwrap();
        let d = dir.to_str().unwrap().to_string();
        for (what, url) in [
            ("taxa", "/api/v2/taxa/?project_id=1"),
            ("occurrences", list),
        ] {
            cases.push(case(
                &format!("snapshot: {name} ({what})"),
                &["--snapshot", &d, "--cache", "off", "api", url],
                Some(1),
                "main_taxon: parents_json of 1 rows is not a list of parents",
            ));
        }
    }
    // Also in a column occlens reads through a conversion (a timestamp without a zone, read
    // from `main_occurrence__stored`).
    for (table, column, row, names) in [
        (
            "main_project",
            "default_filters_score_threshold",
            1,
            "main_project: NULL in default_filters_score_threshold (1 rows)",
        ),
        ("main_taxon", "name", 4, "main_taxon: NULL in name (1 rows)"),
        (
            "main_classification",
            "terminal",
            1,
            "main_classification: NULL in terminal (1 rows)",
        ),
        (
            "main_occurrence",
            "created_at",
            2,
            "main_occurrence: NULL in created_at (1 rows)",
        ),
    ] {
        let name = format!("{table}_{column}_null");
        let dir = work.join(&name);
        let mut t = Tiny::new();
        let d1 = t.simple(1, 4, 0.9);
        t.cls(d1, Some(3), Some(4), Some(0.9), true);
        t.simple(2, 3, 0.8);
        t.b.write(&dir).unwrap();
        null_in(&dir.join(format!("{table}.parquet")), column, row);
        let d = dir.to_str().unwrap().to_string();
        let out = work.join(format!("{name}.zip"));
        let o = out.to_str().unwrap().to_string();
        for (how, cache) in [("without the cache", "off"), ("building the cache", "auto")] {
            for (what, args) in [
                ("api", vec!["api", list]),
                (
                    "export",
                    vec!["export", "--format", "dwca", "--project", "1", "--out", &o],
                ),
            ] {
                let mut all = vec!["--snapshot", d.as_str(), "--cache", cache];
                all.extend(args);
                let c = case(
                    &format!("snapshot: {name} ({what}, {how})"),
                    &all,
                    Some(1),
                    names,
                );
                cases.push(if what == "export" { c.absent(&out) } else { c });
            }
        }
    }
    let _ = g;
}

/// Make `column` NULL in the row of `path` whose id is `which` (the column made nullable, as
/// a tool that does not know the contract's NOT NULL writes it; a timestamp column also loses
/// its zone).
fn null_in(path: &Path, column: &str, which: i64) {
    use datafusion::arrow::array::{BooleanArray, Int64Array};
    use datafusion::arrow::compute::{cast, nullif};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let at = schema.index_of(column).unwrap();
    let id = schema.index_of("id").unwrap();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.name() == column {
            true => match f.data_type() {
                DataType::Timestamp(unit, Some(_)) => f
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(*unit, None))
                    .with_nullable(true),
                _ => f.as_ref().clone().with_nullable(true),
            },
            false => f.as_ref().clone(),
        })
        .collect();
    let nullable = Arc::new(Schema::new(fields));
    let out = std::fs::File::create(path).unwrap();
    let mut w =
        datafusion::parquet::arrow::ArrowWriter::try_new(out, nullable.clone(), None).unwrap();
    for b in batches {
        let ids = b.column(id).as_any().downcast_ref::<Int64Array>().unwrap();
        let mask: BooleanArray = ids.iter().map(|v| Some(v == Some(which))).collect();
        let mut columns = b.columns().to_vec();
        columns[at] = nullif(b.column(at), &mask).unwrap();
        if let DataType::Timestamp(unit, Some(_)) = columns[at].data_type().clone() {
            // Without its zone, as a naive `timestamp` column (read through a conversion).
            columns[at] = cast(&columns[at], &DataType::Timestamp(unit, None)).unwrap();
        }
        w.write(&RecordBatch::try_new(nullable.clone(), columns).unwrap())
            .unwrap();
    }
    w.close().unwrap();
}
