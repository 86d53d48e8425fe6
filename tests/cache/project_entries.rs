//! Entries per project: a list request builds and reads its own project's entry until the
//! whole part is built, and `cache` reports it.

use super::*;

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

/// The marker's `project` of each entry of the lists part under `root`.
fn entry_projects(root: &Path) -> Vec<Value> {
    entries(root)
        .iter()
        .filter_map(|e| {
            let m = std::fs::read(root.join(e).join("_occlens_cache.json")).unwrap();
            let m = serde_json::from_slice::<Value>(&m).unwrap();
            (m["part"] == "lists").then(|| m["project"].clone())
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
    // The detail of an occurrence of project 1: its project's entry, that detail only.
    let settings = occlens::engine::cache::Settings {
        dir: Some(root.path().to_path_buf()),
        detail: Some(1),
        ..Default::default()
    };
    let config = occlens::Config {
        api_base: "http://testserver".into(),
        ..occlens::Config::default()
    };
    let detail = Engine::open_cached(Some(snapshot), config, &settings, &lists, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        (detail.lists_project, detail.lists_detail),
        (Some(1), Some(1))
    );
    assert_eq!(entry_projects(root.path()), [Value::from(1)]);
    for url in [
        "/api/v2/occurrences/1/",
        "/api/v2/occurrences/1/?project_id=1",
        "/api/v2/occurrences/1/?project_id=2",
        "/api/v2/occurrences/1/?project_id=99",
        "/api/v2/occurrences/1/?apply_defaults=false",
    ] {
        let (a, b) = (call(&computed, url).await, call(&detail, url).await);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{url}");
    }
    for url in [
        "/api/v2/occurrences/?project_id=1",
        "/api/v2/occurrences/2/",
        "/api/v2/occurrences/algorithms/?project_id=1",
        "/api/v2/taxa/?project_id=1",
    ] {
        let e = occlens::api::respond::get(&detail, url, &Default::default())
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
    let scoped = entries(&cache_root)
        .into_iter()
        .map(|e| cache_root.join(e))
        .find(|e| e.join("occurrence_list.parquet").exists())
        .unwrap();
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
    // Read again from it; a detail of project 2 reads it too, one of project 1 builds project
    // 1's entry, one of an occurrence the snapshot does not hold builds nothing.
    assert_eq!(run(&list), computed);
    for (id, projects) in [(21, vec![2]), (1, vec![1, 2])] {
        let url = format!("/api/v2/occurrences/{id}/");
        let detail = run(&["api", &url]);
        assert_eq!(detail, run(&["--cache", "off", "api", &url]));
        assert_eq!(serde_json::from_str::<Value>(&detail).unwrap()["id"], id);
        let mut found = entry_projects(&cache_root);
        found.sort_by_key(|p| p.as_i64());
        assert_eq!(
            found,
            projects.into_iter().map(Value::from).collect::<Vec<_>>()
        );
    }
    let (code, out, _) = occlens_with(&["--snapshot", s, "--cache-dir", c, "detail", "99"], &[]);
    assert_eq!((code, out.trim()), (4, r#"{"detail":"Not found."}"#));
    // (The taxa part and the two projects' lists.)
    assert_eq!(entries(&cache_root).len(), 3);
    // A batch of requests builds the whole lists part, read from then on.
    let batch = root.path().join("requests.txt");
    std::fs::write(&batch, "/api/v2/occurrences/?project_id=2\n").unwrap();
    run(&["api", "--batch", batch.to_str().unwrap()]);
    assert_eq!(run(&list), computed);
    // Building the whole part removed the projects' entries (never read again).
    let status = run(&["cache"]);
    assert!(status.contains("lists: built: "), "{status}");
    assert!(!status.contains("lists of project"), "{status}");
    assert_eq!(entry_projects(&cache_root), [Value::Null]);
    // The whole lists part damaged (a truncated file): a detail warns in one line and reads,
    // or builds, its project's entry; one of an occurrence the snapshot does not hold warns
    // and answers from the tables.
    let whole = entries(&cache_root)
        .into_iter()
        .map(|e| cache_root.join(e))
        .find(|e| e.join("occurrence_list.parquet").exists())
        .unwrap();
    let file = whole.join("occurrence_list.parquet");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..100]).unwrap();
    let (code, out, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "detail", "1"], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, run(&["--cache", "off", "detail", "1"]));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("is damaged") && err.contains("reading project 1's lists"),
        "{err}"
    );
    let (code, out, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "detail", "99"], &[]);
    assert_eq!((code, out.trim()), (4, r#"{"detail":"Not found."}"#));
    assert!(
        err.contains("is damaged") && err.contains("answering from the snapshot's tables"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("damaged")).count(),
        1,
        "{err}"
    );
    let cleared = run(&["cache", "clear"]);
    // The taxa, whole lists and facts parts, and project 1's lists.
    assert!(cleared.contains("4 cache entries removed"), "{cleared}");
}

/// The taxa part cannot be written (its entry's name taken by a user's empty directory) while
/// a project's lists are built beside it: one warning, the lists entry read, the taxon views
/// computed from the snapshot, the answers those computed without a cache; the directory left
/// alone. (A failed part made the parts built beside it go unread.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_that_cannot_be_written_leaves_the_ones_built_beside_it_read() {
    use occlens::engine::cache::{self, Part};
    let t = two_projects();
    let (dir, computed) = t.engine().await;
    let root = tempfile::tempdir().unwrap();
    let snapshot = dir.path().to_str().unwrap();
    let settings = cache::Settings {
        dir: Some(root.path().to_path_buf()),
        project: Some(1),
        ..Default::default()
    };
    let config = occlens::Config {
        api_base: "http://testserver".into(),
        ..occlens::Config::default()
    };
    // Where the taxa part goes: the open of a plain engine names it.
    let plain = Engine::open(Some(snapshot), config.clone()).await.unwrap();
    let taxa = cache::directory(&settings, &plain.snapshot, config.time_zone, Part::Taxa).unwrap();
    std::fs::create_dir(&taxa).unwrap();
    let parts = [Part::Taxa, Part::Lists];
    let engine = Engine::open_cached(Some(snapshot), config, &settings, &parts, &|_| {})
        .await
        .unwrap();
    let warning = engine.cache_warning.clone().unwrap_or_default();
    assert!(
        warning.contains("cannot write the cache (")
            && warning.contains("in the way")
            && warning.matches("cannot write").count() == 1,
        "{warning}"
    );
    assert_eq!(engine.lists_project, Some(1));
    assert!(engine.cached(Part::Lists).is_some() && engine.cached(Part::Taxa).is_none());
    for url in [
        "/api/v2/occurrences/?project_id=1",
        "/api/v2/occurrences/?project_id=1&ordering=-determination_score",
    ] {
        let (a, b) = (call(&computed, url).await, call(&engine, url).await);
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{url}");
    }
    assert!(taxa.is_dir() && std::fs::read_dir(&taxa).unwrap().next().is_none());
}
