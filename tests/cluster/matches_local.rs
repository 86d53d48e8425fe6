//! A cluster's output byte for byte as a local run's: the fixture's list view, exports and
//! audit, empty join sides, a cache build, a generated snapshot on S3.

use super::*;

const FULL_LIST: &str = "SELECT * FROM occurrence_list ORDER BY id";

/// Totals of the full list view (run range by range on a cluster, `range_jobs`): integers,
/// whose sums do not depend on the order they are added in.
const LIST_TOTALS: &str = "SELECT count(*) AS n, sum(id) AS ids, \
    sum(best_prediction_id) AS best_predictions, min(determination_name) AS first_name, \
    max(detections_count) AS most_detections, sum(length(cover_image_path)) AS cover_chars \
    FROM occurrence_list WHERE project_id <> 2";

/// The commands a cluster runs: the full list view (Parquet and CSV, its totals, in
/// descending order: range jobs), a project's exports (taxa_list_csv too), the audit.
fn commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["sql", FULL_LIST, "--out", "OUT.parquet"],
        vec!["sql", FULL_LIST, "--format", "csv"],
        vec!["sql", LIST_TOTALS, "--format", "csv"],
        vec![
            "sql",
            "SELECT id, determination_name FROM occurrence_list ORDER BY id DESC",
            "--format",
            "csv",
        ],
        export("occurrences_simple_csv", "OUT.csv"),
        export("parquet", "OUT.parquet"),
        export("taxa_list_csv", "OUT.csv"),
        vec!["audit", "--format", "csv"],
    ]
}

/// `export --format FORMAT --project 1 --out OUT`.
fn export<'a>(format: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["export", "--format", format, "--project", "1", "--out", out]
}

#[test]
fn fixture_snapshot_on_two_executors_matches_local() {
    let mut cluster = Cluster::start(2, &[]);
    let dir = tempfile::tempdir().unwrap();
    let snapshot = common::oracle().join("snapshot");
    // And the JSON exports (their relations' row_number() windows failed on a cluster until
    // export.related gave the project as a range; not at 200k occurrences: minutes in debug).
    let json = |format: &'static str, shape: &'static str| {
        let mut args = export(format, "OUT.json");
        if !shape.is_empty() {
            args.extend(["--shape", shape]);
        }
        args
    };
    let exports = [
        json("occurrences_api_json", ""),
        json("ndjson", "detail"),
        json("ndjson", "list"),
    ];
    // taxa_list_csv reads the project default filters' views, whose joins have an empty side
    // for project 2 (no exclude taxa), project 3 (neither) and project 1 (no include taxa;
    // commands()): planned as one stage.
    let taxa = ["2", "3"].map(|project| {
        let mut args = export("taxa_list_csv", "OUT.csv");
        args[4] = project;
        args
    });
    // The archive of each project: its statements read those views too (one stage each).
    let archives = ["1", "2", "3"].map(|project| {
        let mut args = export("dwca", "OUT.zip");
        args[4] = project;
        args.extend(["--packaged-at", "2026-11-21T00:00:00"]);
        args
    });
    for args in commands().into_iter().chain(exports).chain(taxa) {
        let (local, remote) = both(&cluster, &[], snapshot.to_str().unwrap(), dir.path(), &args);
        let least = if args.contains(&LIST_TOTALS) { 60 } else { 100 };
        assert!(local.len() > least, "{args:?}: {} bytes", local.len());
        assert!(local == remote, "{args:?}: the cluster's output differs");
    }
    for args in archives {
        let (local, remote) = both(&cluster, &[], snapshot.to_str().unwrap(), dir.path(), &args);
        // The zip's own times are the moment each was written: its members are compared.
        let (local, remote) = (zip_members(&local), zip_members(&remote));
        assert_eq!(local.len(), 6, "{args:?}: {local:?}");
        assert!(local.iter().all(|(_, text)| !text.is_empty()), "{args:?}");
        assert!(local == remote, "{args:?}: the cluster's archive differs");
    }
    // Each executor worked in a directory of its own under the temporary directory (and each
    // process has its spill directory there), and removes them when stopped (SIGTERM):
    // nothing of theirs is left behind.
    let all = cluster.temporaries();
    let work: Vec<&String> = all
        .iter()
        .filter(|w| w.contains(".occlens-executor-"))
        .collect();
    assert_eq!(work.len(), 2, "{all:?}");
    assert!(
        all.iter()
            .all(|w| w.contains(".occlens-executor-") || w.contains(".occlens-spill-")),
        "{all:?}"
    );
    cluster.stop();
    assert_eq!(cluster.temporaries(), Vec::<String>::new());
}

/// Statements with an empty join side or window input: Ballista 55's adaptive planner
/// re-planned their jobs forever (a new shuffle of the empty input after each stage) until
/// statements that join or window ran as one stage (`cluster::one_stage`). Each is bounded by
/// `--time-limit`, so that a return of the defect fails here instead of hanging.
#[test]
fn empty_join_sides_and_window_inputs_end_as_locally() {
    let cluster = Cluster::start(1, &[]);
    let dir = tempfile::tempdir().unwrap();
    let oracle = common::oracle().join("snapshot");
    let statements = [
        "SELECT * FROM occurrence_identifications WHERE occurrence_id = -1",
        "SELECT id, sum(id) OVER (PARTITION BY occurrence_id) AS s FROM main_identification \
         WHERE occurrence_id = -1",
        "SELECT o.id, i.comment FROM main_occurrence o LEFT JOIN \
         (SELECT * FROM main_identification WHERE id < 0) i ON i.occurrence_id = o.id ORDER BY o.id",
        "SELECT o.id, count(i.id) AS n FROM main_occurrence o LEFT JOIN main_identification i \
         ON i.occurrence_id = o.id AND i.id < 0 GROUP BY o.id ORDER BY o.id",
    ];
    for sql in statements {
        let args = ["--time-limit", "120s", "sql", sql, "--format", "csv"];
        let (local, remote) = both(&cluster, &[], oracle.to_str().unwrap(), dir.path(), &args);
        assert!(local.contains(&b'\n'), "{sql}: no header: {local:?}");
        assert!(local == remote, "{sql}: the cluster's output differs");
    }
    // A project without identifications: its JSON exports' identification rows are empty.
    let mut t = Tiny::new();
    for id in 1..=3 {
        t.simple(id, 4, 0.9);
    }
    let tiny = dir.path().join("tiny");
    t.b.write(&tiny).unwrap();
    for (format, shape) in [
        ("ndjson", "detail"),
        ("ndjson", "list"),
        ("occurrences_api_json", ""),
    ] {
        let mut args = vec!["--time-limit", "120s"];
        args.extend(export(format, "OUT.json"));
        if !shape.is_empty() {
            args.extend(["--shape", shape]);
        }
        let (local, remote) = both(&cluster, &[], tiny.to_str().unwrap(), dir.path(), &args);
        assert!(local.len() > 100, "{args:?}: {} bytes", local.len());
        assert!(local == remote, "{args:?}: the cluster's output differs");
    }
}

/// A zip archive's members, in order: name and text.
fn zip_members(bytes: &[u8]) -> Vec<(String, String)> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut member = zip.by_index(i).unwrap();
            let mut text = String::new();
            member.read_to_string(&mut text).unwrap();
            (member.name().unwrap().to_string(), text)
        })
        .collect()
}

#[test]
fn cache_build_on_two_executors_matches_local() {
    let cluster = Cluster::start(2, &[]);
    let dir = tempfile::tempdir().unwrap();
    // The fixture, and the fixture without include taxa: then no project has any, and the
    // join of default_filter_taxa with them has an empty side (a job Ballista 55 never
    // finished when split into stages).
    let fixture = common::oracle().join("snapshot");
    let no_includes = dir.path().join("no-includes");
    std::fs::create_dir(&no_includes).unwrap();
    for f in std::fs::read_dir(&fixture).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, no_includes.join(f.file_name().unwrap())).unwrap();
    }
    let includes = no_includes.join("main_project_default_filters_include_taxa.parquet");
    let empty: Vec<_> = common::read_batches(&includes)
        .iter()
        .map(|b| b.slice(0, 0))
        .collect();
    occlens::generate::builder::write_parquet(&includes, &empty).unwrap();
    for (name, snapshot) in [("fixture", &fixture), ("no-includes", &no_includes)] {
        let snap = snapshot.to_str().unwrap();
        let mut built = Vec::new();
        for mode in ["local", cluster.url.as_str()] {
            let cache = dir.path().join(format!("cache-{name}-{}", built.len()));
            let mut args = vec!["--snapshot", snap, "--cache-dir", cache.to_str().unwrap()];
            if mode != "local" {
                args.extend(["--cluster", mode, "--time-limit", "120s"]);
            }
            args.extend(["cache", "build"]);
            let (code, _, err) = common::occlens_with(&args, &[]);
            assert_eq!(code, 0, "{name} {mode}: {err}");
            built.push(files(&cache));
        }
        assert!(built[0].len() >= 15, "{name}: {:?}", built[0].len());
        assert!(built[0] == built[1], "{name}: the cluster's cache differs");
    }
    for project in ["1", "2", "3"] {
        let mut args = export("taxa_list_csv", "OUT.csv");
        args[4] = project;
        let (local, remote) = both(
            &cluster,
            &[],
            no_includes.to_str().unwrap(),
            dir.path(),
            &args,
        );
        assert!(
            local.len() > 100,
            "project {project}: {} bytes",
            local.len()
        );
        assert!(
            local == remote,
            "project {project}: the cluster's output differs"
        );
    }
}

#[test]
fn generated_snapshot_on_s3_matches_local() {
    let Some(s3) = common::services::S3::start() else {
        return;
    };
    // s3s-fs serves `root/<bucket>/<key>` files: a snapshot generated there is on S3.
    generate(&s3.root.path().join("bucket/g200"), "200000");
    let env = s3.env();
    let cluster = Cluster::start(2, &env);
    let dir = tempfile::tempdir().unwrap();
    for args in commands() {
        let (local, remote) = both(&cluster, &env, "s3://bucket/g200", dir.path(), &args);
        let least = if args.contains(&LIST_TOTALS) {
            60
        } else {
            10_000
        };
        assert!(local.len() > least, "{args:?}: {} bytes", local.len());
        assert!(local == remote, "{args:?}: the cluster's output differs");
    }
}
