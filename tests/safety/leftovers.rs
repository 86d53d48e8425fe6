//! Temporaries: swept after a killed run, removed on SIGINT and SIGTERM and on a full disk.

use super::*;

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
    let export = [
        "--snapshot",
        snap.to_str().unwrap(),
        "export",
        "--format",
        "csv",
        "--project",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let (code, _, err) = occlens_with(&export, &[("XDG_STATE_HOME", st)]);
    assert_eq!(code, 0, "{err}");
    assert!(!work.path().join(&killed[0]).exists(), "{killed:?} kept");
    assert!(named.exists() && named_dir.join("data").exists() && not_ours.exists());
    // The killed run's journal went with its last leftover; the export's own, with nothing
    // left of it, with the export's end.
    let journals = || {
        std::fs::read_dir(state.join("occlens/temporaries"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(journals(), Vec::<String>::new());
    // A run that ends normally leaves no journal of its own either.
    std::fs::remove_file(&out).unwrap();
    let (code, _, err) = occlens_with(&export, &[("XDG_STATE_HOME", st)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.exists());
    assert_eq!(journals(), Vec::<String>::new());
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
