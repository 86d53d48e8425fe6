//! The cache of derived tables: answers from it equal answers computed from the snapshot,
//! a changed snapshot is a new key (never a stale answer), `--cache off` writes nothing, and
//! the `cache` command reports, builds and clears it. (Every shared Antenna response is also
//! replayed through the cache in tests/parity.rs.)

mod common;

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
    assert!(cached.cache.len() == 3 && computed.cache.is_empty());
    // One entry per part: lists, details, facts.
    assert_eq!(entries(root.path()).len(), 3);
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
    // A list request builds the list part only (no detail rows, no facts).
    let first = entries(root.path());
    assert_eq!(first.len(), 1);
    let files = entries(&root.path().join(&first[0]));
    assert!(
        files.contains(&"occurrence_list.parquet".to_string()),
        "{files:?}"
    );
    assert!(!files.iter().any(|f| f.starts_with("detail_")), "{files:?}");
    // Rewrite the snapshot with one more valid occurrence (sleep: a new modification time
    // even on coarse clocks; the size changes too).
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut t = tiny();
    t.simple(4, 4, 0.5);
    t.b.write(snap.path()).unwrap();
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 2);
    // Same snapshot again: the entry is reused.
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 2);
    // A deleted entry is rebuilt.
    for e in entries(root.path()) {
        std::fs::remove_dir_all(root.path().join(e)).unwrap();
    }
    assert_eq!(count(), 3);
    assert_eq!(entries(root.path()).len(), 1);
}

#[test]
fn cache_off_reads_and_writes_nothing_and_the_command_reports_builds_and_clears() {
    let snap = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let cache_root = root.path().join("c");
    let (s, c) = (snap.path().to_str().unwrap(), cache_root.to_str().unwrap());
    tiny().b.write(snap.path()).unwrap();
    let (code, out, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "--cache",
            "off",
            "api",
            "/api/v2/occurrences/1/",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], 1);
    assert!(!cache_root.exists());
    // sql reads the cache when present but does not build it.
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "sql", "SELECT 1"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!cache_root.exists());

    let (code, out, _) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("not built:"), "{out}");
    let (code, out, _) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("built: "), "{out}");
    // One entry per part (lists, details, facts), each with its marker.
    let keys = entries(&cache_root);
    assert_eq!(keys.len(), 3);
    let mut files: Vec<String> = keys
        .iter()
        .flat_map(|k| entries(&cache_root.join(k)))
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "_occlens_cache.json",
            "_occlens_cache.json",
            "_occlens_cache.json",
            "capture_hours.parquet",
            "default_filter_taxa.parquet",
            "detail_detections.parquet",
            "detail_images.parquet",
            "detection_classifications.parquet",
            "detection_hours.parquet",
            "occurrence_facts.parquet",
            "occurrence_identifications.parquet",
            "occurrence_list.parquet",
            "prediction_candidates.parquet",
            "taxon_ancestry.parquet",
            "taxon_parent.parquet"
        ]
    );
    // The environment variable names the directory too.
    let (code, out, _) = occlens_with(&["--snapshot", s, "cache"], &[("OCCLENS_CACHE_DIR", c)]);
    assert_eq!(code, 0);
    assert!(out.contains("built: "), "{out}");
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.starts_with("removed "), "{out}");
    assert!(out.contains("3 cache entries removed"), "{out}");
    assert!(entries(&cache_root).is_empty());
    // The demo snapshot is never cached.
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("never cached"), "{out}");
    assert!(entries(&cache_root).is_empty());
}

#[test]
fn clear_removes_only_occlens_entries_and_a_damaged_entry_is_rebuilt() {
    let snap = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let (s, c) = (snap.path().to_str().unwrap(), root.path().to_str().unwrap());
    tiny().b.write(snap.path()).unwrap();
    // A cache directory that also holds the user's own things (--cache-dir ~/.cache).
    std::fs::write(root.path().join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(root.path().join("0123456789abcdef01234567")).unwrap();
    std::fs::write(
        root.path().join("0123456789abcdef01234567/keep.txt"),
        "mine",
    )
    .unwrap();
    std::fs::create_dir(root.path().join("other-tool")).unwrap();
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 0, "{err}");
    let entry = entries(root.path())
        .into_iter()
        .find(|e| root.path().join(e).join("occurrence_list.parquet").exists())
        .expect("the entry");
    let list = root.path().join(&entry).join("occurrence_list.parquet");

    // Verified against its checksums; a flipped byte (same size) is found by --verify.
    let (code, out, _) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "cache",
            "status",
            "--verify",
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified"), "{out}");
    let mut bytes = std::fs::read(&list).unwrap();
    // A byte of the first column's values (after the magic and the page header), not of the
    // footer, which every open reads.
    bytes[40] ^= 0xff;
    std::fs::write(&list, &bytes).unwrap();
    let (code, out, _) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "cache",
            "status",
            "--verify",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("lists: damaged: occurrence_list.parquet: checksum"),
        "{out}"
    );

    // A truncated file (size differs from the marker): a one-line warning, then the answer
    // from a rebuilt entry.
    std::fs::write(&list, &bytes[..100]).unwrap();
    let (code, out, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "api",
            "/api/v2/occurrences/1/",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("damaged") && err.contains("rebuilding"),
        "{err}"
    );
    assert!(std::fs::metadata(&list).unwrap().len() > 100);

    // A file of the user's in an entry: `--cache refresh cache build` keeps the entry (never
    // removed with the user's file) and fails naming it; it reported "built" with exit 0.
    let stray = root.path().join(&entry).join("userfile");
    std::fs::write(&stray, "mine").unwrap();
    let (code, out, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "--cache",
            "refresh",
            "cache",
            "build",
        ],
        &[],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("occlens: warning: the lists part of the cache (")
            && err.contains(&entry)
            && err.contains("was kept, not rebuilt: it holds what occlens did not write"),
        "{err}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("lists: kept, not rebuilt: ") && l.contains(&entry)),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&stray).unwrap(), "mine");
    std::fs::remove_file(&stray).unwrap();

    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("3 cache entries removed"), "{out}");
    assert!(out.contains("3 other entries"), "{out}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(root
        .path()
        .join("0123456789abcdef01234567/keep.txt")
        .exists());
    assert!(root.path().join("other-tool").is_dir());
    assert!(!root.path().join(&entry).exists());
}

#[test]
fn an_unwritable_cache_directory_is_a_warning_then_the_answer() {
    let snap = tempfile::tempdir().unwrap();
    tiny().b.write(snap.path()).unwrap();
    let file = snap.path().join("not-a-directory");
    std::fs::write(&file, "x").unwrap();
    let (s, c) = (snap.path().to_str().unwrap(), file.to_str().unwrap());
    // --cache auto: the cache is an optimisation; answer, and say why it is not used.
    let (code, out, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "api",
            "/api/v2/occurrences/1/",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["id"], 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("warning") && err.contains("not-a-directory"),
        "{err}"
    );
    // Asked for explicitly, the failure is the command's: one line, exit 1.
    let (code, out, err) =
        occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not-a-directory"), "{err}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    // `occlens … | head -c 10`: the reader goes away; occlens must not panic.
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_occlens"))
        .args([
            "sql",
            "--format",
            "csv",
            "SELECT a.id, b.id FROM main_detection a, main_detection b",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.code(), Some(0), "{err}");
}

/// An entry some process reads is never removed under it: `cache clear` (and a refresh)
/// leave it while an engine holds it, and its answers stay whole; once the engine is gone,
/// the clear removes it. (Session 59: a clear beside readers gave them "Not found" and empty
/// lists with exit 0.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_in_use_is_not_removed_under_its_reader() {
    let t = tiny();
    let (dir, computed) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let c = root.path().to_str().unwrap().to_string();
    let s = dir.path().to_str().unwrap().to_string();
    let reader = cached_engine(dir.path(), root.path(), Mode::Auto, None).await;
    assert_eq!(entries(root.path()).len(), 3);
    let run = |args: Vec<String>| async move {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            occlens_with(&args, &[])
        })
        .await
        .unwrap()
    };
    let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let clear = owned(&["--cache-dir", &c, "cache", "clear"]);
    let (code, out, err) = run(clear.clone()).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("0 cache entries removed") && out.contains("3 in use by another process"),
        "{out}"
    );
    assert_eq!(entries(root.path()).len(), 3);
    // A refresh in another process leaves it too.
    let refresh = owned(&[
        "--snapshot",
        &s,
        "--cache-dir",
        &c,
        "--cache",
        "refresh",
        "cache",
        "build",
    ]);
    // (`cache build` then fails: it was asked to rebuild.)
    let (code, out, err) = run(refresh).await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(
        err.matches("was kept, not rebuilt: another occlens process reads it")
            .count(),
        3,
        "{err}"
    );
    assert_eq!(out.matches(": kept, not rebuilt: ").count(), 3, "{out}");
    for url in [
        "/api/v2/occurrences/?project_id=1",
        "/api/v2/occurrences/1/?project_id=1",
    ] {
        let (a, b) = (call(&computed, url).await, call(&reader, url).await);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{url}");
    }
    drop(reader);
    let (code, out, err) = run(clear).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 cache entries removed"), "{out}");
    assert!(entries(root.path()).is_empty());
}

/// Two projects: project 1 as `tiny()`, project 2 with two valid occurrences (one with an
/// identification) on its own deployment and event.
fn two_projects() -> Tiny {
    let mut t = tiny();
    t.b.add(
        "main_project",
        serde_json::json!({"id": 2, "name": "P2", "default_filters_score_threshold": 0.0, "owner_id": 3}),
    );
    t.b.add(
        "main_deployment",
        serde_json::json!({"id": 2, "name": "D2", "project_id": 2}),
    );
    t.b.add("main_event", serde_json::json!({"id": 2, "start": common::T0, "end": "2023-06-11T08:50:00Z", "project_id": 2, "deployment_id": 2}));
    for (id, score) in [(21, 0.8), (22, 0.5)] {
        t.b.add("main_occurrence", serde_json::json!({"id": id, "project_id": 2, "deployment_id": 2, "event_id": 2,
            "determination_id": 6, "determination_score": score, "created_at": common::T0, "updated_at": common::T0}));
        let d = t.det(
            id,
            Some(common::T0),
            Some(&format!("crops/{id}.jpg")),
            false,
        );
        t.cls(d, Some(3), Some(6), Some(score), true);
    }
    t.ident(21, Some(3), Some(6), false, "2023-06-12T00:00:00Z");
    t.ident(1, Some(2), Some(4), false, "2023-06-12T00:00:00Z");
    t
}

/// The marker's `project` of each entry under `root`.
fn entry_projects(root: &Path) -> Vec<Value> {
    entries(root)
        .iter()
        .map(|e| {
            let m = std::fs::read(root.join(e).join("_occlens_cache.json")).unwrap();
            serde_json::from_slice::<Value>(&m).unwrap()["project"].clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projects_list_reads_its_own_entry_until_the_whole_part_is_built() {
    let t = two_projects();
    let (dir, computed) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let snapshot = dir.path().to_str().unwrap();
    let lists = [occlens::engine::cache::Part::Lists];
    let open = |project: Option<i64>| {
        let settings = occlens::engine::cache::Settings {
            dir: Some(root.path().to_path_buf()),
            project,
            ..Default::default()
        };
        async move {
            let config = occlens::Config {
                api_base: "http://testserver".into(),
                ..occlens::Config::default()
            };
            Engine::open_cached(Some(snapshot), config, &settings, &lists, &|_| {})
                .await
                .unwrap()
        }
    };
    let urls = |p: i64| {
        [
            format!("/api/v2/occurrences/?project_id={p}"),
            format!("/api/v2/occurrences/?project_id={p}&ordering=-determination_score"),
            format!("/api/v2/occurrences/?project_id={p}&verified=true"),
            format!(
                "/api/v2/occurrences/?project_id={p}&limit=1&offset=1&ordering=-detections_count"
            ),
        ]
    };
    // The requests such an entry answers: an occurrence list filtered by one project.
    use occlens::api::request::list_project;
    for (url, project) in [
        ("/api/v2/occurrences/?project_id=1", Some(1)),
        (
            "/api/v2/occurrences/?project_id=2&project_id=1&limit=5",
            Some(1),
        ),
        ("/api/v2/occurrences/?project_id=1.0", Some(1)),
        // 0 filters by no project in Antenna: every project's occurrences.
        ("/api/v2/occurrences/?project_id=0", None),
        ("/api/v2/occurrences/?project_id=-1", None),
        ("/api/v2/occurrences/", None),
        ("/api/v2/occurrences/1/?project_id=1", None),
        ("/api/v2/occurrences/algorithms/?project_id=1", None),
        ("/api/v2/taxa/?project_id=1", None),
    ] {
        assert_eq!(list_project(url), project, "{url}");
    }
    // Project 1's list: an entry of its own, holding its occurrences only.
    let one = open(Some(1)).await;
    assert_eq!(one.lists_project, Some(1));
    assert_eq!(entry_projects(root.path()), [Value::from(1)]);
    let count = |e: &Engine, sql: &str| {
        let (ctx, sql) = (e.ctx.clone(), sql.to_string());
        async move {
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let row = occlens::engine::rows::to_rows(&batches).unwrap().remove(0);
            (row["n"].clone(), row["projects"].clone())
        }
    };
    let sql = "SELECT count(*) AS n, count(DISTINCT project_id) AS projects FROM occurrence_list";
    let of_one = format!("{sql} WHERE project_id = 1");
    assert_eq!(count(&one, sql).await, count(&computed, &of_one).await);
    assert_eq!(count(&one, sql).await.1, 1);
    for url in urls(1) {
        let (a, b) = (call(&computed, &url).await, call(&one, &url).await);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{url}");
    }
    assert_eq!(call(&one, &urls(1)[2]).await.body["count"], 1);
    // Anything else is refused by that engine, never answered from part of the rows.
    for url in [
        "/api/v2/occurrences/?project_id=2",
        "/api/v2/occurrences/21/",
        "/api/v2/occurrences/1/?project_id=1",
        "/api/v2/taxa/?project_id=1",
    ] {
        let e = occlens::api::respond::get(&one, url, &Default::default())
            .await
            .err()
            .unwrap_or_else(|| panic!("{url} answered"));
        assert!(e.to_string().contains("project 1's occurrence list"), "{e}");
    }
    // Project 2's: another entry; read again, the same entries.
    let two = open(Some(2)).await;
    assert_eq!(two.lists_project, Some(2));
    for url in urls(2) {
        let (a, b) = (call(&computed, &url).await, call(&two, &url).await);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{url}");
    }
    assert_eq!(call(&two, &urls(2)[2]).await.body["count"], 1);
    let again = open(Some(1)).await;
    assert_eq!(again.lists_project, Some(1));
    assert_eq!(entries(root.path()).len(), 2);
    // The whole part, once built, is read for every project.
    let whole = open(None).await;
    assert_eq!(whole.lists_project, None);
    let mut projects = entry_projects(root.path());
    projects.sort_by_key(|p| p.to_string());
    assert_eq!(projects, [Value::from(1), Value::from(2), Value::Null]);
    let after = open(Some(1)).await;
    assert_eq!(after.lists_project, None);
    assert_eq!(after.cache, whole.cache);
    for url in urls(1).iter().chain(urls(2).iter()) {
        let (a, b) = (call(&computed, url).await, call(&after, url).await);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{url}");
    }
}

#[test]
fn a_first_list_request_builds_its_projects_entry_and_cache_reports_it() {
    let snap = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let cache_root = root.path().join("c");
    let (s, c) = (snap.path().to_str().unwrap(), cache_root.to_str().unwrap());
    two_projects().b.write(snap.path()).unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["--snapshot", s, "--cache-dir", c];
        all.extend(args);
        let (code, out, err) = occlens_with(&all, &[]);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    let list = [
        "list",
        "--project",
        "2",
        "--ordering",
        "-determination_score",
    ];
    // A requester the snapshot does not hold: refused before anything is built.
    let (code, _, err) = occlens_with(
        &[
            &["--snapshot", s, "--cache-dir", c, "--as", "user:999"][..],
            &list[..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("holds no user 999"), "{err}");
    assert!(entries(&cache_root).is_empty());
    let computed = run(&[&["--cache", "off"][..], &list[..]].concat());
    assert_eq!(run(&list), computed);
    assert_eq!(entry_projects(&cache_root), [Value::from(2)]);
    let status = run(&["cache", "status", "--verify"]);
    assert!(status.contains("lists: not built"), "{status}");
    assert!(status.contains("lists of project 2: built: "), "{status}");
    assert!(
        status.contains("lists of project 2: verified: every file matches its checksum"),
        "{status}"
    );
    // A project the snapshot does not hold: its 404, and no entry built for it.
    let (code, out, _) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "api",
            "/api/v2/occurrences/?project_id=99",
        ],
        &[],
    );
    assert_eq!((code, out.trim()), (4, r#"{"detail":"Not found."}"#));
    assert_eq!(entry_projects(&cache_root), [Value::from(2)]);
    // A project's entry under the whole part's name (copied by hand) is not read as it.
    let scoped = cache_root.join(&entries(&cache_root)[0]);
    // Where the whole part would be: `occlens cache` names it.
    let whole = status
        .lines()
        .find_map(|l| l.strip_prefix("lists: not built: "))
        .and_then(|l| l.split(" (").next())
        .map(std::path::PathBuf::from)
        .unwrap();
    std::fs::create_dir(&whole).unwrap();
    for f in entries(&scoped) {
        std::fs::copy(scoped.join(&f), whole.join(&f)).unwrap();
    }
    let count = "SELECT count(*) AS n FROM occurrence_list";
    assert_eq!(
        run(&["sql", "--format", "csv", count]),
        run(&["--cache", "off", "sql", "--format", "csv", count])
    );
    std::fs::remove_dir_all(&whole).unwrap();
    // A project's entry damaged in place (the same size): `check` names it.
    let file = scoped.join("occurrence_list.parquet");
    let original = std::fs::read(&file).unwrap();
    let mut bytes = original.clone();
    bytes[100] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let (code, report, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            c,
            "check",
            "--format",
            "csv",
        ],
        &[],
    );
    assert_eq!(code, 1, "{report}{err}");
    let line = report
        .lines()
        .find(|l| l.starts_with("cache_sha256") && l.contains(scoped.to_str().unwrap()))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        line.contains("checksum differs") && line.ends_with("FAIL"),
        "{line}"
    );
    std::fs::write(&file, original).unwrap();
    // Read again from it; a detail builds the whole lists part, read from then on.
    assert_eq!(run(&list), computed);
    let detail = run(&["api", "/api/v2/occurrences/21/"]);
    assert_eq!(serde_json::from_str::<Value>(&detail).unwrap()["id"], 21);
    assert_eq!(run(&list), computed);
    // Building the whole part removed the project's entry (never read again).
    let status = run(&["cache"]);
    assert!(status.contains("lists: built: "), "{status}");
    assert!(!status.contains("lists of project"), "{status}");
    assert_eq!(entry_projects(&cache_root), [Value::Null]);
    let cleared = run(&["cache", "clear"]);
    assert!(cleared.contains("1 cache entries removed"), "{cleared}");
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
