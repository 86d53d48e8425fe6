//! The cache of derived tables: answers from it equal answers computed from the snapshot,
//! a changed snapshot is a new key (never a stale answer), `--cache off` writes nothing, and
//! the `cache` command reports, builds and clears it. (Every shared Antenna response is also
//! replayed through the cache in tests/parity.rs.)

#[path = "cache/cache_command.rs"]
mod cache_command;
mod common;
#[path = "cache/detail_visibility.rs"]
mod detail_visibility;
#[path = "cache/project_entries.rs"]
mod project_entries;

use common::{cache_entries as entries, cached_engine, call, occlens_with, Tiny};
use occlens::engine::cache::Mode;
use occlens::Engine;
use serde_json::Value;
use std::path::Path;

fn tiny() -> Tiny {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    let d = t.simple(2, 4, 0.6);
    t.cls(d, Some(3), Some(4), Some(0.7), true);
    t.occ(3, None, None); // not valid: no determination
    t.det(3, Some(common::T0), None, false);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_answers_equal_computed_ones() {
    let t = tiny();
    let (dir, computed) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let cached = cached_engine(dir.path(), root.path(), Mode::Auto, None).await;
    assert!(cached.cache.len() == 4 && computed.cache.is_empty());
    // One entry per part: taxa, lists, details, facts.
    assert_eq!(entries(root.path()).len(), 4);
    // With the list part only, a detail reads its related rows from the snapshot's tables.
    let lists_root = tempfile::tempdir().unwrap();
    let settings = occlens::engine::cache::Settings {
        dir: Some(lists_root.path().to_path_buf()),
        ..Default::default()
    };
    let config = occlens::Config {
        api_base: "http://testserver".into(),
        ..occlens::Config::default()
    };
    let snapshot = dir.path().to_str().unwrap();
    let lists = [occlens::engine::cache::Part::Lists];
    let lists_only = Engine::open_cached(Some(snapshot), config, &settings, &lists, &|_| {})
        .await
        .unwrap();
    assert_eq!(entries(lists_root.path()).len(), 1);
    assert_eq!(
        lists_only.cache.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        lists
    );
    // Built in ranges of one occurrence (a row: fewer than an occurrence brings): the same table.
    let ranged_root = tempfile::tempdir().unwrap();
    let ranged = cached_engine(dir.path(), ranged_root.path(), Mode::Auto, Some(1)).await;
    for url in [
        "/api/v2/occurrences/?project_id=1",
        "/api/v2/occurrences/?project_id=1&ordering=-determination_score",
        "/api/v2/occurrences/?project_id=1&ordering=-detections_count&limit=1&offset=1",
        "/api/v2/occurrences/?project_id=1&taxon=2",
        "/api/v2/occurrences/1/?project_id=1",
        "/api/v2/occurrences/2/",
        "/api/v2/occurrences/3/",
    ] {
        let (a, b) = (call(&computed, url).await, call(&cached, url).await);
        assert_eq!(a.status, b.status, "{url}");
        assert_eq!(a.body, b.body, "{url}");
        assert_eq!(call(&ranged, url).await.body, a.body, "{url} (ranges)");
        assert_eq!(
            call(&lists_only, url).await.body,
            a.body,
            "{url} (lists only)"
        );
    }
    let list = call(&cached, "/api/v2/occurrences/?project_id=1")
        .await
        .body;
    assert_eq!(list["count"], 2);
    // The cached views are tables now, and hold what the views compute.
    for view in ["occurrence_list", "taxon_ancestry", "default_filter_taxa"] {
        let sql = format!("SELECT count(*) AS n FROM {view}");
        let n = |e: &Engine| {
            let sql = sql.clone();
            let ctx = e.ctx.clone();
            async move {
                let b = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                occlens::engine::rows::to_rows(&b).unwrap()[0]["n"].clone()
            }
        };
        assert_eq!(n(&computed).await, n(&cached).await, "{view}");
    }
}

#[test]
fn a_changed_snapshot_is_a_new_key_never_a_stale_answer() {
    let snap = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (s, c) = (snap.path().to_str().unwrap(), root.path().to_str().unwrap());
    tiny().b.write(snap.path()).unwrap();
    let url = "/api/v2/occurrences/?project_id=1";
    let count = || {
        let (code, out, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "api", url], &[]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["count"].clone()
    };
    assert_eq!(count(), 2);
    // A list request builds the taxa and lists parts only (no detail rows, no facts).
    let first = entries(root.path());
    assert_eq!(first.len(), 2);
    let mut files: Vec<String> = first
        .iter()
        .flat_map(|e| entries(&root.path().join(e)))
        .filter(|f| f.ends_with(".parquet"))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "default_filter_taxa.parquet",
            "occurrence_identifications.parquet",
            "occurrence_list.parquet",
            "taxon_ancestry.parquet",
            "taxon_parent.parquet"
        ]
    );
    // Rewrite the snapshot with one more valid occurrence (sleep: a new modification time
    // even on coarse clocks; the size changes too).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut t = tiny();
    t.simple(4, 4, 0.5);
    t.b.write(snap.path()).unwrap();
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 4);
    // Same snapshot again: the entries are reused.
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 4);
    // A file rewritten in place, its size, inode and modification time kept (`touch -r`): a
    // new key all the same (its change time), never the old entries.
    let file = snap.path().join("main_occurrence.parquet");
    let (bytes, modified) = (
        std::fs::read(&file).unwrap(),
        std::fs::metadata(&file).unwrap().modified().unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&file, &bytes).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_modified(modified).unwrap();
    drop(f);
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 6);
    // A deleted entry is rebuilt.
    for e in entries(root.path()) {
        std::fs::remove_dir_all(root.path().join(e)).unwrap();
    }
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 2);
}

/// A cached file written by one statement is declared sorted in its view's order (a project's
/// export then streams at SF1: no sort of all its rows before the first is written); one
/// written in ranges (each range sorted on its own) is not. Both give the snapshot's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_file_is_declared_sorted_only_when_it_is() {
    use datafusion::physical_plan::displayable;
    let dir = tempfile::tempdir().unwrap();
    occlens::generate::realistic(dir.path(), 600, 7, &|_| {}).unwrap();
    let snapshot = dir.path().to_str().unwrap();
    let config = || occlens::Config {
        api_base: "http://testserver".into(),
        ..occlens::Config::default()
    };
    let plain = Engine::open(Some(snapshot), config()).await.unwrap();
    let sql = "SELECT * FROM occurrence_nested o WHERE o.project_id = 1 ORDER BY o.id";
    let rows = |e: &Engine| {
        let ctx = e.ctx.clone();
        async move {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .unwrap()
                .to_string()
        }
    };
    let expected = rows(&plain).await;
    assert!(expected.lines().count() > 50, "{expected}");
    for (range_rows, sorted) in [(None, true), (Some(1_000), false)] {
        let root = tempfile::tempdir().unwrap();
        let settings = occlens::engine::cache::Settings {
            dir: Some(root.path().to_path_buf()),
            range_rows,
            ..Default::default()
        };
        let lists = [occlens::engine::cache::Part::Lists];
        let cached = Engine::open_cached(Some(snapshot), config(), &settings, &lists, &|_| {})
            .await
            .unwrap();
        let plan = cached
            .ctx
            .sql(sql)
            .await
            .unwrap()
            .create_physical_plan()
            .await
            .unwrap();
        let text = displayable(plan.as_ref()).indent(true).to_string();
        let scan = text
            .lines()
            .find(|l| l.contains("occurrence_list.parquet"))
            .unwrap_or_else(|| panic!("{text}"));
        assert_eq!(
            scan.contains("output_ordering=[project_id@1 ASC NULLS LAST, id@0 ASC NULLS LAST]"),
            sorted,
            "{range_rows:?}: {scan}"
        );
        assert_eq!(rows(&cached).await, expected, "{range_rows:?}");
    }
}

/// A request builds the parts of the cache its endpoint reads, no more: a deployment none (it
/// reads the snapshot's tables), an events list the taxa part (its counts apply the default
/// filters), a species list or a status summary the taxa and facts parts, an occurrence list
/// the taxa part and its project's lists (a first species request built the lists part too,
/// read by none of them: 5.2 s instead of 2.6 s on SF1), and a request refused by its URL alone
/// none (a list without `project_id` built the whole lists part for its 400). Every answer
/// equals the one computed with `--cache off`.
#[test]
fn a_request_builds_the_parts_its_endpoint_reads() {
    let snap = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (s, c) = (snap.path().to_str().unwrap(), root.path().to_str().unwrap());
    tiny().b.write(snap.path()).unwrap();
    // Exit code, body and messages (a 404's line, no warning).
    let run = |cache: &str, url: &str| {
        let args = [
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "--cache",
            cache,
            "api",
            url,
        ];
        occlens_with(&args, &[])
    };
    // The parts of each entry under the cache directory, sorted.
    let parts = || {
        let mut found: Vec<String> = entries(root.path())
            .iter()
            .map(|e| {
                let m = std::fs::read(root.path().join(e).join("_occlens_cache.json")).unwrap();
                let m: Value = serde_json::from_slice(&m).unwrap();
                format!("{} {}", m["part"].as_str().unwrap(), m["project"])
            })
            .collect();
        found.sort();
        found
    };
    // Requests refused by their URL alone (a 400 or 404 whatever the data) build nothing.
    let refused = [
        "/api/v2/occurrences/",
        "/api/v2/occurrences/?project_id=x",
        "/api/v2/occurrences/?project_id=0",
        "/api/v2/occurrences/abc/",
        "/api/v2/status/summary/",
        "/api/v2/taxa/?project_id=x",
        "/api/v2/occurrences/stats/top-identifiers/?project_id=-2",
    ];
    for (url, built) in refused.iter().map(|&url| (url, &[][..])).chain([
        ("/api/v2/deployments/1/", &[][..]),
        ("/api/v2/nothing/", &[]),
        ("/api/v2/events/?project_id=1", &["taxa null"]),
        ("/api/v2/taxa/?project_id=1", &["facts null", "taxa null"]),
        (
            "/api/v2/status/summary/?project_id=1",
            &["facts null", "taxa null"],
        ),
        (
            "/api/v2/occurrences/?project_id=1",
            &["facts null", "lists 1", "taxa null"],
        ),
        (
            "/api/v2/taxa/?project_id=1",
            &["facts null", "lists 1", "taxa null"],
        ),
    ]) {
        let answer = run("auto", url);
        assert_eq!(
            answer.0,
            if url.contains("nothing") || refused.contains(&url) {
                4
            } else {
                0
            },
            "{url}"
        );
        assert_eq!(answer, run("off", url), "{url}");
        assert_eq!(parts(), built, "{url}");
    }
}
