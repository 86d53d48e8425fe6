//! What occlens writes and replaces: its own output only, staged and renamed into place;
//! temporaries removed on errors, on SIGINT/SIGTERM, and (after SIGKILL) by the next run.

mod common;

use common::{occlens_with, Tiny};
use std::path::Path;
use std::time::Duration;

fn tiny_snapshot(dir: &Path) {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.b.write(dir).unwrap();
}

/// Copy the files of the directory `from` into `to` (created).
fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// The entry of table `name` in a manifest's `tables`.
fn table_entry<'a>(manifest: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
    let tables = manifest["tables"].as_array_mut().unwrap();
    tables.iter_mut().find(|t| t["name"] == name).unwrap()
}

fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".occlens-"))
        .collect()
}

#[test]
fn generate_replaces_its_own_snapshot_and_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("snap");
    let o = out.to_str().unwrap();
    let (code, _, err) = occlens_with(&["generate", "--out", o, "--occurrences", "20"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("_snapshot.json").is_file());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_snapshot.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["source"],
        "occlens generate --shape realistic --occurrences 20 --seed 1"
    );
    let occ = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "main_occurrence")
        .unwrap();
    assert_eq!(occ["rows"], 20);
    // Its own earlier output is replaced.
    let (code, _, err) = occlens_with(&["generate", "--out", o, "--occurrences", "30"], &[]);
    assert_eq!(code, 0, "{err}");
    let (code, out_text, err) = occlens_with(
        &[
            "--snapshot",
            o,
            "--cache",
            "off",
            "sql",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM main_occurrence",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out_text, "n\n30\n");
    // The snapshot checks out whole: keys, NOT NULL columns, references and checksums.
    let (code, report, err) = occlens_with(&["--snapshot", o, "--cache", "off", "check"], &[]);
    assert_eq!(code, 0, "{report}{err}");
    assert!(err.contains("all") && err.contains("rules hold"), "{err}");
    // A part file added beside a table the manifest lists is not read: `check` names it.
    let added = work.path().join("added");
    copy_files(&out, &added);
    std::fs::create_dir_all(added.join("main_occurrence")).unwrap();
    std::fs::copy(
        out.join("main_occurrence.parquet"),
        added.join("main_occurrence/part-1.parquet"),
    )
    .unwrap();
    std::fs::write(added.join("main_occurrence/_SUCCESS"), b"").unwrap();
    let (code, report, err) = check_csv(&added);
    assert_eq!(code, 1, "{report}{err}");
    assert!(
        report.contains(
            "manifest_files,_snapshot.json,1,\"table main_occurrence: main_occurrence/part-1.parquet is not listed in _snapshot.json, so it is not read\",FAIL"
        ),
        "{report}"
    );
    // A manifest whose row count for a file is not the file's (edited by hand, or the file
    // rewritten to the same size): `check` names the file and both counts.
    let recounted = work.path().join("recounted");
    copy_files(&out, &recounted);
    let manifest_path = recounted.join("_snapshot.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    // `check` of the manifest as changed: its manifest_rows line.
    let checked = |manifest: &serde_json::Value, line: &str| {
        std::fs::write(&manifest_path, manifest.to_string()).unwrap();
        let (code, report, err) = check_csv(&recounted);
        assert_eq!(code, 1, "{report}{err}");
        assert!(report.contains(line), "{report}");
    };
    let table = table_entry(&mut manifest, "main_occurrence");
    assert_eq!(table["files"][0]["rows"], 30, "{table}");
    table["files"][0]["rows"] = 31.into();
    checked(
        &manifest,
        "manifest_rows,_snapshot.json,1,\"table main_occurrence: main_occurrence.parquet: the file holds 30 rows, _snapshot.json lists 31\",FAIL",
    );
    // A per-file count that is not a count, and a table's count that is not its files' sum.
    let table = table_entry(&mut manifest, "main_occurrence");
    table["files"][0]["rows"] = "30".into();
    table["rows"] = 29.into();
    checked(
        &manifest,
        "manifest_rows,_snapshot.json,2,\"table main_occurrence: main_occurrence.parquet: _snapshot.json lists rows \"\"30\"\", not a count\",FAIL",
    );
    // A manifest that leaves out a required table whose file is there: the file is read as
    // found, so `check` says that nothing checks it (it reported that every rule held).
    let tables = manifest["tables"].as_array_mut().unwrap();
    tables.retain(|t| t["name"] != "main_occurrence");
    checked(
        &manifest,
        "manifest_files,_snapshot.json,1,\"table main_occurrence: _snapshot.json does not list this required table; main_occurrence.parquet is read as found, its size and checksum unchecked\",FAIL",
    );
    // A directory that is not an occlens snapshot is refused and untouched.
    let mine = work.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.txt"), "years").unwrap();
    let (code, _, err) = occlens_with(
        &[
            "generate",
            "--out",
            mine.to_str().unwrap(),
            "--occurrences",
            "5",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("not an occlens snapshot"), "{err}");
    assert_eq!(std::fs::read_dir(&mine).unwrap().count(), 1);
    // Nor is a snapshot whose file was rewritten since occlens wrote it (its size is not the
    // manifest's): a user's edit of the data is not occlens's to remove.
    let edited = out.join("main_taxon.parquet");
    let mut bytes = std::fs::read(&edited).unwrap();
    bytes.extend_from_slice(b"their edit");
    std::fs::write(&edited, &bytes).unwrap();
    let (code, _, err) = occlens_with(&["generate", "--out", o, "--occurrences", "5"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("not an occlens snapshot"), "{err}");
    assert_eq!(std::fs::read(&edited).unwrap(), bytes);
    assert!(
        temporaries(work.path()).is_empty(),
        "{:?}",
        temporaries(work.path())
    );
}

#[test]
fn exports_replace_a_file_only_with_overwrite() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    let out = work.path().join("out.csv");
    std::fs::write(&out, "theirs").unwrap();
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "--snapshot",
            s,
            "export",
            "--format",
            "csv",
            "--project",
            "1",
            "--out",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| occlens_with(&a.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let (code, _, err) = run(args(&[]));
    assert_eq!(code, 1);
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "theirs");
    let (code, _, err) = run(args(&["--overwrite"]));
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("id,"));
    assert!(temporaries(work.path()).is_empty());
}

/// `--out -` is standard output (as in most data tools), never a file named `-`; the bytes
/// are the file's. A binary format goes there too when stdout is not a terminal.
#[test]
fn out_dash_is_standard_output_not_a_file() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    // Standard output's temporary file is made under TMPDIR.
    let tmp = work.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let export = |format: &str, out: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
            .current_dir(work.path())
            .env("TMPDIR", &tmp)
            .args([
                "--snapshot",
                s,
                "--cache",
                "off",
                "export",
                "--format",
                format,
            ])
            .args(["--project", "1", "--out", out])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{format} to {out}: {err}");
        (output.stdout, err)
    };
    for (format, file) in [
        ("csv", "out.csv"),
        ("ndjson", "out.ndjson"),
        ("parquet", "out.parquet"),
    ] {
        let (stdout, err) = export(format, "-");
        assert!(err.contains("to standard output"), "{err}");
        let (nothing, _) = export(format, file);
        assert!(nothing.is_empty());
        assert_eq!(
            stdout,
            std::fs::read(work.path().join(file)).unwrap(),
            "{format}"
        );
        assert!(!work.path().join("-").exists());
        assert_eq!(
            std::fs::read_dir(&tmp).unwrap().count(),
            0,
            "left in TMPDIR"
        );
    }
    assert!(temporaries(work.path()).is_empty());
}

#[test]
fn leftovers_of_a_killed_run_are_swept_by_the_next_writer() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    let st = state.to_str().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    // A run killed with SIGKILL while it writes: its staging directory stays behind.
    let big = work.path().join("big");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
        .args(["generate", "--out", big.to_str().unwrap()])
        .args(["--occurrences", "5000000"])
        .env("XDG_STATE_HOME", st)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while temporaries(work.path()).is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = temporaries(work.path());
    assert_eq!(killed.len(), 1, "{killed:?}");
    // Named like a dead process's leftovers, but no occlens run listed them: a user's files
    // (session 61: the next run removed them, a directory with everything in it).
    let named = work.path().join(".out.csv.occlens-export-4294967294-1.tmp");
    let named_dir = work.path().join(".snap.occlens-snapshot-4294967294-2.tmp");
    let not_ours = work.path().join("notes.occlens.tmp");
    std::fs::write(&named, "mine").unwrap();
    std::fs::create_dir(&named_dir).unwrap();
    std::fs::write(named_dir.join("data"), "mine").unwrap();
    std::fs::write(&not_ours, "mine").unwrap();
    let out = work.path().join("out.csv");
    let (code, _, err) = occlens_with(
        &[
            "--snapshot",
            snap.to_str().unwrap(),
            "export",
            "--format",
            "csv",
            "--project",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &[("XDG_STATE_HOME", st)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!work.path().join(&killed[0]).exists(), "{killed:?} kept");
    assert!(named.exists() && named_dir.join("data").exists() && not_ours.exists());
    // The killed run's journal went with its last leftover; the export's own, with nothing
    // left of it, goes at the next sweep.
    let journals = std::fs::read_dir(state.join("occlens/temporaries"))
        .unwrap()
        .count();
    assert!(journals <= 1, "{journals} journals");
}

#[cfg(unix)]
#[test]
fn sigint_and_sigterm_remove_temporaries() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("big");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
            .args([
                "generate",
                "--out",
                out.to_str().unwrap(),
                "--occurrences",
                "5000000",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the staging directory exists, then interrupt.
        let started = std::time::Instant::now();
        while temporaries(work.path()).is_empty() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !temporaries(work.path()).is_empty(),
            "no staging directory appeared"
        );
        std::thread::sleep(Duration::from_millis(300));
        let ok = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let result = child.wait_with_output().unwrap();
        assert_eq!(result.status.code(), Some(code), "{signal}");
        let err = String::from_utf8_lossy(&result.stderr);
        assert!(err.contains("interrupted"), "{err}");
        assert!(
            !out.exists(),
            "{signal}: a partial snapshot under the final name"
        );
        assert!(
            temporaries(work.path()).is_empty(),
            "{signal}: {:?}",
            temporaries(work.path())
        );
    }
}

#[test]
fn sql_writes_only_when_allowed() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    let target = work.path().join("copy.csv");
    let copy = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        target.display()
    );
    let (code, _, err) = occlens_with(&["--snapshot", s, "sql", &copy], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("--allow-write"), "{err}");
    assert!(!target.exists());
    let (code, _, err) = occlens_with(&["--snapshot", s, "sql", "--allow-write", &copy], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "a\n1\n");
    // A folder (no extension, a trailing `/`, PARTITIONED BY): written to a hidden sibling,
    // then renamed; nothing hidden left beside it.
    for (name, clause) in [
        ("folder", ""),
        ("slashed/", ""),
        ("parted.csv", " PARTITIONED BY (p)"),
    ] {
        let dest = work.path().join(name);
        let q = format!(
            "COPY (SELECT 1 AS a, 2 AS p) TO '{}' STORED AS CSV{clause}",
            dest.display()
        );
        let (code, _, err) = occlens_with(&["--snapshot", s, "sql", "--allow-write", &q], &[]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(dest.is_dir(), "{name}");
        let files = common::files_under(&dest);
        assert!(!files.is_empty(), "{name}");
    }
    assert_eq!(temporaries(work.path()), Vec::<String>::new());
    let before: Vec<_> = std::fs::read_dir(&snap)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let (code, _, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "sql",
            "--allow-write",
            "INSERT INTO main_occurrence (id) VALUES (99)",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("never writes into a snapshot"), "{err}");
    let after: Vec<_> = std::fs::read_dir(&snap)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(before.len(), after.len());
}

#[test]
fn check_reports_duplicate_ids_null_keys_and_dangling_references() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.simple(2, 4, 0.8);
    // A detection of an occurrence that does not exist.
    t.b.add(
        "main_detection",
        serde_json::json!({"id": 900, "occurrence_id": 777, "source_image_id": 1, "timestamp": common::T0}),
    );
    // Occurrence 1 twice.
    t.b.add(
        "main_occurrence",
        serde_json::json!({"id": 1, "project_id": 1, "deployment_id": 1, "event_id": 1}),
    );
    // A bbox that is not JSON (jsonb holds nothing else; it would read as no box).
    t.b.add(
        "main_detection",
        serde_json::json!({"id": 901, "occurrence_id": 1, "source_image_id": 1, "timestamp": common::T0, "bbox": "[1, 2"}),
    );
    t.b.write(&snap).unwrap();
    let s = snap.to_str().unwrap();
    let (code, report, err) = check_csv(&snap);
    assert_eq!(code, 1, "{report}{err}");
    assert!(
        report.contains("unique,main_occurrence.id,1,1,FAIL"),
        "{report}"
    );
    assert!(
        report
            .contains("foreign_key,main_detection.occurrence_id -> main_occurrence.id,1,777,FAIL"),
        "{report}"
    );
    assert!(
        report.contains("unique,main_detection.id,0,,ok"),
        "{report}"
    );
    assert!(
        report.contains("json,main_detection.bbox,1,\"[1, 2\",FAIL"),
        "{report}"
    );
    assert!(err.contains("rules broken"), "{err}");
    // Answering from it fails instead of giving pages whose count disagrees with their rows.
    let cache = work.path().join("cache");
    let (code, _, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--cache-dir",
            cache.to_str().unwrap(),
            "api",
            "/api/v2/occurrences/?project_id=1",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(err.contains("repeat an id"), "{err}");
}

#[test]
fn deep_sql_plans_and_hyperlinks_carry_no_credentials() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("snap");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    // 3,000 terms overflowed the default 8 MiB stack while planning.
    let sql = format!("SELECT {} AS n", vec!["1"; 3000].join("+"));
    let (code, out, err) = occlens_with(&["--snapshot", s, "sql", "--format", "csv", &sql], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "n\n3000\n");
    let (code, out, err) = occlens_with(
        &[
            "--snapshot",
            s,
            "--api-base",
            "http://u:S3cretPw@h.example",
            "api",
            "/api/v2/occurrences/?project_id=1&limit=1",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("S3cretPw") && !err.contains("S3cretPw"),
        "{out}{err}"
    );
    assert!(out.contains("http://h.example/"), "{out}");
}

/// A tiny snapshot under `work` and its cache, built: (snapshot, cache directory).
fn built_cache(work: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (snap, cache) = (work.join("snap"), work.join("cache"));
    tiny_snapshot(&snap);
    let (s, c) = (snap.to_str().unwrap(), cache.to_str().unwrap());
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 0, "{err}");
    (snap, cache)
}

#[test]
fn cache_clear_keeps_an_entry_holding_a_users_file() {
    let work = tempfile::tempdir().unwrap();
    let (_, cache) = built_cache(work.path());
    let c = cache.to_str().unwrap();
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(entry.join("notes.txt"), "mine").unwrap();
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    // The other two parts' entries go; the one holding the user's file stays.
    assert!(out.contains("2 cache entries removed"), "{out}");
    assert!(out.contains("1 other entries"), "{out}");
    assert_eq!(
        std::fs::read_to_string(entry.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A directory that only looks like a cache entry (a fingerprint's name, view files' names
/// inside) is not occlens's without its marker: `cache clear` leaves a user's directory with no
/// marker, with a marker that is not occlens's, or with a view file its marker does not list;
/// it removes one whose marker was cut short (not JSON) beside view files only.
#[test]
fn cache_clear_needs_occlens_marker_listing_every_file() {
    let work = tempfile::tempdir().unwrap();
    let (_, cache) = built_cache(work.path());
    let c = cache.to_str().unwrap();
    // A real entry's marker, copied into the third directory with a file it does not list.
    let real = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("occurrence_list.parquet").exists())
        .expect("the lists part's entry");
    let marker = std::fs::read(real.join("_occlens_cache.json")).unwrap();
    let (code, _, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    let unmarked = cache.join("111111111111111111111111");
    let foreign = cache.join("222222222222222222222222");
    let unlisted = cache.join("333333333333333333333333");
    for d in [&unmarked, &foreign, &unlisted] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(unmarked.join("occurrence_list.parquet"), "precious").unwrap();
    std::fs::write(foreign.join("_occlens_cache.json"), r#"{"mine": 1}"#).unwrap();
    std::fs::write(foreign.join("occurrence_list.parquet"), "precious").unwrap();
    std::fs::write(unlisted.join("_occlens_cache.json"), &marker).unwrap();
    std::fs::write(unlisted.join("detail_detections.parquet"), "precious").unwrap();
    // The marker copied beside a user's file under a name it lists, of another size and not
    // Parquet: not occlens's (it was removed).
    let mimic = cache.join("555555555555555555555555");
    std::fs::create_dir(&mimic).unwrap();
    std::fs::write(mimic.join("_occlens_cache.json"), &marker).unwrap();
    std::fs::write(mimic.join("occurrence_list.parquet"), "precious").unwrap();
    // A marker cut short by a crash (not JSON) beside view files only: occlens's, so that it
    // can replace its own entry.
    let cut_short = cache.join("444444444444444444444444");
    std::fs::create_dir(&cut_short).unwrap();
    std::fs::write(cut_short.join("_occlens_cache.json"), "").unwrap();
    std::fs::write(cut_short.join("occurrence_list.parquet"), "PAR1").unwrap();
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("1 cache entries removed"), "{out}");
    assert!(!cut_short.exists());
    for (d, f) in [
        (&unmarked, "occurrence_list.parquet"),
        (&foreign, "occurrence_list.parquet"),
        (&unlisted, "detail_detections.parquet"),
        (&mimic, "occurrence_list.parquet"),
    ] {
        assert_eq!(std::fs::read_to_string(d.join(f)).unwrap(), "precious");
    }
}

/// Cache entries are directories occlens wrote: a link, an empty directory or a directory
/// holding a directory under an entry's name is never removed or replaced. `cache clear`
/// leaves them; a build whose entry name one of them takes fails naming it (`cache build`)
/// or answers from the snapshot with a warning (`--cache auto`).
#[test]
fn cache_leaves_what_only_looks_like_an_entry() {
    let work = tempfile::tempdir().unwrap();
    let (snap, cache) = built_cache(work.path());
    let (s, c) = (snap.to_str().unwrap(), cache.to_str().unwrap());
    let mut names: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3);
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("3 cache entries removed"), "{out}");
    // The user's things, under the entries' names.
    let mine = work.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("occurrence_list.parquet"), "mine").unwrap();
    let (empty, link, nested) = (
        cache.join(&names[0]),
        cache.join(&names[1]),
        cache.join(&names[2]),
    );
    std::fs::create_dir(&empty).unwrap();
    std::os::unix::fs::symlink(&mine, &link).unwrap();
    std::fs::create_dir_all(nested.join("occurrence_list.parquet")).unwrap();
    std::fs::write(nested.join("occurrence_list.parquet").join("x"), "mine").unwrap();
    let intact = || {
        assert!(empty.is_dir() && std::fs::read_dir(&empty).unwrap().next().is_none());
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(mine.join("occurrence_list.parquet")).unwrap(),
            "mine"
        );
        assert_eq!(
            std::fs::read_to_string(nested.join("occurrence_list.parquet").join("x")).unwrap(),
            "mine"
        );
    };
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("0 cache entries removed"), "{out}");
    intact();
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("in the way: not an occlens cache entry"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    intact();
    let (code, out, err) = occlens_with(
        &["--snapshot", s, "--cache-dir", c, "list", "--project", "1"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"count\":1") || out.contains("\"count\": 1"),
        "{out}"
    );
    assert!(
        err.contains("answering from the snapshot's tables"),
        "{err}"
    );
    intact();
    assert!(temporaries(&cache).is_empty(), "{:?}", temporaries(&cache));
}

#[test]
fn a_full_disk_names_the_export_file_and_leaves_nothing() {
    // A 64 KB tmpfs (root in a container that allows it; skipped elsewhere).
    let work = tempfile::tempdir().unwrap();
    let small = work.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&small)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    // Most of the 64 KB taken: even the demo project's Parquet file (26 KB) does not fit.
    let filler = small.join("filler");
    std::fs::write(&filler, vec![b'x'; 48 << 10]).unwrap();
    let mut failures = Vec::new();
    for format in [
        "occurrences_api_json",
        "ndjson",
        "occurrences_simple_csv",
        "csv",
        "parquet",
    ] {
        let out = small.join(format!("out.{format}"));
        let args = ["export", "--format", format, "--project", "1", "--out"];
        let (code, _, err) = occlens_with(&[&args[..], &[out.to_str().unwrap()]].concat(), &[]);
        let expected = format!("occlens: {}: No space left on device", out.display());
        if code != 1 || !err.starts_with(&expected) || err.lines().count() != 1 || out.exists() {
            failures.push(format!("{format}: exit {code}, {err}"));
        }
    }
    std::fs::remove_file(&filler).unwrap();
    let left: Vec<_> = std::fs::read_dir(&small).unwrap().flatten().collect();
    let _ = std::process::Command::new("umount").arg(&small).status();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(left.is_empty(), "{left:?}");
}

/// `occlens check --format csv` of `snapshot`, without the cache: exit code, report, stderr.
fn check_csv(snapshot: &std::path::Path) -> (i32, String, String) {
    let s = snapshot.to_str().unwrap();
    let args = [
        "--snapshot",
        s,
        "--cache",
        "off",
        "check",
        "--format",
        "csv",
    ];
    occlens_with(&args, &[])
}

/// A file name near the file system's 255 bytes: the export's hidden temporary fits beside
/// it (it was refused with "File name too long"), for an export and a COPY.
#[test]
fn a_long_output_name_is_written() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("s");
    tiny_snapshot(&snap);
    let s = snap.to_str().unwrap();
    let long = work.path().join(format!("{}.csv", "a".repeat(240)));
    let out = long.to_str().unwrap();
    let export = [
        "--snapshot",
        s,
        "--cache",
        "off",
        "export",
        "--format",
        "csv",
        "--project",
        "1",
        "--out",
        out,
    ];
    let (code, _, err) = occlens_with(&export, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&long).unwrap().starts_with("id,"));
    let copied = work.path().join(format!("{}.csv", "b".repeat(240)));
    let copy = format!("COPY (SELECT 1 AS a) TO '{}'", copied.display());
    let sql = [
        "--snapshot",
        s,
        "--cache",
        "off",
        "sql",
        "--allow-write",
        &copy,
    ];
    let (code, _, err) = occlens_with(&sql, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read_to_string(&copied).unwrap(), "a\n1\n");
    assert!(temporaries(work.path()).is_empty());
}
