//! `--cache off`, the `cache` command (report, build, clear), an unwritable cache directory,
//! entries in use, a closed standard output.

use super::*;

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
    // One entry per part (taxa, lists, details, facts), each with its marker.
    let keys = entries(&cache_root);
    assert_eq!(keys.len(), 4);
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
    assert!(out.contains("4 cache entries removed"), "{out}");
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
    // from a rebuilt entry (a batch of requests reads the whole lists part).
    std::fs::write(&list, &bytes[..100]).unwrap();
    let batch = snap.path().join("requests.txt");
    std::fs::write(&batch, "/api/v2/occurrences/?project_id=1\n").unwrap();
    let batch = batch.to_str().unwrap();
    let (code, out, err) = occlens_with(
        &["--snapshot", s, "--cache-dir", c, "api", "--batch", batch],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        serde_json::from_str::<Value>(&out).unwrap()["body"]["count"].is_number(),
        "{out}"
    );
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
    assert!(out.contains("4 cache entries removed"), "{out}");
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
    assert_eq!(entries(root.path()).len(), 4);
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
        out.contains("0 cache entries removed") && out.contains("4 in use by another process"),
        "{out}"
    );
    assert_eq!(entries(root.path()).len(), 4);
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
        4,
        "{err}"
    );
    assert_eq!(out.matches(": kept, not rebuilt: ").count(), 4, "{out}");
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
    assert!(out.contains("4 cache entries removed"), "{out}");
    assert!(entries(root.path()).is_empty());
}
