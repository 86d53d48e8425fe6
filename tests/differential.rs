//! Differential tests of the two formulations of the top-1 rules: every fast view `X` of
//! `queries/` that has a window-function reference `X_window` in `queries/reference/` must give
//! identical rows (and column types) on random snapshots shaped for the edge cases
//! (`differential/world.rs`); every flipped tie-break of a reference must be caught; and
//! `--semantics window` must answer requests, exports and the audit byte for byte alike.
//!
//! OCCLENS_DIFFERENTIAL_SEEDS=N runs N seeds (default 200); OCCLENS_DIFFERENTIAL_FIRST_SEED=S
//! starts at S (replay one seed: FIRST_SEED=S, SEEDS=1).

mod common;
#[path = "differential/world.rs"]
mod world;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches;
use occlens::api::request::Requester;
use occlens::api::respond::get;
use occlens::engine::catalog::{reference_pairs, reference_views, Semantics};
use occlens::exports::csv_export;
use occlens::exports::json_export::{self, Framing};
use occlens::{Config, Engine};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Seeds per snapshot (each seed's ids are disjoint, see `world`).
const SEEDS_PER_SNAPSHOT: u64 = 100;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a whole number")),
        Err(_) => default,
    }
}

/// A snapshot of the seeds `seeds`, in a temporary directory.
fn snapshot(seeds: std::ops::Range<u64>) -> tempfile::TempDir {
    let mut tiny = common::Tiny::new();
    for seed in seeds {
        world::add_seed(&mut tiny.b, seed);
    }
    let dir = tempfile::tempdir().unwrap();
    tiny.b.write(dir.path()).unwrap();
    dir
}

async fn open(dir: &Path, semantics: Semantics) -> Engine {
    let config = Config {
        api_base: "http://testserver".into(),
        semantics,
        ..Config::default()
    };
    Engine::open(Some(dir.to_str().unwrap()), config)
        .await
        .unwrap()
}

/// A view's columns ("name type") and its rows as text, grouped by the first column (an
/// occurrence id in every compared view) and sorted.
struct Rows {
    columns: Vec<String>,
    by_occurrence: BTreeMap<i64, Vec<String>>,
}

async fn rows(engine: &Engine, view: &str) -> Rows {
    let df = engine
        .ctx
        .sql(&format!("SELECT * FROM {view}"))
        .await
        .unwrap_or_else(|e| panic!("{view}: {e}"));
    let columns = df
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect();
    let batches = df.collect().await.unwrap_or_else(|e| panic!("{view}: {e}"));
    let options = FormatOptions::default().with_null("NULL");
    let mut by_occurrence: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for batch in &batches {
        let cells: Vec<ArrayFormatter> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        let keys = batch.column(0).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let key = if keys.is_null(row) {
                i64::MIN
            } else {
                keys.value(row)
            };
            let text: Vec<String> = cells.iter().map(|c| c.value(row).to_string()).collect();
            by_occurrence.entry(key).or_default().push(text.join(" | "));
        }
    }
    for rows in by_occurrence.values_mut() {
        rows.sort();
    }
    Rows {
        columns,
        by_occurrence,
    }
}

/// One occurrence whose rows differ between a fast view and its reference.
struct Difference {
    fast_view: String,
    reference_view: String,
    occurrence: i64,
    fast: Vec<String>,
    reference: Vec<String>,
}

/// Every difference between a fast view and its reference on `engine`'s snapshot.
async fn differences(engine: &Engine) -> Vec<Difference> {
    let mut out = Vec::new();
    for (fast_view, reference_view) in reference_pairs() {
        let fast = rows(engine, &fast_view).await;
        let reference = rows(engine, &reference_view).await;
        assert_eq!(
            fast.columns, reference.columns,
            "{reference_view} must have the columns and types of {fast_view}"
        );
        let keys: BTreeSet<i64> = fast
            .by_occurrence
            .keys()
            .chain(reference.by_occurrence.keys())
            .copied()
            .collect();
        for occurrence in keys {
            let a = fast.by_occurrence.get(&occurrence).cloned();
            let b = reference.by_occurrence.get(&occurrence).cloned();
            if a != b {
                out.push(Difference {
                    fast_view: fast_view.clone(),
                    reference_view: reference_view.clone(),
                    occurrence,
                    fast: a.unwrap_or_default(),
                    reference: b.unwrap_or_default(),
                });
            }
        }
    }
    out
}

/// An occurrence's input rows (occurrence, detections, classifications, identifications) as
/// tables, and how many there are.
async fn inputs(engine: &Engine, occurrence: i64) -> (usize, String) {
    let queries = [
        format!("SELECT id, determination_id, determination_score, updated_at FROM main_occurrence WHERE id = {occurrence}"),
        format!("SELECT id, bbox IS NULL AS null_marker, \"timestamp\", frame_num, path FROM main_detection WHERE occurrence_id = {occurrence} ORDER BY id"),
        format!("SELECT c.id, c.detection_id, c.algorithm_id, c.taxon_id, c.score, c.terminal, c.created_at FROM main_classification c JOIN main_detection d ON d.id = c.detection_id WHERE d.occurrence_id = {occurrence} ORDER BY c.id"),
        format!("SELECT id, user_id, taxon_id, withdrawn, created_at FROM main_identification WHERE occurrence_id = {occurrence} ORDER BY id"),
    ];
    let (mut count, mut text) = (0, String::new());
    for sql in queries {
        let batches = engine.ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        count += batches.iter().map(|b| b.num_rows()).sum::<usize>();
        text.push_str(&pretty_format_batches(&batches).unwrap().to_string());
        text.push('\n');
    }
    (count, text)
}

/// For each failing seed (the first five), its smallest failing occurrence: the one with the
/// fewest input rows, with both answers and its inputs.
async fn report(engine: &Engine, diffs: &[Difference]) -> String {
    let mut by_seed: BTreeMap<u64, Vec<&Difference>> = BTreeMap::new();
    for d in diffs {
        by_seed
            .entry(world::seed_of(d.occurrence))
            .or_default()
            .push(d);
    }
    let mut text = format!("{} rows differ, in {} seeds\n", diffs.len(), by_seed.len());
    for (seed, ds) in by_seed.iter().take(5) {
        let mut smallest: Option<(usize, &Difference, String)> = None;
        for d in ds {
            let (size, rows) = inputs(engine, d.occurrence).await;
            if smallest.as_ref().is_none_or(|(s, _, _)| size < *s) {
                smallest = Some((size, d, rows));
            }
        }
        let (size, d, rows) = smallest.expect("a difference");
        text.push_str(&format!(
            "seed {seed}: {} and {} differ on occurrence {} ({size} input rows; replay: \
             OCCLENS_DIFFERENTIAL_FIRST_SEED={seed} OCCLENS_DIFFERENTIAL_SEEDS=1 cargo test --test differential)\n\
             fast:      {:?}\nreference: {:?}\n{rows}\n",
            d.fast_view, d.reference_view, d.occurrence, d.fast, d.reference
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_views_give_the_rows_of_their_window_references() {
    let seeds = env_u64("OCCLENS_DIFFERENTIAL_SEEDS", 200);
    let first = env_u64("OCCLENS_DIFFERENTIAL_FIRST_SEED", 0);
    let pairs = reference_pairs();
    assert!(pairs.len() >= 7, "{pairs:?}");
    let (mut failures, mut compared) = (String::new(), 0usize);
    let mut start = first;
    while start < first + seeds {
        let end = (start + SEEDS_PER_SNAPSHOT).min(first + seeds);
        let dir = snapshot(start..end);
        let engine = open(dir.path(), Semantics::Fast).await;
        for (fast_view, _) in &pairs {
            compared += rows(&engine, fast_view)
                .await
                .by_occurrence
                .values()
                .map(Vec::len)
                .sum::<usize>();
        }
        let diffs = differences(&engine).await;
        if !diffs.is_empty() {
            failures.push_str(&report(&engine, &diffs).await);
        }
        start = end;
    }
    eprintln!(
        "differential: seeds {first}..{}, {} view pairs, {compared} rows compared",
        first + seeds,
        pairs.len()
    );
    assert!(compared > seeds as usize, "too few rows: {compared}");
    assert!(failures.is_empty(), "{failures}");
}

/// Every `ASC`/`DESC` and `NULLS FIRST`/`NULLS LAST` of `select`, one at a time flipped.
fn flipped_tiebreaks(select: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (token, flip) in [
        ("ASC", "DESC"),
        ("DESC", "ASC"),
        ("NULLS FIRST", "NULLS LAST"),
        ("NULLS LAST", "NULLS FIRST"),
    ] {
        for (at, _) in select.match_indices(token) {
            let before = select[..at].chars().last();
            let after = select[at + token.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            if word(before) || word(after) || select[..at].ends_with("NULLS ") {
                continue;
            }
            let mutant = format!("{}{flip}{}", &select[..at], &select[at + token.len()..]);
            out.push((format!("{token} → {flip} at byte {at}"), mutant));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flipped_tiebreak_of_a_reference_is_caught() {
    let dir = snapshot(0..SEEDS_PER_SNAPSHOT);
    let (mut mutants, mut missed) = (0, Vec::new());
    for (view, select) in reference_views() {
        for (what, mutant) in flipped_tiebreaks(&select) {
            mutants += 1;
            let engine = open(dir.path(), Semantics::Fast).await;
            engine
                .ctx
                .sql(&format!("CREATE OR REPLACE VIEW {view} AS {mutant}"))
                .await
                .unwrap_or_else(|e| panic!("{view} ({what}): {e}"));
            if differences(&engine).await.is_empty() {
                missed.push(format!("{view}: {what}"));
            }
        }
    }
    assert!(mutants >= 15, "only {mutants} tie-breaks found");
    assert!(
        missed.is_empty(),
        "{} of {mutants} flipped tie-breaks give the fast views' rows (the generated snapshots \
         do not exercise them): {missed:#?}",
        missed.len()
    );
}

/// What an engine answers: list pages, every detail, both exports and the audit, as text.
async fn answers(engine: &Engine) -> Vec<String> {
    let who = Requester::Superuser(Some(2));
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for offset in (0..).step_by(100) {
        let url =
            format!("/api/v2/occurrences/?project_id=1&ordering=id&limit=100&offset={offset}");
        let r = get(engine, &url, &who).await.unwrap();
        out.push(format!("{url} {} {}", r.status, r.body));
        let page = common::ids(&r.body);
        if page.is_empty() {
            break;
        }
        ids.extend(page);
    }
    assert!(ids.len() > 30, "{} valid occurrences", ids.len());
    for id in ids {
        let url = format!("/api/v2/occurrences/{id}/?project_id=1");
        let r = get(engine, &url, &who).await.unwrap();
        out.push(format!("{url} {} {}", r.status, r.body));
    }
    let mut csv = Vec::new();
    let stream = engine
        .export_stream("export_simple_csv", 1, None)
        .await
        .unwrap();
    csv_export::write(
        stream,
        &mut csv,
        engine.config.time_zone,
        "/media/",
        &|_| {},
    )
    .await
    .unwrap();
    out.push(String::from_utf8(csv).unwrap());
    let (_, json) = json_export::write(engine, 1, None, Vec::new(), &Framing::Antenna, &|_| {})
        .await
        .unwrap();
    out.push(String::from_utf8(json).unwrap());
    let audit = engine.audit(None).await.unwrap();
    out.push(format!(
        "{} {:?} {:?}",
        audit.valid, audit.differences, audit.invalid
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_semantics_answer_requests_exports_and_the_audit_alike() {
    let dir = snapshot(1000..1030);
    let fast = open(dir.path(), Semantics::Fast).await;
    let window = open(dir.path(), Semantics::Window).await;
    // The window formulation really answers: its best_prediction is the reference's plan.
    let plan = window
        .ctx
        .sql("EXPLAIN SELECT * FROM best_prediction")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let plan = pretty_format_batches(&plan).unwrap().to_string();
    assert!(plan.contains("row_number"), "{plan}");
    let (a, b) = (answers(&fast).await, answers(&window).await);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        if x != y {
            let at = x.bytes().zip(y.bytes()).take_while(|(p, q)| p == q).count();
            let around = |s: &str| s[at.saturating_sub(300)..(at + 200).min(s.len())].to_string();
            panic!(
                "{}: the answers differ at byte {at}\nfast:   …{}\nwindow: …{}",
                x.split(' ').next().unwrap_or_default(),
                around(x),
                around(y)
            );
        }
    }
}

/// `occlens verify --semantics window` answers through the references (and leaves no cache).
#[test]
fn verify_with_window_semantics_matches_recorded_responses() {
    use std::io::BufRead;
    let work = tempfile::tempdir().unwrap();
    let recorded = common::oracle().join("api/occurrences_list.jsonl.gz");
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(recorded).unwrap());
    let lines: Vec<String> = std::io::BufReader::new(gz)
        .lines()
        .take(8)
        .map(Result::unwrap)
        .collect();
    let responses = work.path().join("list.jsonl");
    std::fs::write(&responses, lines.join("\n")).unwrap();
    let snapshot = common::oracle().join("snapshot");
    let cache = work.path().join("cache");
    let (code, out, err) = common::occlens_with(
        &[
            "verify",
            "--snapshot",
            snapshot.to_str().unwrap(),
            "--semantics",
            "window",
            "--responses",
            responses.to_str().unwrap(),
            "--superuser",
            "admin@oracle.test",
            "--api-base",
            "http://testserver",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("8 responses checked: 8 match, 0 differ"),
        "{out}"
    );
    assert!(
        !cache.exists(),
        "the window semantics never write the cache"
    );
}

/// DuckDB's formulations of benches/duckdb/ (window and arg_max), where DuckDB is available
/// (`python3 -m pip install duckdb`; optional, skipped otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_formulations_give_the_same_winners() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb/differential.py");
    let probe = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: DuckDB is not available (python3 -m pip install duckdb)");
        return;
    }
    let dir = snapshot(0..SEEDS_PER_SNAPSHOT);
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duck: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let engine = open(dir.path(), Semantics::Fast).await;
    for (view, columns) in [
        ("best_prediction", "occurrence_id, classification_id"),
        ("cover_image", "occurrence_id, path"),
        ("best_identification", "occurrence_id, identification_id"),
    ] {
        let sql = format!("SELECT {columns} FROM {view} ORDER BY 1");
        let batches = engine.ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let ours: Vec<serde_json::Value> = occlens::engine::rows::to_rows(&batches)
            .unwrap()
            .into_iter()
            .map(|r| serde_json::Value::Array(r.into_iter().map(|(_, v)| v).collect()))
            .collect();
        assert!(ours.len() > 100, "{view}: {} rows", ours.len());
        for variant in ["window", "argmax"] {
            let theirs = duck[format!("{view} {variant}")].as_array().unwrap();
            assert_eq!(
                &ours, theirs,
                "{view}: DuckDB's {variant} formulation differs"
            );
        }
    }
}
