//! The standing bad-input corpus: every class of bad input found so far, run through the
//! whole binary. Each case asserts its exit code; that the message (stderr, or the response
//! body for API errors) is one line naming the thing; that nothing says `panicked`; that
//! nothing exists under the case's final output name; and that no temporary is left behind.
//! New bug classes get a case here.

mod common;

use common::Tiny;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One bad input.
struct Case {
    name: String,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    env: Vec<(String, String)>,
    /// The exit code (Some) or any non-zero code (None).
    code: Option<i32>,
    /// Text the one-line message must contain (case-insensitive).
    names: String,
    /// The message is the response body on stdout (API errors), not stderr.
    body: bool,
    /// The message is a report on stdout (validators): any number of lines.
    report: bool,
    /// Must not exist after the run.
    absent: Option<PathBuf>,
    /// The working directory (default: the test's).
    cwd: Option<PathBuf>,
}

fn case(name: &str, args: &[&str], code: Option<i32>, names: &str) -> Case {
    Case {
        name: name.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: None,
        env: Vec::new(),
        code,
        names: names.into(),
        body: false,
        report: false,
        absent: None,
        cwd: None,
    }
}

impl Case {
    fn absent(mut self, p: &Path) -> Case {
        self.absent = Some(p.to_path_buf());
        self
    }
    fn cwd(mut self, dir: &Path) -> Case {
        self.cwd = Some(dir.to_path_buf());
        self
    }
    fn stdin(mut self, bytes: &[u8]) -> Case {
        self.stdin = Some(bytes.to_vec());
        self
    }
    fn body(mut self) -> Case {
        self.body = true;
        self
    }
    fn report(mut self) -> Case {
        self.report = true;
        self
    }
    fn env(mut self, k: &str, v: &str) -> Case {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// Run one case; the failures found (empty when it passes).
fn run(c: &Case, cache: &Path) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_occlens"));
    cmd.args(&c.args)
        .env("OCCLENS_CACHE_DIR", cache)
        .env_remove("OCCLENS_SNAPSHOT")
        .stdin(if c.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &c.env {
        cmd.env(k, v);
    }
    if let Some(dir) = &c.cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().expect("start occlens");
    if let Some(bytes) = &c.stdin {
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(bytes);
    }
    let out = child.wait_with_output().expect("occlens ran");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    let code = out.status.code().unwrap_or(-1);
    let mut failures = Vec::new();
    match c.code {
        Some(want) if want != code => failures.push(format!("exit {code}, expected {want}")),
        None if code == 0 => failures.push("exit 0, expected an error".into()),
        _ => {}
    }
    if stdout.contains("panicked") || stderr.contains("panicked") || code == 101 {
        failures.push("a panic".into());
    }
    let message = if c.body || c.report {
        stdout.trim()
    } else {
        stderr.trim()
    };
    if !c.report && message.lines().count() != 1 {
        failures.push(format!("{} lines of message", message.lines().count()));
    }
    if !message.to_lowercase().contains(&c.names.to_lowercase()) {
        failures.push(format!("the message does not name {:?}", c.names));
    }
    if let Some(p) = &c.absent {
        if std::fs::symlink_metadata(p).is_ok() {
            failures.push(format!("{} exists", p.display()));
        }
    }
    if failures.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{}: {}\n    args: {:?}\n    stdout: {}\n    stderr: {}",
            c.name,
            failures.join("; "),
            c.args,
            stdout.chars().take(300).collect::<String>(),
            stderr.chars().take(300).collect::<String>()
        )]
    }
}

/// Every `.occlens-…tmp` (or its staging file `….tmp#<n>`) left anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        // `….tmp`, or object_store's staging file of a write to it (`….tmp#<n>`).
        let staged = name
            .rsplit_once('#')
            .filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .map_or(name.as_str(), |(stem, _)| stem);
        if name.contains(".occlens-") && staged.ends_with(".tmp") {
            found.push(e.path());
        } else if e.path().is_dir() {
            found.extend(temporaries(&e.path()));
        }
    }
    found
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of the good tiny snapshot at `work/name`, changed by `change`.
fn variant(work: &Path, good: &Path, name: &str, change: impl FnOnce(&Path)) -> String {
    let dir = work.join(name);
    copy_dir(good, &dir);
    change(&dir);
    dir.to_string_lossy().to_string()
}

/// A web server on 127.0.0.1 that answers every request with `Content-Length: 100000000000`
/// and 64 KiB of body; the snapshot URL it serves.
fn liar_server() -> String {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n";
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&[b' '; 64 << 10]);
            });
        }
    });
    format!("http://127.0.0.1:{port}/snap")
}

/// A TCP listener that accepts connections and never answers; its port.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

fn snapshots(work: &Path, good: &Path, cases: &mut Vec<Case>) {
    let g = good.to_str().unwrap();
    let s = |n: &str, f: &dyn Fn(&Path)| variant(work, good, n, f);
    let missing = s("missing_table", &|d| {
        std::fs::remove_file(d.join("main_detection.parquet")).unwrap()
    });
    let zero = s("zero_byte", &|d| {
        std::fs::write(d.join("main_detection.parquet"), b"").unwrap()
    });
    let truncated = s("truncated", &|d| {
        let p = d.join("main_occurrence.parquet");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap()
    });
    let garbage = s("garbage", &|d| {
        std::fs::write(
            d.join("main_taxon.parquet"),
            b"this is not parquet at all, not even close",
        )
        .unwrap()
    });
    let dir_named = s("dir_named_parquet", &|d| {
        std::fs::remove_file(d.join("main_project.parquet")).unwrap();
        std::fs::create_dir(d.join("main_project.parquet")).unwrap();
    });
    let both = s("file_and_folder", &|d| {
        std::fs::create_dir(d.join("main_event")).unwrap();
        std::fs::copy(
            d.join("main_event.parquet"),
            d.join("main_event/part-00000.parquet"),
        )
        .unwrap();
    });
    // Its footer and page indexes intact (the snapshot opens), the first pages zeroed.
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/antenna-oracle/snapshot");
    let pages_damaged = variant(work, &fixture, "pages_damaged", |d: &Path| {
        let p = d.join("main_sourceimage.parquet");
        let mut bytes = std::fs::read(&p).unwrap();
        let n = bytes.len();
        let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
        let pages = n - 8 - footer;
        // A page header of zeros ends before its required fields.
        bytes[4..4 + pages / 3].fill(0);
        std::fs::write(&p, &bytes).unwrap()
    });
    cases.push(case(
        "snapshot: a table's pages damaged, its footer intact (sql)",
        &[
            "--snapshot",
            pages_damaged.as_str(),
            "--cache",
            "off",
            "sql",
            "SELECT * FROM main_sourceimage",
        ],
        Some(1),
        "occlens check",
    ));
    // `occlens check` names the file (its row rules, which would fail on the page, not run).
    cases.push(
        case(
            "snapshot: a table's pages damaged, its footer intact (check)",
            &["--snapshot", pages_damaged.as_str(), "check"],
            Some(1),
            "main_sourceimage.parquet",
        )
        .report(),
    );
    // Instants stored as milliseconds that overflow microseconds (nanoseconds labelled
    // milliseconds): every query failed with a cast error naming no table or column, and
    // `check` said every rule held.
    let instants = s("instants_overflow", &|d| {
        use datafusion::arrow::array::{ArrayRef, TimestampMillisecondArray};
        common::replace_column(
            d,
            "main_detection",
            "timestamp",
            |c: &ArrayRef| -> ArrayRef {
                let huge = (0..c.len()).map(|i| Some(1_000_000_000_000_000_000 + i as i64));
                std::sync::Arc::new(TimestampMillisecondArray::from_iter(huge).with_timezone("UTC"))
            },
        )
    });
    cases.push(case(
        "snapshot: instants that overflow microseconds (api)",
        &[
            "--snapshot",
            instants.as_str(),
            "--cache",
            "off",
            "api",
            "/api/v2/occurrences/?project_id=1",
        ],
        Some(1),
        "`occlens check` names it",
    ));
    cases.push(
        case(
            "snapshot: instants that overflow microseconds (check)",
            &["--snapshot", instants.as_str(), "check"],
            Some(1),
            "main_detection.timestamp",
        )
        .report(),
    );
    // An int4 column stored as int8 with a value the contract's type cannot hold: every query
    // that read it failed (naming it), and `check` said every rule held.
    let int4_overflow = s("int4_overflow", &|d| {
        use datafusion::arrow::array::{ArrayRef, Int64Array};
        common::replace_column(d, "main_sourceimage", "width", |c: &ArrayRef| -> ArrayRef {
            let widths = (0..c.len()).map(|i| Some(if i == 0 { 5_000_000_000 } else { 640 }));
            std::sync::Arc::new(Int64Array::from_iter(widths))
        })
    });
    cases.push(
        case(
            "snapshot: an int4 column stored as int8 holding 2^32 (check)",
            &["--snapshot", int4_overflow.as_str(), "check"],
            Some(1),
            "main_sourceimage.width holds 5000000000",
        )
        .report(),
    );
    // An instant past the year 9999, where Antenna's Python datetimes end (occlens's text of
    // one past ±262,142 years was chrono's last time): `check` said every rule held.
    let far_instant = s("far_instant", &|d| {
        use datafusion::arrow::array::{ArrayRef, TimestampMicrosecondArray};
        common::replace_column(
            d,
            "main_detection",
            "timestamp",
            |c: &ArrayRef| -> ArrayRef {
                let far = 9_000_000_000_000_000_000;
                let us =
                    (0..c.len()).map(|i| Some(if i == 0 { far } else { 1_686_445_200_000_000 }));
                std::sync::Arc::new(TimestampMicrosecondArray::from_iter(us).with_timezone("UTC"))
            },
        )
    });
    cases.push(
        case(
            "snapshot: an instant past the year 9999 (check)",
            &["--snapshot", far_instant.as_str(), "check"],
            Some(1),
            "9000000000000000000",
        )
        .report(),
    );
    // A table's parts storing a column as different types (int8, and unsigned holding 2^63):
    // read as int8, cast part by part, every query reading the column failed, and `check`
    // stopped at its first row rule with an error naming no column.
    let mixed_parts = s("mixed_part_types", &|d| {
        use datafusion::arrow::array::{ArrayRef, UInt64Array};
        let parts = d.join("main_detection");
        std::fs::create_dir(&parts).unwrap();
        let whole = d.join("main_detection.parquet");
        std::fs::copy(&whole, parts.join("part-00000.parquet")).unwrap();
        common::replace_column(d, "main_detection", "occurrence_id", |c: &ArrayRef| {
            let far = (0..c.len()).map(|_| 1u64 << 63);
            std::sync::Arc::new(UInt64Array::from_iter_values(far)) as ArrayRef
        });
        std::fs::rename(&whole, parts.join("part-00001.parquet")).unwrap();
    });
    cases.push(
        case(
            "snapshot: a table's parts storing an id column as int8 and as uint64 holding 2^63 (check)",
            &["--snapshot", mixed_parts.as_str(), "check"],
            Some(1),
            "9223372036854775808 to type Int64",
        )
        .report(),
    );
    let optional_corrupt = s("optional_corrupt", &|d| {
        std::fs::write(d.join("main_taxalist.parquet"), b"PAR1 garbage PAR1").unwrap()
    });
    let optional_zero = s("optional_zero", &|d| {
        std::fs::write(
            d.join("main_project_default_filters_include_taxa.parquet"),
            b"",
        )
        .unwrap()
    });
    let dangling = s("dangling_symlink", &|d| {
        let _ = std::fs::remove_file(d.join("main_project_default_filters_exclude_taxa.parquet"));
        std::os::unix::fs::symlink(
            d.join("nowhere.parquet"),
            d.join("main_project_default_filters_exclude_taxa.parquet"),
        )
        .unwrap()
    });
    let dangling_required = s("dangling_required", &|d| {
        std::fs::remove_file(d.join("main_taxon.parquet")).unwrap();
        std::os::unix::fs::symlink(d.join("nowhere.parquet"), d.join("main_taxon.parquet")).unwrap()
    });
    // Strings stored as bytes (no UTF-8 annotation) with one value that is not UTF-8: the
    // Parquet reader, asked for text, panicked.
    let not_utf8 = s("not_utf8", &|d| {
        use datafusion::arrow::array::{ArrayRef, AsArray, BinaryArray};
        common::replace_column(d, "main_taxon", "name", |c: &ArrayRef| -> ArrayRef {
            let names = c.as_string::<i32>();
            let bytes = names
                .iter()
                .map(|n| n.map(|n| [b"\xff", n.as_bytes()].concat()));
            std::sync::Arc::new(BinaryArray::from_iter(bytes))
        })
    });
    // A part file that lacks a column: its rows read NULL there, silently.
    let part_lacks = s("part_lacks_column", &|d| {
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file = std::fs::File::open(d.join("main_occurrence.parquet")).unwrap();
        let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(Result::unwrap)
            .collect();
        std::fs::remove_file(d.join("main_occurrence.parquet")).unwrap();
        std::fs::create_dir(d.join("main_occurrence")).unwrap();
        let write = occlens::generate::builder::write_parquet;
        write(&d.join("main_occurrence/part-0.parquet"), &batches).unwrap();
        let lacking: Vec<_> = batches
            .iter()
            .map(|b| {
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| b.schema().field(i).name() != "determination_score")
                    .collect();
                b.project(&keep).unwrap()
            })
            .collect();
        write(&d.join("main_occurrence/part-1.parquet"), &lacking).unwrap();
    });
    // A file without the .parquet extension among part files (Hive's `000000_0`): it was
    // skipped, silently. Hidden ones (`_SUCCESS`, `.crc`) are skipped by convention.
    let not_parquet = s("part_not_parquet", &|d| {
        std::fs::create_dir(d.join("main_event")).unwrap();
        std::fs::rename(
            d.join("main_event.parquet"),
            d.join("main_event/part-00000.parquet"),
        )
        .unwrap();
        std::fs::write(d.join("main_event/_SUCCESS"), b"").unwrap();
        std::fs::write(d.join("main_event/000001_0"), b"PAR1").unwrap();
    });
    // A part file that is a symbolic link to nothing (an unmounted disk): the listing skipped
    // it and the table was read without its rows, silently.
    let dangling_part = s("part_dangling_symlink", &|d| {
        std::fs::create_dir(d.join("main_classification")).unwrap();
        std::fs::rename(
            d.join("main_classification.parquet"),
            d.join("main_classification/part-0.parquet"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            d.join("unmounted/part-1.parquet"),
            d.join("main_classification/part-1.parquet"),
        )
        .unwrap();
    });
    // Part files at the top of a table's folder and in a subfolder: the top-level ones alone
    // were read, silently.
    let mixed_parts = s("parts_top_and_subfolder", &|d| {
        let folder = d.join("main_detection");
        std::fs::create_dir_all(folder.join("sub")).unwrap();
        std::fs::copy(
            d.join("main_detection.parquet"),
            folder.join("sub/part-1.parquet"),
        )
        .unwrap();
        std::fs::rename(
            d.join("main_detection.parquet"),
            folder.join("part-0.parquet"),
        )
        .unwrap();
    });
    // A table's file and a folder of its name holding files that are not parts (a Hive
    // folder `000000_0`, parts only in subfolders): the file was read, the folder ignored,
    // silently (session 62).
    let file_and_folder = s("file_and_non_part_folder", &|d| {
        let folder = d.join("main_detection/dt=2024");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(
            d.join("main_detection.parquet"),
            folder.join("part-0.parquet"),
        )
        .unwrap();
    });
    // An optional table stored as CSV (or another extension, or case): registered empty as if
    // absent, changing counts silently.
    let optional_csv = s("optional_as_csv", &|d| {
        let name = "main_project_default_filters_exclude_taxa";
        let _ = std::fs::remove_file(d.join(format!("{name}.parquet")));
        std::fs::write(d.join(format!("{name}.csv")), b"id,project_id,taxon_id\n").unwrap();
    });
    // An optional table saved as a downloaded copy or as a part: read as absent before.
    let [optional_copy, optional_part] = [("optional_as_copy", " (1)"), ("optional_as_part", "-0")]
        .map(|(variant, suffix)| {
            s(variant, &|d| {
                let name = "main_project_default_filters_exclude_taxa";
                let to = d.join(format!("{name}{suffix}.parquet"));
                std::fs::rename(d.join(format!("{name}.parquet")), to).unwrap();
            })
        });
    // A FIFO named like a table: reading it blocked forever.
    let fifo = s("fifo_table", &|d| {
        std::fs::remove_file(d.join("main_taxalist.parquet")).unwrap();
        let made = Command::new("mkfifo")
            .arg(d.join("main_taxalist.parquet"))
            .status()
            .unwrap();
        assert!(made.success());
    });
    let bad_manifest = s("bad_manifest", &|d| {
        std::fs::write(d.join("_snapshot.json"), b"{not json").unwrap()
    });
    // A listed path a URL join reads otherwise (`#…` a fragment): it was reported as "a
    // symbolic link to nothing", the file the join found being there.
    let manifest_fragment = s("manifest_fragment", &|d| {
        let manifest = serde_json::json!({"format": "occlens-snapshot/1", "tables": [
            {"name": "main_occurrence", "files": [{"path": "main_occurrence.parquet#x", "bytes": 1}]}
        ]});
        std::fs::write(d.join("_snapshot.json"), manifest.to_string()).unwrap()
    });
    // Manifests that list a file twice (its rows read twice, silently), name an absolute path
    // (read as a path inside the snapshot, reported missing there), or come from another
    // format (session 60).
    let manifest_with = |name: &str, format: &str, files: serde_json::Value| {
        s(name, &|d| {
            let manifest = serde_json::json!({"format": format, "tables": files});
            std::fs::write(d.join("_snapshot.json"), manifest.to_string()).unwrap()
        })
    };
    let occ = |path: &str| serde_json::json!({"path": path, "bytes": 1});
    let listed_twice = manifest_with(
        "manifest_twice",
        "occlens-snapshot/1",
        serde_json::json!([{"name": "main_occurrence", "files": [occ("main_occurrence.parquet"), occ("main_occurrence.parquet")]}]),
    );
    let listed_by_two = manifest_with(
        "manifest_two_tables",
        "occlens-snapshot/1",
        serde_json::json!([{"name": "main_occurrence", "files": [occ("main_occurrence.parquet")]},
                           {"name": "main_detection", "files": [occ("main_occurrence.parquet")]}]),
    );
    let absolute = manifest_with(
        "manifest_absolute",
        "occlens-snapshot/1",
        serde_json::json!([{"name": "main_occurrence", "files": [occ("/etc/main_occurrence.parquet")]}]),
    );
    let newer = manifest_with(
        "manifest_newer",
        "occlens-snapshot/2",
        serde_json::json!([]),
    );
    let foreign = manifest_with("manifest_foreign", "delta", serde_json::json!([]));
    let file_snapshot = work.join("a_file");
    std::fs::write(&file_snapshot, b"x").unwrap();
    let empty = work.join("empty_snapshot");
    std::fs::create_dir_all(&empty).unwrap();
    let nowhere = work.join("does/not/exist");
    let list = "/api/v2/occurrences/?project_id=1";
    for (name, snap, names) in [
        (
            "snapshot: missing directory",
            nowhere.to_str().unwrap(),
            "no such directory",
        ),
        (
            "snapshot: a file",
            file_snapshot.to_str().unwrap(),
            "not a directory",
        ),
        (
            "snapshot: empty directory",
            empty.to_str().unwrap(),
            "is missing",
        ),
        (
            "snapshot: missing required table",
            missing.as_str(),
            "main_detection",
        ),
        ("snapshot: zero-byte table", zero.as_str(), "main_detection"),
        (
            "snapshot: truncated table",
            truncated.as_str(),
            "main_occurrence",
        ),
        ("snapshot: garbage table", garbage.as_str(), "main_taxon"),
        (
            "snapshot: directory named .parquet",
            dir_named.as_str(),
            "main_project",
        ),
        ("snapshot: file and folder", both.as_str(), "main_event"),
        (
            "snapshot: optional table corrupt",
            optional_corrupt.as_str(),
            "main_taxalist",
        ),
        (
            "snapshot: optional table zero bytes",
            optional_zero.as_str(),
            "main_project_default_filters_include_taxa",
        ),
        (
            "snapshot: a part file lacks a column",
            part_lacks.as_str(),
            "column determination_score is in main_occurrence/part-0.parquet but not in main_occurrence/part-1.parquet",
        ),
        (
            "snapshot: a file among part files that is not .parquet",
            not_parquet.as_str(),
            "holds 000001_0, which is not a .parquet file",
        ),
        (
            "snapshot: a part file is a dangling symbolic link",
            dangling_part.as_str(),
            "main_classification/part-1.parquet is a symbolic link to nothing",
        ),
        (
            "snapshot: part files at the top of a folder and in a subfolder",
            mixed_parts.as_str(),
            "both directly inside it and in subfolders (e.g. main_detection/sub/part-1.parquet)",
        ),
        (
            "snapshot: a table's file beside a folder of its name holding no parts",
            file_and_folder.as_str(),
            "both main_detection.parquet and a folder main_detection/ with files in it exist",
        ),
        (
            "snapshot: an optional table stored as CSV",
            optional_csv.as_str(),
            "found main_project_default_filters_exclude_taxa.csv",
        ),
        (
            "snapshot: an optional table saved as a downloaded copy",
            optional_copy.as_str(),
            "found main_project_default_filters_exclude_taxa (1).parquet",
        ),
        (
            "snapshot: an optional table saved as a part",
            optional_part.as_str(),
            "found main_project_default_filters_exclude_taxa-0.parquet",
        ),
        (
            "snapshot: a FIFO named like a table",
            fifo.as_str(),
            "main_taxalist.parquet is not a regular file",
        ),
        (
            "snapshot: a manifest's path with a URL fragment",
            manifest_fragment.as_str(),
            "main_occurrence.parquet#x, listed in _snapshot.json, does not exist",
        ),
        (
            "snapshot: manifest not JSON",
            bad_manifest.as_str(),
            "_snapshot.json",
        ),
        (
            "snapshot: a manifest listing a file twice",
            listed_twice.as_str(),
            "lists \"main_occurrence.parquet\" twice by table main_occurrence",
        ),
        (
            "snapshot: a manifest listing a file for two tables",
            listed_by_two.as_str(),
            "by tables main_occurrence and main_detection",
        ),
        (
            "snapshot: a manifest with an absolute path",
            absolute.as_str(),
            "is an absolute path",
        ),
        (
            "snapshot: a manifest of a newer format",
            newer.as_str(),
            "format \"occlens-snapshot/2\"",
        ),
        (
            "snapshot: a manifest of another tool",
            foreign.as_str(),
            "not an occlens snapshot manifest",
        ),
        (
            "snapshot: optional table a dangling symlink",
            dangling.as_str(),
            "main_project_default_filters_exclude_taxa",
        ),
        (
            "snapshot: required table a dangling symlink",
            dangling_required.as_str(),
            "cannot be read",
        ),
        ("snapshot: unsupported scheme", "ftp://host/snap", "ftp"),
        ("snapshot: s3 without bucket", "s3:///snap", "bucket"),
        (
            "snapshot: unreachable http",
            "http://127.0.0.1:1/snap",
            "127.0.0.1",
        ),
    ] {
        for (cmd, extra) in [
            ("tables", None),
            ("api", Some(list)),
            ("sql", Some("SELECT 1")),
        ] {
            let mut args = vec!["--snapshot", snap, "--cache", "off", cmd];
            args.extend(extra);
            cases.push(case(&format!("{name} ({cmd})"), &args, Some(1), names));
        }
    }
    // A cache directory inside the snapshot: occlens never writes there.
    let inside = good.join("cache-inside");
    cases.push(
        case(
            "cache build: --cache-dir inside the snapshot",
            &[
                "--snapshot",
                g,
                "--cache-dir",
                inside.to_str().unwrap(),
                "cache",
                "build",
            ],
            Some(1),
            "is inside the snapshot being read",
        )
        .absent(&inside),
    );
    // An id on two rows of a dimension table: the joins doubled rows, silently.
    let dup_taxon = s("duplicate_taxon_id", &|d| {
        let path = d.join("main_taxon.parquet");
        let batches = common::read_batches(&path);
        let twice: Vec<_> = batches.iter().chain(&batches).cloned().collect();
        occlens::generate::builder::write_parquet(&path, &twice).unwrap();
    });
    // A file storing a column twice: the first was read, silently.
    let dup_column = s("column_stored_twice", &|d| {
        let path = d.join("main_taxon.parquet");
        let batches = common::read_batches(&path);
        let twice: Vec<_> = batches
            .iter()
            .map(|b| common::column_twice(b, "name"))
            .collect();
        occlens::generate::builder::write_parquet(&path, &twice).unwrap();
    });
    cases.push(case(
        "snapshot: a column stored twice in a file",
        &["--snapshot", &dup_column, "--cache", "off", "api", list],
        Some(1),
        "main_taxon.parquet: column name is stored twice",
    ));
    cases.push(case(
        "snapshot: an id on two rows of main_taxon",
        &["--snapshot", &dup_taxon, "--cache", "off", "api", list],
        Some(1),
        "main_taxon: id 1 is on more than one row",
    ));
    // An --api-base that is not a URL, or with a query (a secret in it went into every
    // hyperlink): accepted, and written into answers.
    for (base, names) in [
        ("not a url", "--api-base not a url"),
        (
            "http://h.example/api?x=S3cretTok",
            "--api-base http://h.example/api: a query",
        ),
        ("ftp://h.example", "not an http(s) URL"),
    ] {
        cases.push(case(
            &format!("--api-base {base}"),
            &[
                "--snapshot",
                g,
                "--cache",
                "off",
                "--api-base",
                base,
                "api",
                list,
            ],
            None,
            names,
        ));
    }
    // A --media-url with a query (a token in it was copied into every media URL of bodies
    // and exports), not a URL, or without its final slash (every URL broken): accepted.
    for (base, names) in [
        (
            "https://cdn.example/media/?token=S3cretTok",
            "--media-url https://cdn.example/media/: a query",
        ),
        ("not a url at all", "--media-url not a url at all"),
        ("https://cdn.example/media", "end with /"),
        ("ftp://cdn.example/media/", "neither a path"),
    ] {
        cases.push(case(
            &format!("--media-url {base}"),
            &[
                "--snapshot",
                g,
                "--cache",
                "off",
                "--media-url",
                base,
                "api",
                list,
            ],
            None,
            names,
        ));
    }
    // Two statements as sql's QUERY: DataFusion's message did not say to use -c or -f.
    cases.push(case(
        "sql: two statements as QUERY",
        &[
            "--snapshot",
            g,
            "--cache",
            "off",
            "sql",
            "SELECT 1; SELECT 2",
        ],
        None,
        "QUERY holds 2 statements",
    ));
    // A --token that cannot go in a header: every request failed with the client's message.
    cases.push(case(
        "verify: a --token with a newline",
        &[
            "--snapshot",
            g,
            "--cache",
            "off",
            "verify",
            "--api-url",
            "http://127.0.0.1:1",
            "--token",
            "S3cretTok\nx",
            "--project",
            "1",
        ],
        None,
        "--token: not usable in an Authorization header",
    ));
    // A manifest whose web server announces 100 GB: its body was allocated whole (an abort).
    let liar = liar_server();
    cases.push(case(
        "snapshot: a manifest announced at 100 GB",
        &["--snapshot", &liar, "--cache", "off", "tables"],
        Some(1),
        "_snapshot.json is 100000000000 bytes",
    ));
    // Values are checked when read: a request that reads them fails.
    cases.push(case(
        "snapshot: bytes that are not UTF-8 in a string column",
        &["--snapshot", &not_utf8, "--cache", "off", "api", list],
        Some(1),
        "main_taxon.name holds bytes that are not UTF-8",
    ));
    // main_occurrence's key broken (an occurrence twice, an id NULL): every answer computed
    // from the tables refuses the snapshot, with the cache or without it, instead of pages
    // and exports that repeat rows or lose them (session 55: --cache off answered).
    for (name, id, names) in [
        (
            "occurrence_id_repeated",
            1,
            "1 rows repeat an id of another row",
        ),
        ("occurrence_id_null", 999, "1 rows have a NULL id"),
    ] {
        let dir = work.join(name);
        let mut t = Tiny::new();
        t.simple(1, 4, 0.9);
        t.simple(2, 3, 0.8);
        t.b.add(
            "main_occurrence",
            serde_json::json!({"id": id, "project_id": 1, "deployment_id": 1, "event_id": 1}),
        );
        t.b.write(&dir).unwrap();
        if id == 999 {
            null_in(&dir.join("main_occurrence.parquet"), "id", 999);
        }
        let d = dir.to_str().unwrap().to_string();
        let out = work.join(format!("{name}.csv"));
        let o = out.to_str().unwrap().to_string();
        for (how, cache) in [("without the cache", "off"), ("building the cache", "auto")] {
            // verify fails on the snapshot before it fetches anything (here, from a port
            // where nothing listens), with its code for an error.
            let runs: [(&str, Vec<&str>); 5] = [
                ("api", vec!["api", list]),
                ("list", vec!["list", "--project", "1"]),
                ("detail", vec!["detail", "2"]),
                (
                    "export",
                    vec!["export", "--format", "csv", "--project", "1", "--out", &o],
                ),
                (
                    "verify",
                    vec![
                        "verify",
                        "--api-url",
                        "http://127.0.0.1:9",
                        "--project",
                        "1",
                    ],
                ),
            ];
            for (what, args) in runs {
                let mut all = vec!["--snapshot", d.as_str(), "--cache", cache];
                all.extend(args);
                let c = case(
                    &format!("snapshot: {name} ({what}, {how})"),
                    &all,
                    Some(if what == "verify" { 2 } else { 1 }),
                    names,
                );
                cases.push(if what == "export" { c.absent(&out) } else { c });
            }
        }
    }
    // A NULL in a NOT NULL column the views read: every answer computed from the tables
    // refuses the snapshot (naming the table and column) instead of answering without a
    // word (session 59: a NULL default_filters_score_threshold emptied every list of its
    // project, a NULL taxon name changed the counts; `check` alone reported them).
    // A taxon's parents_json that is JSON but not a list of parents: the taxa list read it as
    // no parents (exit 0) where its detail failed, and `check` passed (session 59).
    for (name, parents) in [
        ("parents_object", serde_json::json!({"id": 1})),
        ("parents_numbers", serde_json::json!([1, 2, 3])),
        (
            "parents_text_id",
            serde_json::json!([{"id": "abc", "name": "x"}]),
        ),
    ] {
        let dir = work.join(name);
        let mut t = Tiny::new();
        t.simple(1, 4, 0.9);
        t.b.add(
            "main_taxon",
            serde_json::json!({"id": 8, "name": "Odd", "rank": "SPECIES", "parents_json": parents}),
        );
        t.b.write(&dir).unwrap();
        let d = dir.to_str().unwrap().to_string();
        for (what, url) in [
            ("taxa", "/api/v2/taxa/?project_id=1"),
            ("occurrences", list),
        ] {
            cases.push(case(
                &format!("snapshot: {name} ({what})"),
                &["--snapshot", &d, "--cache", "off", "api", url],
                Some(1),
                "main_taxon: parents_json of 1 rows is not a list of parents",
            ));
        }
    }
    // Also in a column occlens reads through a conversion (a timestamp without a zone, read
    // from `main_occurrence__stored`).
    for (table, column, row, names) in [
        (
            "main_project",
            "default_filters_score_threshold",
            1,
            "main_project: NULL in default_filters_score_threshold (1 rows)",
        ),
        ("main_taxon", "name", 4, "main_taxon: NULL in name (1 rows)"),
        (
            "main_classification",
            "terminal",
            1,
            "main_classification: NULL in terminal (1 rows)",
        ),
        (
            "main_occurrence",
            "created_at",
            2,
            "main_occurrence: NULL in created_at (1 rows)",
        ),
    ] {
        let name = format!("{table}_{column}_null");
        let dir = work.join(&name);
        let mut t = Tiny::new();
        let d1 = t.simple(1, 4, 0.9);
        t.cls(d1, Some(3), Some(4), Some(0.9), true);
        t.simple(2, 3, 0.8);
        t.b.write(&dir).unwrap();
        null_in(&dir.join(format!("{table}.parquet")), column, row);
        let d = dir.to_str().unwrap().to_string();
        let out = work.join(format!("{name}.zip"));
        let o = out.to_str().unwrap().to_string();
        for (how, cache) in [("without the cache", "off"), ("building the cache", "auto")] {
            for (what, args) in [
                ("api", vec!["api", list]),
                (
                    "export",
                    vec!["export", "--format", "dwca", "--project", "1", "--out", &o],
                ),
            ] {
                let mut all = vec!["--snapshot", d.as_str(), "--cache", cache];
                all.extend(args);
                let c = case(
                    &format!("snapshot: {name} ({what}, {how})"),
                    &all,
                    Some(1),
                    names,
                );
                cases.push(if what == "export" { c.absent(&out) } else { c });
            }
        }
    }
    let _ = g;
}

/// Make `column` NULL in the row of `path` whose id is `which` (the column made nullable, as
/// a tool that does not know the contract's NOT NULL writes it; a timestamp column also loses
/// its zone).
fn null_in(path: &Path, column: &str, which: i64) {
    use datafusion::arrow::array::{BooleanArray, Int64Array};
    use datafusion::arrow::compute::{cast, nullif};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let at = schema.index_of(column).unwrap();
    let id = schema.index_of("id").unwrap();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.name() == column {
            true => match f.data_type() {
                DataType::Timestamp(unit, Some(_)) => f
                    .as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(*unit, None))
                    .with_nullable(true),
                _ => f.as_ref().clone().with_nullable(true),
            },
            false => f.as_ref().clone(),
        })
        .collect();
    let nullable = Arc::new(Schema::new(fields));
    let out = std::fs::File::create(path).unwrap();
    let mut w =
        datafusion::parquet::arrow::ArrowWriter::try_new(out, nullable.clone(), None).unwrap();
    for b in batches {
        let ids = b.column(id).as_any().downcast_ref::<Int64Array>().unwrap();
        let mask: BooleanArray = ids.iter().map(|v| Some(v == Some(which))).collect();
        let mut columns = b.columns().to_vec();
        columns[at] = nullif(b.column(at), &mask).unwrap();
        if let DataType::Timestamp(unit, Some(_)) = columns[at].data_type().clone() {
            // Without its zone, as a naive `timestamp` column (read through a conversion).
            columns[at] = cast(&columns[at], &DataType::Timestamp(unit, None)).unwrap();
        }
        w.write(&RecordBatch::try_new(nullable.clone(), columns).unwrap())
            .unwrap();
    }
    w.close().unwrap();
}

fn requests(good: &str, cases: &mut Vec<Case>) {
    let bad = [
        ("project_id=abc", "project_id"),
        ("project_id=", "project_id"),
        ("project_id=1.5", "project_id"),
        ("project_id=%20", "project_id"),
        ("project_id=1&event=5.0", "event"),
        (
            "project_id=1&detections__source_image=99999999999999999999999",
            "detections__source_image",
        ),
        ("project_id=1&taxon=abc", "taxon"),
        ("project_id=1&deployment=x", "deployment"),
        ("project_id=1&event=1e3", "event"),
        ("project_id=1&date_start=2023-13-45", "date_start"),
        ("project_id=1&date_end=yesterday", "date_end"),
        // Years Python's dates cannot hold were read by chrono (session 59: 200, count 453).
        ("project_id=1&date_start=-0001-01-01", "date_start"),
        ("project_id=1&date_end=%2B10000-01-01", "date_end"),
        ("project_id=1&algorithm=abc", "algorithm"),
        ("project_id=1&not_algorithm=abc", "not_algorithm"),
        ("project_id=1&collection=abc", "collection"),
        (
            "project_id=1&detections__source_image=abc",
            "detections__source_image",
        ),
        ("project_id=1&taxa_list_id=abc", "taxa_list_id"),
        ("project_id=1&not_taxa_list_id=abc", "not_taxa_list_id"),
        ("project_id=1&taxon=999999", "taxon"),
        ("project_id=1&deployment=999999", "deployment"),
        ("project_id=1&event=999999", "event"),
    ];
    for (q, names) in bad {
        let url = format!("/api/v2/occurrences/?{q}");
        cases.push(
            case(
                &format!("request: {q}"),
                &["--snapshot", good, "api", &url],
                Some(4),
                names,
            )
            .body(),
        );
    }
    // Values Antenna ignores (its defaults apply): answered 200, as Antenna does.
    for q in [
        "project_id=1&limit=abc",
        "project_id=1&limit=-1",
        "project_id=1&offset=99999999999999999999",
        // A limit beyond bigint past the rows: no page query, links with its digits.
        "project_id=1&limit=99999999999999999999&offset=99999999",
        "project_id=1&offset=abc",
        "project_id=1&offset=-5",
        "project_id=1&ordering=bogus",
        "project_id=1&ordering=",
        "project_id=1&classification_threshold=abc",
        "project_id=1&taxa_list_id=999999",
        "project_id=1&unknown_parameter=1",
        "project_id=1&%ff=%fe",
        // DRF's IntegerField drops a trailing `.0` and Python's whitespace (U+001F too).
        "project_id=1.0%1F",
    ] {
        let url = format!("/api/v2/occurrences/?{q}");
        cases.push(
            case(
                &format!("request (ignored): {q}"),
                &["--snapshot", good, "api", &url],
                Some(0),
                "\"count\"",
            )
            .body(),
        );
    }
    // A limit beyond bigint on a page with rows: Antenna's page query fails in PostgreSQL
    // ("bigint out of range"), on every list.
    for path in [
        "/api/v2/occurrences/?project_id=1&limit=99999999999999999999",
        "/api/v2/taxa/?project_id=1&limit=1_00000000000000000000",
        "/api/v2/deployments/?project_id=1&limit=99999999999999999999&offset=1",
    ] {
        cases.push(
            case(
                &format!("request (bigint limit): {path}"),
                &["--snapshot", good, "api", path],
                Some(5),
                "bigint out of range",
            )
            .body(),
        );
    }
    for (path, names) in [
        ("/api/v2/occurrences/?project_id=999999", "not found"),
        // Django reads the last of a repeated parameter.
        (
            "/api/v2/occurrences/?project_id=1&project_id=999999",
            "not found",
        ),
        ("/api/v2/occurrences/abc/?project_id=1", "not found"),
        ("/api/v2/occurrences/999999/?project_id=1", "not found"),
        ("/api/v2/nothing/", "not found"),
        ("/api/v2/occurrences/99999999999999999999999/", "not found"),
        // An integer beyond 64 bits names no project (Antenna's 404), not a 400.
        (
            "/api/v2/occurrences/?project_id=99999999999999999999999",
            "not found",
        ),
        ("/api/v2/occurrences/algorithms/?project_id=0", "project_id"),
        // The other endpoints: DRF's and django-filter's errors.
        ("/api/v2/status/summary/", "project_id"),
        ("/api/v2/status/summary/?project_id=abc", "project_id"),
        (
            "/api/v2/status/summary/?project_id=-1",
            "greater than or equal to 0",
        ),
        ("/api/v2/status/summary/?project_id=0", "not found"),
        ("/api/v2/taxa/lists/", "project_id"),
        ("/api/v2/taxa/?project_id=1&rank=species", "rank"),
        ("/api/v2/taxa/?project_id=1&event=999999", "does not exist"),
        ("/api/v2/taxa/99999999999999999999999/", "not found"),
        (
            "/api/v2/occurrences/stats/top-identifiers/?project_id=1&limit=0",
            "limit",
        ),
        (
            "/api/v2/occurrences/stats/model-agreement/?project_id=1&agreement_coarsest_rank=x",
            "agreement_coarsest_rank",
        ),
        ("/api/v2/projects/abc/", "not found"),
        ("/api/v2/events/?deployment=999999", "deployment"),
        ("/api/v2/captures/?project_id=1&format=xml", "not found"),
        ("/api/v2/occurrences/?project_id=1&format=csv", "not found"),
        ("/api/v2/captures//?project_id=1", "not found"),
        ("/api/v2/occurrences//?project_id=1", "not found"),
        ("/api/v2/occurrences5/?project_id=1", "not found"),
        ("/api/v2/captures/", "project_id"),
        ("/api/v2/captures/1/", "project_id"),
        ("/api/v2/captures/?project_id=999999", "not found"),
        ("/api/v2/captures/?project_id=1&event=abc", "event"),
        ("/api/v2/captures/?project_id=1&collections=", "collections"),
        (
            "/api/v2/captures/?project_id=1&collections=%00",
            "collections",
        ),
        (
            "/api/v2/captures/?project_id=1&deployment__project=99999999999999999999",
            "deployment__project",
        ),
        (
            "/api/v2/captures/99999999999999999999999/?project_id=1",
            "not found",
        ),
    ] {
        cases.push(
            case(
                &format!("request: {path}"),
                &["--snapshot", good, "api", path],
                Some(4),
                names,
            )
            .body(),
        );
    }
    // Antenna's 500s answer as Antenna answers them (exit 5: a server error).
    cases.push(
        case(
            "request: captures ordered by an annotation Antenna did not add",
            &[
                "--snapshot",
                good,
                "api",
                "/api/v2/captures/?project_id=1&ordering=taxa_count",
            ],
            Some(5),
            "FieldError",
        )
        .body(),
    );
    // Request text that looks like a fragment placeholder stays text (it once reached SQL
    // binding and panicked): answered as Antenna answers it.
    for path in [
        "/api/v2/taxa/?search=%24%7Bvalue%7D",
        "/api/v2/taxa/?project_id=1&name=%24%7Bproject%7D",
        "/api/v2/taxa/suggest/?q=%24%7Bq%7Dx",
        "/api/v2/captures/?project_id=1&ordering=%24%7Border%7D&processed=%24%7Bnot%7D",
    ] {
        cases.push(
            case(
                &format!("request (placeholder text): {path}"),
                &["--snapshot", good, "api", path],
                Some(0),
                "",
            )
            .body(),
        );
    }
    for (who, names) in [
        ("bogus", "--as"),
        ("user:abc", "--as"),
        ("superuser:x", "--as"),
    ] {
        cases.push(case(
            &format!("requester {who}"),
            &["--snapshot", good, "--as", who, "list", "--project", "1"],
            Some(2),
            names,
        ));
    }
    cases.push(
        case(
            "batch: a line over the limit",
            &[
                "--snapshot",
                good,
                "api",
                "--batch",
                "-",
                "--max-line-bytes",
                "1000",
            ],
            None,
            "line 1",
        )
        .stdin(&vec![b'a'; 5000]),
    );
    // A url that is not a string was "missing".
    cases.push(
        case(
            "batch: url not a string",
            &["--snapshot", good, "api", "--batch", "-"],
            None,
            "line 1: \"url\" is a number, expected a string",
        )
        .stdin(br#"{"url": 5}"#),
    );
    cases.push(
        case(
            "batch: as_user not a string",
            &["--snapshot", good, "api", "--batch", "-"],
            None,
            "as_user",
        )
        .stdin(br#"{"url": "/api/v2/occurrences/?project_id=1", "as_user": 5}"#),
    );
    // A requester the snapshot's users_user does not hold was answered as a user without
    // memberships, exit 0 (session 60).
    let list = "/api/v2/occurrences/?project_id=1";
    for (command, who) in [("api", "user:999"), ("list", "superuser:999")] {
        let mut args = vec!["--snapshot", good, "--as", who, command];
        match command {
            "api" => args.push(list),
            _ => args.extend(["--project", "1"]),
        }
        cases.push(case(
            &format!("requester: {command} --as {who}"),
            &args,
            Some(1),
            "holds no user 999",
        ));
    }
    cases.push(
        case(
            "batch: as_user of no user",
            &["--snapshot", good, "api", "--batch", "-"],
            Some(1),
            "line 1: as_user user:999",
        )
        .stdin(br#"{"url": "/api/v2/occurrences/?project_id=1", "as_user": "user:999"}"#),
    );
}

fn sql(good: &str, work: &Path, cases: &mut Vec<Case>) {
    let target = work.join("copied.csv");
    let t = target.to_str().unwrap();
    let copy = format!("COPY (SELECT 1 AS a) TO '{t}'");
    // A chain of a million terms aborted the process (the planner's stack): refused.
    // (The bound, 4,000 operators: a chain of 20,000 planned for minutes.)
    let chain = format!("SELECT {}", vec!["1"; 4_002].join("+"));
    let external = format!("CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '{t}'");
    for (name, q, names) in [
        (
            "sql: COPY without --allow-write",
            copy.as_str(),
            "--allow-write",
        ),
        (
            "sql: INSERT",
            "INSERT INTO main_occurrence (id) VALUES (1)",
            "--allow-write",
        ),
        (
            "sql: a chain of 4,002 terms",
            chain.as_str(),
            "holds 4001 operators; occlens plans at most 4000",
        ),
        // An Arrow cast error that named neither the function nor the argument.
        (
            "sql: arg_max of untyped NULLs",
            "SELECT arg_max(NULL, NULL)",
            "arg_max: argument 1 is an untyped NULL",
        ),
        (
            "sql: CREATE EXTERNAL TABLE",
            external.as_str(),
            "--allow-write",
        ),
        (
            "sql: CREATE TABLE",
            "CREATE TABLE t AS SELECT 1",
            "--allow-write",
        ),
        (
            "sql: DROP TABLE",
            "DROP TABLE main_occurrence",
            "--allow-write",
        ),
        (
            "sql: SET of the runtime's memory limit",
            "SET datafusion.runtime.memory_limit = '100G'",
            "--memory-limit",
        ),
        (
            "sql: RESET of the runtime's spill directory",
            "RESET datafusion.runtime.temp_directory",
            "RESET datafusion.runtime.temp_directory",
        ),
        (
            "sql: fixed with a huge digits",
            "SELECT fixed(1.5, 70000)",
            "fixed",
        ),
        ("sql: syntax error", "SELEC 1", "SELEC"),
        ("sql: unknown table", "SELECT * FROM nope", "nope"),
        (
            "sql: unknown column",
            "SELECT nope FROM main_occurrence",
            "nope",
        ),
        ("sql: unknown function", "SELECT nope(1)", "nope"),
        (
            "sql: exact_mean of a number, not a list",
            "SELECT exact_mean(1)",
            "exact_mean takes a list of numbers",
        ),
        (
            "sql: exact_mean of a list of text",
            "SELECT exact_mean(['0.5', 'x'])",
            "exact_mean takes a list of numbers",
        ),
        ("sql: empty", "", "sql"),
    ] {
        cases.push(case(name, &["--snapshot", good, "sql", q], Some(1), names).absent(&target));
    }
    // A sort past the memory pool: DataFusion's advice named its own setting, which occlens
    // refuses in SET; the message names --memory-limit.
    let sorted = work.join("sorted.parquet");
    cases.push(
        case(
            "sql: a sort past --memory-limit",
            &[
                "--snapshot",
                good,
                "--memory-limit",
                "25M",
                "sql",
                "--out",
                sorted.to_str().unwrap(),
                "SELECT v, md5(CAST(v AS VARCHAR)) AS h FROM generate_series(1, 1000000) t(v) ORDER BY h",
            ],
            Some(1),
            "--memory-limit (OCCLENS_MEMORY_LIMIT)",
        )
        .absent(&sorted),
    );
    // A hash join's build side past the pool (it cannot spill): DataFusion's message named its
    // reservations only; the message names --memory-limit (session 64).
    let joined = work.join("joined.csv");
    cases.push(
        case(
            "sql: a hash join past --memory-limit",
            &[
                "--snapshot",
                good,
                "--memory-limit",
                "10M",
                "sql",
                "--out",
                joined.to_str().unwrap(),
                "SELECT a.x, b.y FROM generate_series(1, 3000000) a(x) JOIN (SELECT x AS y, repeat('b', 50) AS z FROM generate_series(1, 3000000) t(x)) b ON a.x = b.y",
            ],
            Some(1),
            "cannot spill to disk (e.g. a hash join's build side): raise the limit",
        )
        .absent(&joined),
    );
    // A sort that spills while TMPDIR names no directory: DataFusion's message named only its
    // own file there (session 62).
    let spilled = work.join("spilled.csv");
    cases.push(
        case(
            "sql: a spill with TMPDIR missing",
            &[
                "--snapshot",
                good,
                "--memory-limit",
                "50M",
                "sql",
                "--out",
                spilled.to_str().unwrap(),
                "SELECT x, repeat('a', 100) AS y FROM generate_series(1, 3000000) t(x) ORDER BY x DESC",
            ],
            Some(1),
            "set TMPDIR to a writable directory",
        )
        .env("TMPDIR", "/nonexistent-occlens-tmp")
        .absent(&spilled),
    );
    // A backslash command's bad value names the command (`\maxrows -1` named none).
    cases.push(case(
        "sql: \\maxrows -1",
        &["--snapshot", good, "sql", "-c", "\\maxrows -1"],
        None,
        "\\maxrows -1: expected a number of rows or 'inf'",
    ));
    // A COPY that fails midway (after rows were written) or at its first batch: nothing
    // under the name (it was written there directly, partial).
    let failing = work.join("failing.csv");
    let nested = work.join("nested.csv");
    for (name, q, path, names) in [
        (
            "sql: COPY failing midway",
            format!(
                "COPY (SELECT value, CASE WHEN value > 90000 THEN value / (value - value) ELSE value END AS x \
                 FROM generate_series(1, 100000)) TO '{}' STORED AS CSV",
                failing.display()
            ),
            &failing,
            "divide by zero",
        ),
        (
            "sql: COPY of a type CSV cannot hold",
            format!("COPY (SELECT make_array(1, 2) AS a) TO '{}'", nested.display()),
            &nested,
            "csv",
        ),
    ] {
        let args = ["--snapshot", good, "sql", "--allow-write", q.as_str()];
        cases.push(case(name, &args, Some(1), names).absent(path));
    }
    cases.push(
        case(
            "sql: py_round with a huge digits",
            &[
                "--snapshot",
                good,
                "sql",
                "--format",
                "csv",
                "SELECT py_round(1.5, 99999999999) AS r",
            ],
            Some(0),
            "1.5",
        )
        .report(),
    );
    // COPY to a URL replaced what was there (the snapshot's own files too): refused.
    for (name, url, names) in [
        (
            "sql: COPY to an http URL",
            "http://127.0.0.1:1/x.csv",
            "local files only",
        ),
        (
            "sql: COPY to an s3 URL",
            "s3://bucket/x.csv",
            "local files only",
        ),
        // DataFusion reads `file:x.csv` as `/x.csv`.
        (
            "sql: COPY to a scheme without //",
            "file:x.csv",
            "file: URL",
        ),
    ] {
        let q = format!("COPY (SELECT 1 AS a) TO '{url}'");
        let args = ["--snapshot", good, "sql", "--allow-write", q.as_str()];
        cases.push(case(name, &args, Some(1), names));
    }
    // `sql --out` with a URL wrote a local `s3:/bucket/x.csv`; into a missing folder it
    // named its temporary file.
    let missing = work.join("nope/x.csv");
    for (name, out, names) in [
        (
            "sql: --out an s3 URL",
            "s3://bucket/x.csv",
            "writes a local file",
        ),
        (
            "sql: --out in a missing folder",
            missing.to_str().unwrap(),
            "does not exist",
        ),
    ] {
        let args = ["--snapshot", good, "sql", "SELECT 1 AS a", "--out", out];
        cases.push(case(name, &args, Some(1), names));
    }
    // EXPLAIN ANALYZE runs what it explains: a COPY under it replaced an existing file (the
    // snapshot's own tables too) and an INSERT added a part file, past the checks above.
    let explained = work.join("explained.csv");
    let folder = work.join("copied_folder");
    for (name, q, path, names) in [
        (
            "sql: EXPLAIN ANALYZE COPY",
            format!(
                "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
                explained.display()
            ),
            &explained,
            "EXPLAIN ANALYZE",
        ),
        (
            "sql: EXPLAIN ANALYZE INSERT",
            "EXPLAIN ANALYZE INSERT INTO main_occurrence (id) VALUES (1)".to_string(),
            &explained,
            "EXPLAIN ANALYZE",
        ),
        // A COPY to a folder (no extension) that failed midway left its files there.
        (
            "sql: COPY to a folder failing midway",
            format!(
                "COPY (SELECT value, CASE WHEN value > 90000 THEN value / (value - value) ELSE value END AS x \
                 FROM generate_series(1, 100000)) TO '{}' STORED AS CSV",
                folder.display()
            ),
            &folder,
            "divide by zero",
        ),
    ] {
        let args = ["--snapshot", good, "sql", "--allow-write", q.as_str()];
        cases.push(case(name, &args, Some(1), names).absent(path));
    }
    // A COPY to a folder that exists (a user's): never renamed over, nothing written in it.
    let users = work.join("users_folder");
    std::fs::create_dir_all(&users).unwrap();
    std::fs::write(users.join("mine.txt"), b"mine").unwrap();
    let q = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        users.display()
    );
    cases.push(case(
        "sql: COPY to an existing folder",
        &["--snapshot", good, "sql", "--allow-write", q.as_str()],
        Some(1),
        "exists; occlens does not replace files",
    ));
    cases.push(case(
        "sql: INSERT even with --allow-write",
        &[
            "--snapshot",
            good,
            "sql",
            "--allow-write",
            "INSERT INTO main_occurrence (id) VALUES (1)",
        ],
        Some(1),
        "never writes into a snapshot",
    ));
}

fn exports(good: &str, work: &Path, cases: &mut Vec<Case>) {
    let existing = work.join("existing.csv");
    std::fs::write(&existing, b"theirs").unwrap();
    let e = existing.to_str().unwrap().to_string();
    let no_parent = work.join("nope/out.csv");
    let np = no_parent.to_str().unwrap().to_string();
    let dir_out = format!("{}/", work.join("adir").display());
    let file_parent = format!("{}/x.csv", existing.display());
    let newline = format!("{}/no\nsuch/x.csv", work.display());
    for format in [
        "occurrences_simple_csv",
        "occurrences_api_json",
        "ndjson",
        "csv",
        "parquet",
        "dwca",
        "taxa_list_csv",
    ] {
        let base = |out: &str| -> Vec<String> {
            [
                "--snapshot",
                good,
                "export",
                "--format",
                format,
                "--project",
                "1",
                "--out",
                out,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let mk = |name: &str, out: &str, names: &str| {
            let args = base(out);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            case(&format!("export {format}: {name}"), &args, Some(1), names)
        };
        cases.push(mk("existing file", &e, "--overwrite"));
        cases.push(mk("missing parent", &np, "does not exist").absent(&no_parent));
        cases.push(mk("empty --out", "", "--out"));
        cases.push(mk("a directory", &dir_out, "directory"));
        // A parent that is a file, and a name holding a newline: one line naming them.
        cases.push(mk("a file as parent", &file_parent, "is not a directory"));
        cases.push(mk("a newline in the name", &newline, "does not exist"));
        cases.push(mk("unsupported scheme", "ftp://host/x.csv", "ftp"));
        let missing_project = work.join(format!("p999.{format}"));
        let args = [
            "--snapshot",
            good,
            "export",
            "--format",
            format,
            "--project",
            "999999",
            "--out",
            missing_project.to_str().unwrap(),
        ];
        cases.push(
            case(
                &format!("export {format}: no such project"),
                &args,
                Some(1),
                "999999",
            )
            .absent(&missing_project),
        );
    }
    // An unknown column; a column twice (DataFusion's "Projections require unique expression
    // names"); a column list given to a format that writes its own columns (ignored, exit 0).
    for (i, (name, format, columns, names)) in [
        ("an unknown column", "csv", "nope", "nope"),
        (
            "a column twice",
            "csv",
            "id,id",
            "--columns: id given twice",
        ),
        ("parquet", "parquet", "id", "--columns: only --format csv"),
        ("ndjson", "ndjson", "id", "--columns: only --format csv"),
    ]
    .into_iter()
    .enumerate()
    {
        let out = work.join(format!("cols-{i}.out"));
        cases.push(
            case(
                &format!("export {format}: --columns, {name}"),
                &[
                    "--snapshot",
                    good,
                    "export",
                    "--format",
                    format,
                    "--project",
                    "1",
                    "--columns",
                    columns,
                    "--out",
                    out.to_str().unwrap(),
                ],
                Some(1),
                names,
            )
            .absent(&out),
        );
    }
    cases.push(case(
        "export: unknown format",
        &[
            "--snapshot",
            good,
            "export",
            "--format",
            "xlsx",
            "--project",
            "1",
            "--out",
            "x",
        ],
        Some(2),
        "xlsx",
    ));
    // "noon", and a year Python's datetime cannot hold (session 60: year 0 was accepted).
    for (name, value) in [
        ("export dwca: bad --packaged-at", "noon"),
        (
            "export dwca: --packaged-at in year 0",
            "0000-01-01T00:00:00",
        ),
    ] {
        cases.push(case(
            name,
            &[
                "--snapshot",
                good,
                "export",
                "--format",
                "dwca",
                "--project",
                "1",
                "--packaged-at",
                value,
                "--out",
                "x.zip",
            ],
            Some(2),
            "packaged",
        ));
    }
    // An empty column name (`--columns ''` said "unknown column  (").
    cases.push(case(
        "export csv: --columns ''",
        &[
            "--snapshot",
            good,
            "export",
            "--format",
            "csv",
            "--project",
            "1",
            "--columns",
            "",
            "--out",
            "x.csv",
        ],
        Some(1),
        "an empty column name",
    ));
    // Options of another format were ignored with exit 0 (session 60).
    let out = work.join("other_format.csv");
    let o = out.to_str().unwrap();
    for (format, option, value, names) in [
        ("csv", "--shape", "detail", "--shape: only --format ndjson"),
        (
            "parquet",
            "--packaged-at",
            "2026-01-01T00:00:00",
            "--packaged-at: only --format dwca",
        ),
    ] {
        let args = [
            "--snapshot",
            good,
            "export",
            "--format",
            format,
            "--project",
            "1",
            option,
            value,
            "--out",
            o,
        ];
        cases.push(case(&format!("export {format}: {option}"), &args, Some(1), names).absent(&out));
    }
}

fn verify_inputs(good: &str, work: &Path, cases: &mut Vec<Case>) {
    let w = |name: &str, bytes: &[u8]| {
        let p = work.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().to_string()
    };
    let garbage = w("garbage.jsonl", b"{not json}\n");
    let har_status = w(
        "status.har",
        br#"{"log": {"entries": [{"request": {"method": "GET", "url": "http://x/api/v2/occurrences/?project_id=1"}, "response": {"status": 70000, "content": {"text": "{}"}}}]}}"#,
    );
    let as_user = w(
        "as_user.jsonl",
        br#"{"url": "/api/v2/occurrences/?project_id=1", "status": 200, "body": {}, "as_user": 5}"#,
    );
    let gz = w(
        "truncated.jsonl.gz",
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2],
    );
    let long = w("long.jsonl", &vec![b'x'; 4096]);
    let missing = work.join("missing.jsonl").to_string_lossy().to_string();
    // Nothing to check was reported as a pass ("0 responses checked", exit 0).
    let blank = w("blank.jsonl", b"\n  \n");
    let no_entries = w("empty.har", br#"{"log": {"entries": []}}"#);
    // A HAR file cut short (a browser's save interrupted): reported as a HAR document, not
    // as its first line's JSON-lines error.
    let cut_har = w(
        "cut.har",
        b"{\n  \"log\": {\n    \"entries\": [\n      {\"request\": {\"method\": \"GET\"",
    );
    // An as_user no user of the snapshot has: the message names its line.
    let nobody = w(
        "nobody.jsonl",
        b"\n{\"url\": \"/api/v2/occurrences/?project_id=1\", \"status\": 200, \"body\": {}, \"as_user\": \"nobody@example.org\"}\n",
    );
    // Nor a check whose every entry was skipped (session 59: exit 0).
    let all_skipped = w(
        "skipped.jsonl",
        br#"{"url": "/api/v2/../../../etc/passwd", "status": 200, "body": {}}"#,
    );
    let post_only = w(
        "post.har",
        br#"{"log": {"entries": [{"request": {"method": "POST", "url": "http://x/api/v2/occurrences/?project_id=1"}, "response": {"status": 200, "content": {"text": "{}"}}}]}}"#,
    );
    for (name, args, code, names) in [
        // NaN matched nothing and inf everything (count 999999 against 1592).
        (
            "verify: --float-tolerance NaN",
            vec![
                "verify",
                "--responses",
                garbage.as_str(),
                "--float-tolerance",
                "NaN",
            ],
            Some(2),
            "--float-tolerance",
        ),
        (
            "verify: --float-tolerance inf",
            vec![
                "verify",
                "--responses",
                garbage.as_str(),
                "--float-tolerance",
                "inf",
            ],
            Some(2),
            "not a finite number",
        ),
        (
            "verify: no responses",
            vec!["verify", "--responses", blank.as_str()],
            Some(2),
            "no responses",
        ),
        (
            "verify: a HAR file without entries",
            vec!["verify", "--responses", no_entries.as_str()],
            Some(2),
            "no responses",
        ),
        (
            "verify: missing file",
            vec!["verify", "--responses", missing.as_str()],
            Some(2),
            "missing.jsonl",
        ),
        (
            "verify: garbage line",
            vec!["verify", "--responses", garbage.as_str()],
            Some(2),
            "garbage.jsonl",
        ),
        (
            "verify: HAR status out of range",
            vec!["verify", "--responses", har_status.as_str()],
            Some(2),
            "70000",
        ),
        (
            "verify: a HAR file cut short",
            vec!["verify", "--responses", cut_har.as_str()],
            Some(2),
            "cut.har: an incomplete or invalid HAR document",
        ),
        (
            "verify: --superuser of no user",
            vec![
                "verify",
                "--responses",
                nobody.as_str(),
                "--superuser",
                "typo@example.org",
            ],
            Some(2),
            "--superuser typo@example.org: no user",
        ),
        (
            "verify: as_user of no user",
            vec!["verify", "--responses", nobody.as_str()],
            Some(2),
            "nobody.jsonl: line 2: as_user nobody@example.org",
        ),
        (
            "verify: as_user not a string",
            vec!["verify", "--responses", as_user.as_str()],
            Some(2),
            "as_user",
        ),
        (
            "verify: truncated gzip",
            vec!["verify", "--responses", gz.as_str()],
            Some(2),
            "truncated.jsonl.gz",
        ),
        (
            "verify: a line over the limit",
            vec![
                "verify",
                "--responses",
                long.as_str(),
                "--max-line-bytes",
                "100",
            ],
            Some(2),
            "long.jsonl",
        ),
        (
            "verify: /dev/zero",
            vec![
                "verify",
                "--responses",
                "/dev/zero",
                "--max-line-bytes",
                "1000",
            ],
            Some(2),
            "/dev/zero",
        ),
        (
            "verify: timeout 1e300",
            vec![
                "verify",
                "--api-url",
                "http://127.0.0.1:1",
                "--project",
                "1",
                "--timeout",
                "1e300",
            ],
            Some(2),
            "timeout",
        ),
        (
            "verify: timeout negative",
            vec![
                "verify",
                "--api-url",
                "http://127.0.0.1:1",
                "--project",
                "1",
                "--timeout",
                "-1",
            ],
            Some(2),
            "-1",
        ),
        (
            "verify: timeout NaN",
            vec![
                "verify",
                "--api-url",
                "http://127.0.0.1:1",
                "--project",
                "1",
                "--timeout",
                "NaN",
            ],
            Some(2),
            "timeout",
        ),
    ] {
        let mut a = vec!["--snapshot", good];
        a.extend(args);
        cases.push(case(name, &a, code, names));
    }
    for (name, file) in [
        ("verify: every entry skipped", &all_skipped),
        ("verify: a HAR of POSTs only", &post_only),
    ] {
        cases.push(case(
            name,
            &["--snapshot", good, "verify", "--responses", file.as_str()],
            Some(2),
            "no response was checked (1 skipped",
        ));
    }
    // (Each URL was a fetch_failed row; now one usage error before any request.)
    cases.push(case(
        "verify: unsupported api scheme",
        &[
            "--snapshot",
            good,
            "verify",
            "--api-url",
            "ftp://127.0.0.1:1",
            "--project",
            "1",
        ],
        Some(2),
        "--api-url ftp://127.0.0.1:1: ftp:// is not http or https",
    ));
}

fn dwca_archives(work: &Path, cases: &mut Vec<Case>) {
    let zip_with = |name: &str, files: &[(&str, &[u8])]| {
        let p = work.join(name);
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        for (n, bytes) in files {
            z.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
        p.to_string_lossy().to_string()
    };
    let not_zip = work.join("not.zip");
    std::fs::write(&not_zip, b"hello").unwrap();
    let empty = work.join("empty.zip");
    std::fs::write(&empty, b"").unwrap();
    let no_meta = zip_with("no_meta.zip", &[("occurrence.txt", b"id\n1\n")]);
    let bad_meta = zip_with("bad_meta.zip", &[("meta.xml", b"<archive")]);
    let huge_index = zip_with(
        "huge_index.zip",
        &[
            ("meta.xml", br#"<?xml version="1.0"?><archive xmlns="http://rs.tdwg.org/dwc/text/"><core rowType="http://rs.tdwg.org/dwc/terms/Occurrence" fieldsTerminatedBy="\t" linesTerminatedBy="\n" ignoreHeaderLines="1"><files><location>occurrence.txt</location></files><id index="18446744073709551615"/><field index="0" term="http://rs.tdwg.org/dwc/terms/occurrenceID"/></core></archive>"#),
            ("occurrence.txt", b"occurrenceID\n1\n"),
        ],
    );
    let missing = work.join("missing.zip").to_string_lossy().to_string();
    cases.push(case(
        "dwca: missing file",
        &["validate-dwca", &missing],
        None,
        "missing.zip: no such file",
    ));
    cases.push(case(
        "dwca: a directory",
        &["validate-dwca", work.to_str().unwrap()],
        None,
        "is a directory",
    ));
    for (name, path, names) in [
        ("dwca: not a zip", not_zip.to_str().unwrap(), "not.zip"),
        ("dwca: empty file", empty.to_str().unwrap(), "empty.zip"),
    ] {
        cases.push(case(name, &["validate-dwca", path], None, names).report());
    }
    for (name, path, names) in [
        ("dwca: no meta.xml", no_meta.as_str(), "meta.xml"),
        ("dwca: meta.xml not XML", bad_meta.as_str(), "meta.xml"),
        ("dwca: id index 2^64-1", huge_index.as_str(), "index"),
    ] {
        cases.push(case(name, &["validate-dwca", path], Some(1), names).report());
    }
}

fn writers(work: &Path, cases: &mut Vec<Case>) {
    let user_dir = work.join("user_documents");
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::write(user_dir.join("thesis.txt"), b"years of work").unwrap();
    let u = user_dir.to_str().unwrap();
    let a_file = work.join("a_plain_file");
    std::fs::write(&a_file, b"mine").unwrap();
    let f = a_file.to_str().unwrap();
    let no_parent = work.join("nope/gen");
    let under_file = format!("{f}/x");
    let copy_under_file = format!("COPY (SELECT 1 AS a) TO '{f}/x.csv'");
    for (name, args, code, names) in [
        // A file where --out's folder should be: named as --out's (generate said
        // "…/x: Not a directory"; COPY an internal error of DataFusion's).
        (
            "generate: under a file",
            vec![
                "generate",
                "--out",
                under_file.as_str(),
                "--occurrences",
                "5",
            ],
            Some(1),
            "a_plain_file is not a directory",
        ),
        (
            "sql: COPY under a file",
            vec!["sql", "--allow-write", copy_under_file.as_str()],
            Some(1),
            "a_plain_file is not a directory",
        ),
        (
            "generate: into a user's directory",
            vec!["generate", "--out", u, "--occurrences", "5"],
            Some(1),
            "not an occlens snapshot",
        ),
        (
            "generate: onto a file",
            vec!["generate", "--out", f, "--occurrences", "5"],
            Some(1),
            "not a directory",
        ),
        (
            "generate: empty --out",
            vec!["generate", "--out", "", "--occurrences", "5"],
            None,
            "--out",
        ),
        (
            "generate: zero occurrences",
            vec!["generate", "--out", "x", "--occurrences", "0"],
            Some(2),
            "occurrences",
        ),
        (
            "generate: huge occurrences",
            vec![
                "generate",
                "--out",
                "x",
                "--occurrences",
                "99999999999999999999",
            ],
            Some(2),
            "occurrences",
        ),
        // The edge-cases shape is built in memory: 1,000,000 was allowed and needed 15 GB.
        (
            "generate: edge-cases beyond its bound",
            vec![
                "generate",
                "--out",
                "x",
                "--shape",
                "edge-cases",
                "--occurrences",
                "200001",
            ],
            Some(1),
            "at most 200000",
        ),
        (
            "generate: negative occurrences",
            vec!["generate", "--out", "x", "--occurrences", "-1"],
            Some(2),
            "-1",
        ),
        (
            "generate: edge-cases too big",
            vec![
                "generate",
                "--out",
                "x",
                "--shape",
                "edge-cases",
                "--occurrences",
                "2000000",
            ],
            Some(1),
            "occurrences",
        ),
        (
            "generate: missing parent",
            vec![
                "generate",
                "--out",
                no_parent.to_str().unwrap(),
                "--occurrences",
                "5",
            ],
            Some(1),
            "does not exist",
        ),
        (
            "snapshot: into a user's directory",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                u,
            ],
            Some(1),
            "not an occlens snapshot",
        ),
        (
            "snapshot: onto a file",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                f,
            ],
            Some(1),
            "not a directory",
        ),
        (
            "snapshot: empty --out",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                "",
            ],
            Some(1),
            "--out",
        ),
        (
            "snapshot: unreachable server",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                work.join("snap_out").to_str().unwrap(),
            ],
            Some(1),
            "127.0.0.1",
        ),
        (
            "snapshot: not a URL",
            vec![
                "snapshot",
                "--from",
                "mysql://u@h/db",
                "--out",
                work.join("snap_out2").to_str().unwrap(),
            ],
            Some(1),
            "mysql",
        ),
        (
            "snapshot: unsupported --out scheme",
            vec![
                "snapshot",
                "--from",
                "postgres://u@127.0.0.1:1/db",
                "--out",
                "ftp://h/x",
            ],
            Some(1),
            "ftp",
        ),
    ] {
        cases.push(case(name, &args, code, names).absent(&no_parent));
    }
    // A server that accepts and never answers: `snapshot` waited until killed.
    let silent = format!(
        "postgres://u@127.0.0.1:{}/db?connect_timeout=1",
        silent_server()
    );
    cases.push(
        case(
            "snapshot: a server that never answers",
            &[
                "snapshot",
                "--from",
                &silent,
                "--out",
                work.join("snap_silent").to_str().unwrap(),
            ],
            Some(1),
            "no answer from the server within 1 s",
        )
        .absent(&work.join("snap_silent")),
    );
    // A missing --tokens file: the message named the path alone, not the option.
    let no_tokens = work.join("no_tokens.txt");
    cases.push(case(
        "serve: --tokens missing",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            no_tokens.to_str().unwrap(),
        ],
        None,
        "--tokens",
    ));
    // A directory as --tokens was reported as a permissions problem (its mode 0755).
    let tokens_dir = work.join("tokens_dir");
    std::fs::create_dir_all(&tokens_dir).unwrap();
    cases.push(case(
        "serve: --tokens a directory",
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            tokens_dir.to_str().unwrap(),
        ],
        None,
        "tokens_dir: not a regular file",
    ));
    // Origins no browser sends were accepted (and never matched).
    for origin in [
        "not an origin",
        "https://app.example.org/",
        "https://app.example.org/x",
        "https://App.example.org",
        "https://app.example.org:443",
    ] {
        cases.push(case(
            &format!("serve: --cors-origin {origin:?}"),
            &["serve", "--listen", "127.0.0.1:0", "--cors-origin", origin],
            None,
            "--cors-origin",
        ));
    }
    let not_dir = work.join("cache_is_a_file");
    std::fs::write(&not_dir, b"x").unwrap();
    cases.push(case(
        "cache: --cache-dir is a file",
        &[
            "--cache-dir",
            not_dir.to_str().unwrap(),
            "cache",
            "build",
            "--snapshot",
            work.join("good").to_str().unwrap(),
        ],
        Some(1),
        "cache_is_a_file: not a directory",
    ));
    // Writes into the snapshot being read, onto devices and FIFOs, over lookalike snapshots.
    let good = work.join("good");
    let gs = good.to_str().unwrap();
    let inside = good.join("main_occurrence.parquet");
    cases.push(case(
        "export: over the snapshot's own file",
        &[
            "--snapshot",
            gs,
            "export",
            "--format",
            "parquet",
            "--project",
            "1",
            "--overwrite",
            "--out",
            inside.to_str().unwrap(),
        ],
        Some(1),
        "inside the snapshot",
    ));
    cases.push(
        case(
            "sql --out: into the snapshot",
            &[
                "--snapshot",
                gs,
                "sql",
                "--out",
                good.join("x.csv").to_str().unwrap(),
                "SELECT 1",
            ],
            Some(1),
            "inside the snapshot",
        )
        .absent(&good.join("x.csv")),
    );
    let fifo = work.join("a_fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        cases.push(case(
            "export: over a FIFO with --overwrite",
            &[
                "--snapshot",
                gs,
                "export",
                "--format",
                "csv",
                "--project",
                "1",
                "--overwrite",
                "--out",
                fifo.to_str().unwrap(),
            ],
            Some(1),
            "not a regular file",
        ));
    }
    let lookalike = work.join("lookalike");
    std::fs::create_dir_all(&lookalike).unwrap();
    std::fs::write(lookalike.join("_snapshot.json"), b"{}").unwrap();
    std::fs::write(lookalike.join("thesis.docx"), b"mine").unwrap();
    cases.push(case(
        "generate: over a directory with a fake manifest",
        &[
            "generate",
            "--out",
            lookalike.to_str().unwrap(),
            "--occurrences",
            "5",
        ],
        Some(1),
        "not an occlens snapshot",
    ));
    let existing = work.join("existing.csv");
    let copy = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
        existing.display()
    );
    cases.push(case(
        "sql: COPY over an existing file even with --allow-write",
        &["--snapshot", gs, "sql", "--allow-write", &copy],
        Some(1),
        "exists",
    ));
    cases.push(case(
        "sql: -f /dev/zero",
        &["--snapshot", gs, "sql", "-f", "/dev/zero"],
        Some(1),
        "/dev/zero",
    ));
    cases.push(case(
        "memory: not a size",
        &["--memory-limit", "lots", "sql", "SELECT 1"],
        Some(2),
        "lots",
    ));
    cases.push(case(
        "memory: over 100%",
        &["--memory-limit", "200%", "sql", "SELECT 1"],
        Some(2),
        "percentage",
    ));
    cases.push(case(
        "memory: too small",
        &["--memory-limit", "10", "sql", "SELECT 1"],
        Some(2),
        "at least",
    ));
    // A percentage of the machine's memory under the same 1 MiB floor (was accepted).
    cases.push(case(
        "memory: a percentage too small",
        &["--memory-limit", "0.00001%", "sql", "SELECT 1"],
        Some(2),
        "at least 1M",
    ));
    cases.push(case(
        "memory: overflow",
        &["--memory-limit", "99999999999T", "sql", "SELECT 1"],
        Some(2),
        "too large",
    ));
    cases.push(case(
        "memory: a query over the limit",
        &["--memory-limit", "2M", "sql", "SELECT count(*) FROM generate_series(1, 3000000) a JOIN generate_series(1, 3000000) b ON a.value = b.value"],
        Some(1),
        "Resources exhausted",
    ));
    // Values the pool does not count (six 400 MB texts in one row): the process's own bound
    // ends it (session 55: it grew until the kernel stepped in), and --out stays absent.
    let huge = "SELECT length(a) + length(b) + length(c) + length(d) + length(e) + length(f) AS n FROM (SELECT repeat('x', 400000000) AS a, repeat('x', 400000000) AS b, repeat('x', 400000000) AS c, repeat('x', 400000000) AS d, repeat('x', 400000000) AS e, repeat('x', 400000000) AS f)";
    let huge_out = work.join("huge.csv");
    cases.push(
        case(
            "memory: values the query pool does not count",
            &[
                "--memory-limit",
                "64M",
                "sql",
                "--out",
                huge_out.to_str().unwrap(),
                huge,
            ],
            Some(1),
            "past its bound",
        )
        .absent(&huge_out),
    );
    // A statement that never ends (10^11 rows summed; a cluster job Ballista never finishes):
    // --time-limit ends it, exit 124, and --out stays absent.
    let endless = "SELECT sum(value) AS s FROM generate_series(1, 100000000000)";
    let endless_out = work.join("endless.csv");
    cases.push(
        case(
            "time: a statement past --time-limit",
            &[
                "--time-limit",
                "1s",
                "sql",
                "--out",
                endless_out.to_str().unwrap(),
                endless,
            ],
            Some(124),
            "ran past --time-limit 1s",
        )
        .absent(&endless_out),
    );
    // A COPY past --time-limit: its temporary and object_store's staging file of it
    // (`….tmp#1`, which once stayed behind, 250 MB) are removed, the target stays absent
    // (`temporaries` below finds both kinds).
    let copied = work.join("copied.parquet");
    let copy = format!(
        "COPY (SELECT value, value * 2 AS twice FROM generate_series(1, 100000000000)) TO '{}'",
        copied.display()
    );
    // The same to a relative name: the temporary's folder is the working directory, where its
    // staging file (`.rel.csv.occlens-copy-….tmp#1`) once stayed behind.
    let relative = work.join("relative");
    std::fs::create_dir_all(&relative).unwrap();
    cases.push(
        case(
            "time: a COPY to a relative name past --time-limit",
            &[
                "--time-limit",
                "1s",
                "sql",
                "--allow-write",
                "COPY (SELECT value, value * 2 AS twice FROM generate_series(1, 100000000000)) TO 'rel.csv'",
            ],
            Some(124),
            "ran past --time-limit 1s",
        )
        .cwd(&relative)
        .absent(&relative.join("rel.csv")),
    );
    cases.push(
        case(
            "time: a COPY past --time-limit",
            &["--time-limit", "1s", "sql", "--allow-write", &copy],
            Some(124),
            "ran past --time-limit 1s",
        )
        .absent(&copied),
    );
    cases.push(
        case(
            "time: a statement past OCCLENS_TIME_LIMIT",
            &["sql", endless],
            Some(124),
            "ran past --time-limit 1.5s",
        )
        .env("OCCLENS_TIME_LIMIT", "1.5"),
    );
    for (value, names) in [
        ("0", "at least 1 millisecond"),
        ("0.0000001", "at least 1 millisecond"),
        ("-5s", "at least 1 millisecond"),
        ("400d", "at most 365 days"),
        ("soon", "expected a duration"),
        ("5 minutes", "expected a duration"),
        ("1e300", "expected a duration"),
    ] {
        let flag = format!("--time-limit={value}");
        cases.push(case(
            &format!("time: {flag}"),
            &[&flag, "sql", "SELECT 1"],
            Some(2),
            names,
        ));
    }
    cases.push(case(
        "cache: unknown mode",
        &["--cache", "sometimes", "tables"],
        Some(2),
        "sometimes",
    ));
    cases.push(
        case(
            "env: invalid DATAFUSION_ setting",
            &["sql", "SELECT 1"],
            Some(1),
            "DATAFUSION_EXECUTION_BATCH_SIZE",
        )
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", "lots"),
    );
}

#[test]
fn bad_input_corpus() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let good = work.path().join("good");
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    t.b.write(&good).unwrap();
    let g = good.to_str().unwrap().to_string();
    let mut cases = Vec::new();
    snapshots(work.path(), &good, &mut cases);
    requests(&g, &mut cases);
    sql(&g, work.path(), &mut cases);
    exports(&g, work.path(), &mut cases);
    verify_inputs(&g, work.path(), &mut cases);
    dwca_archives(work.path(), &mut cases);
    writers(work.path(), &mut cases);
    assert!(cases.len() >= 150, "{} cases", cases.len());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(c) = cases.get(i) else { break };
                let f = run(c, &cache);
                failures.lock().unwrap().extend(f);
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let left = temporaries(work.path());
    assert!(left.is_empty(), "temporaries left behind: {left:?}");
    assert_eq!(
        std::fs::read(work.path().join("existing.csv")).unwrap(),
        b"theirs",
        "an existing file was replaced"
    );
    assert_eq!(
        std::fs::read(work.path().join("lookalike/thesis.docx")).unwrap(),
        b"mine"
    );
    assert_eq!(
        std::fs::read(work.path().join("user_documents/thesis.txt")).unwrap(),
        b"years of work",
        "a user's directory was touched"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A full output device (`> /dev/full`): one line naming stdout, exit 1, in every format and
/// for --help (which exited 0; CSV blamed the query, JSON repeated the error twice).
#[test]
fn a_full_stdout_is_one_line_naming_it() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // no such device here
    };
    let cases: [&[&str]; 4] = [
        &["sql", "--format", "csv", "SELECT * FROM main_occurrence"],
        &["sql", "--format", "json", "SELECT * FROM main_occurrence"],
        &["sql", "--format", "ndjson", "SELECT * FROM main_occurrence"],
        &["--help"],
    ];
    for args in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_occlens"))
            .args(args)
            .env_remove("OCCLENS_SNAPSHOT")
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(
            err.trim(),
            "occlens: stdout: No space left on device (os error 28)",
            "{args:?}"
        );
    }
}
