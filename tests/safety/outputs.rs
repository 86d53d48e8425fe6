//! Replacing output: `generate` and exports replace only their own, `--out -` is standard
//! output, a long output name is written.

use super::*;

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
