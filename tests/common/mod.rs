//! Tiny snapshots for rule tests: a base world plus the rows a test adds.
#![allow(dead_code)]

pub mod retype;
pub mod services;

use occlens::api::request::Requester;
use occlens::api::respond::{get, Response};
use occlens::generate::SnapshotBuilder;
use occlens::{Config, Engine};
use serde_json::{json, Value};

/// Project 1 (threshold 0.0), deployment 1, event 1 (2023-06-10 21:00 → 04:50 New York),
/// capture 1, users 2 and 3, algorithms 1–4, and the taxa
/// 1 Lepidoptera ORDER › 2 Noctuidae FAMILY › 3 Agrotis GENUS › 4 Agrotis ipsilon SPECIES,
/// 5 Diptera ORDER › 6 Tipula paludosa SPECIES, 7 Orphan (no parents).
pub struct Tiny {
    pub b: SnapshotBuilder,
    det: i64,
    cls: i64,
    ident: i64,
    clock: i64,
}

pub const T0: &str = "2023-06-11T01:00:00Z"; // 21:00 New York

impl Tiny {
    pub fn new() -> Tiny {
        let mut b = SnapshotBuilder::new();
        b.add(
            "main_project",
            json!({"id": 1, "name": "P1", "default_filters_score_threshold": 0.0, "owner_id": 2}),
        );
        b.add(
            "main_deployment",
            json!({"id": 1, "name": "D1", "project_id": 1}),
        );
        b.add("main_event", json!({"id": 1, "start": T0, "end": "2023-06-11T08:50:00Z", "project_id": 1, "deployment_id": 1}));
        b.add("main_sourceimage", json!({"id": 1, "path": "a/1.jpg", "public_base_url": "https://img.test/base/",
                                         "width": 10, "height": 20, "deployment_id": 1, "project_id": 1, "timestamp": T0}));
        b.add(
            "users_user",
            json!({"id": 2, "name": "Admin", "email": "a@t"}),
        );
        b.add(
            "users_user",
            json!({"id": 3, "name": "Alice", "email": "alice@t"}),
        );
        for (id, name) in [
            (1, "det"),
            (2, "binary"),
            (3, "species-a"),
            (4, "species-b"),
        ] {
            b.add("ml_algorithm", json!({"id": id, "name": name, "key": name}));
        }
        let taxa = [
            (1, "Lepidoptera", "ORDER", None, json!([])),
            (
                2,
                "Noctuidae",
                "FAMILY",
                Some(1),
                json!([{"id": 1, "name": "Lepidoptera", "rank": "ORDER"}]),
            ),
            (
                3,
                "Agrotis",
                "GENUS",
                Some(2),
                json!([{"id": 1, "name": "Lepidoptera", "rank": "ORDER"}, {"id": 2, "name": "Noctuidae", "rank": "FAMILY"}]),
            ),
            (
                4,
                "Agrotis ipsilon",
                "SPECIES",
                Some(3),
                json!([{"id": 1, "name": "Lepidoptera", "rank": "ORDER"}, {"id": 2, "name": "Noctuidae", "rank": "FAMILY"}, {"id": 3, "name": "Agrotis", "rank": "GENUS"}]),
            ),
            (5, "Diptera", "ORDER", None, json!([])),
            (
                6,
                "Tipula paludosa",
                "SPECIES",
                Some(5),
                json!([{"id": 5, "name": "Diptera", "rank": "ORDER"}]),
            ),
            (7, "Orphan", "SPECIES", None, json!([])),
        ];
        for (id, name, rank, parent, parents) in taxa {
            b.add("main_taxon", json!({"id": id, "name": name, "rank": rank, "parent_id": parent, "parents_json": parents}));
        }
        Tiny {
            b,
            det: 0,
            cls: 0,
            ident: 0,
            clock: 1_700_000_000_000_000,
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1_000_000;
        self.clock
    }

    /// An occurrence in project 1 with a stored determination and score.
    pub fn occ(&mut self, id: i64, determination: Option<i64>, score: Option<f64>) -> &mut Self {
        let t = self.tick();
        self.b.add("main_occurrence", json!({"id": id, "project_id": 1, "deployment_id": 1, "event_id": 1,
            "determination_id": determination, "determination_score": score, "created_at": t, "updated_at": t}));
        self
    }

    /// A detection (real unless `null_marker`) at `ts` (RFC 3339, or None).
    pub fn det(
        &mut self,
        occ: i64,
        ts: Option<&str>,
        path: Option<&str>,
        null_marker: bool,
    ) -> i64 {
        self.det += 1;
        let bbox = if null_marker {
            Value::Null
        } else {
            json!([1, 2, 30, 40])
        };
        self.b.add(
            "main_detection",
            json!({"id": self.det, "occurrence_id": occ, "source_image_id": 1,
            "timestamp": ts, "path": path, "bbox": bbox, "detection_algorithm_id": 1}),
        );
        self.det
    }

    pub fn cls(
        &mut self,
        det: i64,
        algorithm: Option<i64>,
        taxon: Option<i64>,
        score: Option<f64>,
        terminal: bool,
    ) -> i64 {
        self.cls += 1;
        let t = self.tick();
        self.b.add("main_classification", json!({"id": self.cls, "detection_id": det, "algorithm_id": algorithm,
            "taxon_id": taxon, "score": score, "terminal": terminal, "created_at": t, "timestamp": t}));
        self.cls
    }

    pub fn ident(
        &mut self,
        occ: i64,
        user: Option<i64>,
        taxon: Option<i64>,
        withdrawn: bool,
        created: &str,
    ) -> i64 {
        self.ident += 1;
        self.b.add(
            "main_identification",
            json!({"id": self.ident, "occurrence_id": occ, "user_id": user,
            "taxon_id": taxon, "withdrawn": withdrawn, "created_at": created}),
        );
        self.ident
    }

    /// A valid occurrence: determination `taxon` at `score`, one real detection at T0.
    pub fn simple(&mut self, id: i64, taxon: i64, score: f64) -> i64 {
        self.occ(id, Some(taxon), Some(score));
        self.det(id, Some(T0), Some(&format!("crops/{id}.jpg")), false)
    }

    pub async fn engine(&self) -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        self.b.write(dir.path()).unwrap();
        let config = Config {
            api_base: "http://testserver".into(),
            ..Config::default()
        };
        let engine = Engine::open(Some(dir.path().to_str().unwrap()), config)
            .await
            .unwrap();
        (dir, engine)
    }
}

pub async fn call(engine: &Engine, url: &str) -> Response {
    get(engine, url, &Requester::Superuser(Some(2)))
        .await
        .unwrap()
}

pub async fn call_as(engine: &Engine, url: &str, who: Requester) -> Response {
    get(engine, url, &who).await.unwrap()
}

/// The ids of a list response's results.
pub fn ids(body: &Value) -> Vec<i64> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// `tests/fixtures/antenna-oracle`.
pub fn oracle() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/antenna-oracle")
}

/// An engine over the snapshot `dir` (hyperlinks on `http://testserver`) whose cache of
/// derived tables lives under `root`, built when missing unless `mode` is Off; `range_rows`:
/// rows (occurrences, detections, classifications) per build range (None: the default).
pub async fn cached_engine(
    dir: &std::path::Path,
    root: &std::path::Path,
    mode: occlens::engine::cache::Mode,
    range_rows: Option<i64>,
) -> Engine {
    let fast = occlens::engine::catalog::Semantics::Fast;
    cached_engine_with(dir, root, mode, range_rows, fast).await
}

/// `cached_engine` with the top-1 rules in the formulation `semantics`.
pub async fn cached_engine_with(
    dir: &std::path::Path,
    root: &std::path::Path,
    mode: occlens::engine::cache::Mode,
    range_rows: Option<i64>,
    semantics: occlens::engine::catalog::Semantics,
) -> Engine {
    let settings = occlens::engine::cache::Settings {
        mode,
        dir: Some(root.to_path_buf()),
        range_rows,
        ..Default::default()
    };
    let config = Config {
        api_base: "http://testserver".into(),
        semantics,
        ..Config::default()
    };
    Engine::open_cached(
        Some(dir.to_str().unwrap()),
        config,
        &settings,
        &occlens::engine::cache::Part::ALL,
        &|_| {},
    )
    .await
    .expect("open the snapshot")
}

/// Run the `occlens` binary with `args` and extra environment variables;
/// (exit code, stdout, stderr). Its cache of derived tables goes under the temporary
/// directory unless `env` or `args` say otherwise.
pub fn occlens_with(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
        .args(args)
        .env(
            "OCCLENS_CACHE_DIR",
            std::env::temp_dir().join("occlens-tests-cache"),
        )
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Project `project`'s `occurrences_simple_csv` export from `engine`: (rows, text).
pub async fn simple_csv(engine: &Engine, project: i64) -> (u64, String) {
    let stream = engine
        .export_stream("export_simple_csv", project, None)
        .await
        .unwrap();
    let mut out = Vec::new();
    let rows = occlens::exports::csv_export::write(
        stream,
        &mut out,
        engine.config.time_zone,
        "/media/",
        &|_| {},
    )
    .await
    .unwrap();
    (rows, String::from_utf8(out).unwrap())
}

/// Every record batch of the Parquet file `path`.
#[allow(dead_code)]
pub fn read_batches(path: &std::path::Path) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `batch` with its column `name` stored a second time, last (as pyarrow can write a file).
#[allow(dead_code)]
pub fn column_twice(
    batch: &datafusion::arrow::record_batch::RecordBatch,
    name: &str,
) -> datafusion::arrow::record_batch::RecordBatch {
    use datafusion::arrow::datatypes::Schema;
    let i = batch.schema().index_of(name).unwrap();
    let mut fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = batch.columns().to_vec();
    fields.push(fields[i].clone());
    columns.push(columns[i].clone());
    datafusion::arrow::record_batch::RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )
    .unwrap()
}

/// `table`'s column `column` of the snapshot `dir` replaced by `to(old column)`.
pub fn replace_column(
    dir: &std::path::Path,
    table: &str,
    column: &str,
    to: impl Fn(&datafusion::arrow::array::ArrayRef) -> datafusion::arrow::array::ArrayRef,
) {
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use occlens::generate::builder::write_parquet;
    use std::sync::Arc;
    let path = dir.join(format!("{table}.parquet"));
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader
        .map(|b| {
            let b = b.unwrap();
            let schema = b.schema();
            let (mut fields, mut cols) = (Vec::new(), Vec::new());
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                if f.name() == column {
                    let new = to(c);
                    fields.push(Field::new(column, new.data_type().clone(), true));
                    cols.push(new);
                } else {
                    fields.push(f.as_ref().clone());
                    cols.push(c.clone());
                }
            }
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
        })
        .collect();
    write_parquet(&path, &batches).unwrap();
}

/// The rows of `sql` over `engine` as DataFusion's text table (panics naming the statement).
pub async fn table_text(engine: &Engine, sql: &str) -> String {
    let batches = engine
        .ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string()
}

/// Every file under `dir` (its folders walked).
#[allow(dead_code)]
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The cache entries (one directory per snapshot version) under `root`.
pub fn cache_entries(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
