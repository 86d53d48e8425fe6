//! Parity: every recorded Antenna response of tests/fixtures/antenna-oracle/api/ must be
//! reproduced from tests/fixtures/antenna-oracle/snapshot.

mod common;

use common::{cached_engine_with, oracle};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use occlens::engine::cache::Mode;
use occlens::engine::catalog::Semantics;
use occlens::verify::input::read;
use occlens::verify::{Verifier, VerifyOptions};

/// Every response of `file`, checked as `occlens verify` checks it (admin is the superuser;
/// pages without an ordering are compared as sets).
/// `cached`: through the cache of derived tables (built in a temporary directory).
/// `semantics`: the formulation of the top-1 rules (the window one never reads the cache).
async fn replay(file: &str, cached: bool, semantics: Semantics) -> (usize, Vec<String>) {
    replay_on(&oracle().join("snapshot"), file, cached, semantics).await
}

/// `replay` over the snapshot `dir`.
async fn replay_on(
    dir: &std::path::Path,
    file: &str,
    cached: bool,
    semantics: Semantics,
) -> (usize, Vec<String>) {
    let root = tempfile::tempdir().unwrap();
    let mode = if cached { Mode::Auto } else { Mode::Off };
    // Small ranges: the build's ranged path (about 470 occurrences of the fixture a range;
    // ~22M rows at scale).
    let engine = cached_engine_with(dir, root.path(), mode, Some(3_000), semantics).await;
    assert_eq!(!engine.cache.is_empty(), cached);
    let inputs = read(oracle().join("api").join(file).to_str().unwrap()).expect("fixture");
    assert!(inputs.skipped.is_empty());
    let verifier = verifier(&engine).await;
    let mut failures = Vec::new();
    for recorded in &inputs.responses {
        failures.extend(difference(&verifier, recorded).await);
    }
    (inputs.responses.len(), failures)
}

/// A verifier as `occlens verify` checks (admin is the superuser).
async fn verifier(engine: &occlens::Engine) -> Verifier<'_> {
    let options = VerifyOptions {
        superusers: vec!["admin@oracle.test".into()],
        ..VerifyOptions::default()
    };
    Verifier::new(engine, options).await.unwrap()
}

/// `recorded` checked by `verifier`: its first difference, if any.
async fn difference(
    verifier: &Verifier<'_>,
    recorded: &occlens::verify::input::Recorded,
) -> Option<String> {
    let checked = verifier
        .check(recorded)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", recorded.url));
    let first = checked.mismatches.first()?;
    Some(format!(
        "{} (as {:?}): {} differences; first at {}: expected {} got {}",
        recorded.url,
        recorded.as_user,
        checked.mismatches.len(),
        first.pointer,
        first.expected,
        first.actual
    ))
}

fn report(name: &str, total: usize, failures: &[String]) {
    eprintln!(
        "{name}: {} of {total} responses match",
        total - failures.len()
    );
    for f in failures.iter().take(40) {
        eprintln!("  {f}");
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {total} responses differ",
        failures.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna() {
    let (total, failures) = replay("occurrences_list.jsonl.gz", false, Semantics::Fast).await;
    assert_eq!(total, 128);
    report("list", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna_from_the_cache() {
    let (total, failures) = replay("occurrences_list.jsonl.gz", true, Semantics::Fast).await;
    assert_eq!(total, 128);
    report("list (cached)", total, &failures);
}

/// Every recorded list of a project, through that project's entry of the lists part (the
/// cache a first list request builds when the whole part is not built: README, "The cache").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna_from_each_projects_entry() {
    let root = tempfile::tempdir().unwrap();
    let snapshot = oracle().join("snapshot");
    let inputs = read(
        oracle()
            .join("api")
            .join("occurrences_list.jsonl.gz")
            .to_str()
            .unwrap(),
    )
    .expect("fixture");
    // The recorded lists by project.
    let mut by_project = std::collections::BTreeMap::<i64, Vec<_>>::new();
    for recorded in &inputs.responses {
        if let Some(project) = occlens::api::request::list_project(&recorded.url) {
            by_project.entry(project).or_default().push(recorded);
        }
    }
    let (mut total, mut failures) = (0, Vec::new());
    for (project, responses) in by_project {
        let settings = occlens::engine::cache::Settings {
            dir: Some(root.path().to_path_buf()),
            range_rows: Some(3_000),
            project: Some(project),
            ..Default::default()
        };
        let config = occlens::Config {
            api_base: "http://testserver".into(),
            ..occlens::Config::default()
        };
        let lists = [occlens::engine::cache::Part::Lists];
        let engine =
            occlens::Engine::open_cached(snapshot.to_str(), config, &settings, &lists, &|_| {})
                .await
                .unwrap();
        // A project the snapshot does not hold (the recorded 404) gets no entry.
        let holds = project != 999_999;
        assert_eq!(engine.lists_project, holds.then_some(project));
        let verifier = verifier(&engine).await;
        for recorded in responses {
            total += 1;
            failures.extend(difference(&verifier, recorded).await);
        }
    }
    assert!(total >= 100, "{total} lists of a project");
    report("list (each project's entry)", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_responses_match_antenna() {
    let (total, failures) = replay("occurrences_detail.jsonl.gz", false, Semantics::Fast).await;
    assert_eq!(total, 1774);
    report("detail", total, &failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_responses_match_antenna_from_the_cache() {
    let (total, failures) = replay("occurrences_detail.jsonl.gz", true, Semantics::Fast).await;
    assert_eq!(total, 1774);
    report("detail (cached)", total, &failures);
}

/// `occlens --semantics window`: the window-function references of queries/reference/
/// answer Antenna's list requests alike (tests/differential.rs compares the formulations).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_responses_match_antenna_with_window_semantics() {
    let (total, failures) = replay("occurrences_list.jsonl.gz", false, Semantics::Window).await;
    assert_eq!(total, 128);
    report("list (window semantics)", total, &failures);
}

/// The fixture snapshot's tables rewritten into `dst` with `props` (another tool's layout).
fn relayout(dst: &std::path::Path, props: impl Fn() -> WriterProperties) {
    for entry in std::fs::read_dir(oracle().join("snapshot")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let schema = datafusion::arrow::record_batch::RecordBatchReader::schema(&reader);
        let out = std::fs::File::create(dst.join(name)).unwrap();
        let mut writer = ArrowWriter::try_new(out, schema, Some(props())).unwrap();
        for batch in reader {
            writer.write(&batch.unwrap()).unwrap();
        }
        writer.close().unwrap();
    }
}

/// The same answers whatever the Parquet layout: every page one row (page indexes on every
/// row), and every table one row group without statistics or page index (the lookups of
/// rows by key then fall back to their statements for the snapshot's tables).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_answers_on_one_row_pages_and_on_one_row_group() {
    type Layout = (&'static str, fn() -> WriterProperties);
    let layouts: [Layout; 2] = [
        ("one-row pages", || {
            WriterProperties::builder()
                .set_data_page_row_count_limit(1)
                .set_write_batch_size(1)
                .set_statistics_enabled(EnabledStatistics::Page)
                .build()
        }),
        ("one row group", || {
            WriterProperties::builder()
                .set_max_row_group_row_count(None)
                .set_statistics_enabled(EnabledStatistics::None)
                .build()
        }),
    ];
    for (name, props) in layouts {
        let dir = tempfile::tempdir().unwrap();
        relayout(dir.path(), props);
        for (file, n) in [
            ("occurrences_list.jsonl.gz", 128),
            ("occurrences_detail.jsonl.gz", 1774),
        ] {
            let (total, failures) = replay_on(dir.path(), file, true, Semantics::Fast).await;
            assert_eq!(total, n);
            report(&format!("{file} ({name}, cached)"), total, &failures);
        }
    }
}

/// The same answers when the snapshot holds the same values in other tools' types (jsonb
/// decoded into nested types, New York wall-clock timestamps without a zone, other integer
/// widths, dictionary strings: tests/common/retype.rs), from the cache and without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_answers_on_other_tools_types() {
    let dir = tempfile::tempdir().unwrap();
    common::retype::retyped_oracle(dir.path());
    // The details without the cache: each reads the snapshot's tables through the reader.
    for (file, n, cached) in [
        ("occurrences_list.jsonl.gz", 128, false),
        ("occurrences_list.jsonl.gz", 128, true),
        ("occurrences_detail.jsonl.gz", 1774, false),
    ] {
        {
            let (total, failures) = replay_on(dir.path(), file, cached, Semantics::Fast).await;
            assert_eq!(total, n);
            report(
                &format!("{file} (other types, cached {cached})"),
                total,
                &failures,
            );
        }
    }
}
