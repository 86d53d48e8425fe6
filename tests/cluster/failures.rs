//! Failures and what is left behind: a killed executor, an unreachable scheduler, the
//! temporary and work directories, a path an executor cannot read.

use super::*;

#[test]
fn a_killed_executor_never_leaves_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("g");
    generate(&snapshot, "200000");
    let mut cluster = Cluster::start(2, &[]);
    let out = dir.path().join("list.csv");
    let mut export = Command::new(env!("CARGO_BIN_EXE_occlens"))
        .args(export_args(&snapshot, &["--cluster", &cluster.url], &out))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut victim = cluster.executors.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    // Ballista 55 neither finishes nor fails such a job (seen: it waits until the scheduler
    // goes away); after 60 s the user's Ctrl-C / SIGTERM ends it.
    let started = Instant::now();
    let mut interrupted = false;
    let status = loop {
        if let Some(status) = export.try_wait().unwrap() {
            break status;
        }
        if !interrupted && started.elapsed() > Duration::from_secs(60) {
            let pid = export.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            interrupted = true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "SIGTERM did not end the export"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut export.stderr.take().unwrap(), &mut err).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "g" && n != "list.csv")
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    if status.success() {
        // Completed on the remaining executor: the whole file, as a local run writes it.
        let local = dir.path().join("local.csv");
        let (code, _, err) = export_project_1(&snapshot, &["--cache", "off"], &local);
        assert_eq!(code, 0, "{err}");
        assert!(std::fs::read(&out).unwrap() == std::fs::read(&local).unwrap());
    } else {
        assert!(!out.exists(), "a failed export left {}", out.display());
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("occlens: "), "{err}");
        if interrupted {
            assert!(
                err.contains("interrupted; temporary files removed"),
                "{err}"
            );
        }
    }
}

#[test]
fn an_unreachable_scheduler_is_a_quick_one_line_error() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    let started = Instant::now();
    let snapshot = common::oracle().join("snapshot");
    let scheduler = format!("df://127.0.0.1:{port}");
    let (code, _, err) = export_project_1(&snapshot, &["--cluster", &scheduler], &out);
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot reach the Ballista scheduler at df://127.0.0.1:"),
        "{err}"
    );
    assert!(!out.exists());
    // Requests stay local; the demo snapshot is not visible to a cluster.
    let (code, _, err) =
        common::occlens_with(&["--cluster", "standalone", "list", "--project", "1"], &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--cluster applies to export, audit, sql and cache build"),
        "{err}"
    );
    let (code, _, err) = common::occlens_with(&["--cluster", "standalone", "cache", "build"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--cluster needs --snapshot"), "{err}");
    // Ballista's static planner loses rows: refused, not run, from the environment or in a
    // statement; a setting Ballista cannot read is an error naming it. One line, exit 1.
    let snap = snapshot.to_str().unwrap();
    let standalone_sql = |statement: &str, env: (&str, &str)| {
        let args = [
            "--snapshot",
            snap,
            "--cluster",
            "standalone",
            "sql",
            "--format",
            "csv",
            statement,
        ];
        common::occlens_with(&args, &[env])
    };
    for (statement, env, named) in [
        (
            "SELECT 1",
            ("BALLISTA_PLANNER_ADAPTIVE_ENABLED", "False"),
            "BALLISTA_PLANNER_ADAPTIVE_ENABLED=false is refused",
        ),
        (
            "SET ballista.planner.adaptive.enabled = false",
            ("OCCLENS_UNUSED", ""),
            "adaptive planner only",
        ),
        (
            "SELECT 1",
            ("BALLISTA_PLANNER_PROPAGATE_EMPTY_ENABLED", "0"),
            "BALLISTA_PLANNER_PROPAGATE_EMPTY_ENABLED=0: expected true or false",
        ),
        (
            "SELECT 1",
            ("OCCLENS_LOG", "loud"),
            "OCCLENS_LOG=\"loud\": not a level",
        ),
    ] {
        let (code, _, err) = standalone_sql(statement, env);
        assert_eq!(code, 1, "{statement} {env:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(named), "{err}");
    }
    // OCCLENS_LOG shows Ballista's records on stderr; the answer on stdout is unchanged.
    let (code, out, err) = standalone_sql("SELECT 41 + 1 AS n", ("OCCLENS_LOG", "info"));
    assert_eq!((code, out.as_str()), (0, "n\n42\n"), "{err}");
    assert!(err.contains("[INFO ballista"), "{err}");
    // A statement that does not end on the cluster (a triple cross join summed):
    // --time-limit ends it with one line, exit 124; the standalone cluster ends with it.
    let started = std::time::Instant::now();
    let (code, out, err) = common::occlens_with(
        &[
            "--snapshot",
            snap,
            "--cluster",
            "standalone",
            "--time-limit",
            "6s",
            "sql",
            "SELECT sum(a.id + b.id + c.id) FROM main_detection a CROSS JOIN main_detection b CROSS JOIN main_detection c",
        ],
        &[],
    );
    assert_eq!(code, 124, "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("ran past --time-limit 6s"), "{err}");
    assert!(started.elapsed().as_secs() < 60);
    // Statements over the project default filters' views, which Ballista 55 never finishes
    // when split into stages (README, "Empty join sides and window inputs: one stage"):
    // occlens plans them as one stage, and they are answered as locally (a subquery's too).
    for statement in [
        "SELECT count(*) AS n FROM default_filter_taxa WHERE project_id = 1",
        "SELECT count(*) AS n FROM default_filter_taxa WHERE project_id = 2",
        "SELECT count(*) AS n FROM default_filtered_occurrence WHERE project_id = 1",
        "SELECT count(*) AS n FROM occurrence_list WHERE determination_id IN \
         (SELECT taxon_id FROM default_filter_taxa WHERE project_id = 3)",
    ] {
        let sql = ["sql", statement, "--format", "csv"];
        let local = common::occlens_with(&[&["--snapshot", snap][..], &sql].concat(), &[]);
        let cluster = [
            "--snapshot",
            snap,
            "--cluster",
            "standalone",
            "--time-limit",
            "60s",
        ];
        let remote = common::occlens_with(&[&cluster[..], &sql].concat(), &[]);
        assert_eq!(local.0, 0, "{}", local.2);
        assert_eq!(
            (remote.0, &remote.1),
            (0, &local.1),
            "{statement}: {}",
            remote.2
        );
    }
    let (code, _, err) = common::occlens_with(&["--cluster", "standalone", "audit"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--cluster needs --snapshot"), "{err}");
}

/// `--cluster standalone` keeps its executor's files (each job's results, 3.2 GB for one JSON
/// export of SF1's project 1) among this process's temporaries: after the command nothing is
/// left in the temporary directory (Ballista's own standalone executor left a `.tmpXXXXXX`
/// directory of job results behind every command).
#[test]
fn a_standalone_cluster_leaves_nothing_in_the_temporary_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = common::oracle().join("snapshot");
    let out = dir.path().join("p1.parquet");
    let mode = ["--cluster", "standalone"];
    let (code, _, err) = common::occlens_with(
        &export_args(&snapshot, &mode, &out),
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::metadata(&out).unwrap().len() > 100);
    let left: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A `--work-dir` is the user's: the executor works in it and, stopped, leaves everything
/// there as it found it (Ballista's own cleanup would delete its subdirectories).
#[test]
fn an_executor_never_removes_anything_from_a_given_work_dir() {
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("mine")).unwrap();
    std::fs::write(work.path().join("mine/notes.txt"), "keep").unwrap();
    let mut cluster = Cluster::start_in(1, &[], Some(work.path()));
    let dir = tempfile::tempdir().unwrap();
    let snapshot = common::oracle().join("snapshot");
    let args = [
        "export",
        "--format",
        "parquet",
        "--project",
        "1",
        "--out",
        "OUT.parquet",
    ];
    let (local, remote) = both(&cluster, &[], snapshot.to_str().unwrap(), dir.path(), &args);
    assert!(local == remote);
    cluster.stop();
    assert_eq!(
        std::fs::read_to_string(work.path().join("mine/notes.txt")).unwrap(),
        "keep"
    );
    assert_eq!(cluster.temporaries(), Vec::<String>::new());
}

/// A snapshot path that an executor cannot read (here: a directory its user may not enter,
/// as a path not mounted on its machine would be) is one error line naming the executor and
/// the file, and nothing is written. Runs as root: the executor is started as `nobody`.
#[test]
fn a_path_an_executor_cannot_read_is_an_error_naming_it() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test starts an executor as another user: run it as root"
        );
        eprintln!("skipped: needs root to start an executor as another user");
        return;
    }
    let mut cluster = Cluster::start(0, &[]);
    // `nobody` runs a link to the binary from a directory it may enter, with a temporary
    // directory it may write.
    let bin_dir = tempfile::tempdir().unwrap();
    let its_tmp = tempfile::tempdir().unwrap();
    for d in [bin_dir.path(), its_tmp.path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let bin = bin_dir.path().join("occlens");
    let original = env!("CARGO_BIN_EXE_occlens");
    if std::fs::hard_link(original, &bin).is_err() {
        std::fs::copy(original, &bin).unwrap();
    }
    let (flight, grpc) = (free_port(), free_port());
    let executor = Command::new(&bin)
        .args(["cluster", "executor", "--vcores", "1"])
        .args(["--scheduler", cluster.url.trim_start_matches("df://")])
        .args([
            "--port",
            &flight.to_string(),
            "--grpc-port",
            &grpc.to_string(),
        ])
        .env("TMPDIR", its_tmp.path())
        .uid(65534)
        .gid(65534)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cluster.executors.push(executor);
    wait_for(flight, "an executor");
    std::thread::sleep(Duration::from_millis(500));

    // root's snapshot, in a directory only root may enter.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let snapshot = dir.path().join("snapshot");
    generate(&snapshot, "300");
    let out = dir.path().join("p1.csv");
    let started = Instant::now();
    let (code, _, err) = export_project_1(&snapshot, &["--cluster", &cluster.url], &out);
    assert_eq!(code, 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let named = format!("occlens: executor 127.0.0.1:{flight} cannot read ");
    assert!(err.contains(&named), "{err}");
    assert!(
        err.contains(&format!("{}/", snapshot.canonicalize().unwrap().display())),
        "{err}"
    );
    assert!(err.contains("a path every executor sees"), "{err}");
    assert!(!out.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
