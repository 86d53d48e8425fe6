//! The standing bad-input corpus: every class of bad input found so far, run through the
//! whole binary. Each case asserts its exit code; that the message (stderr, or the response
//! body for API errors) is one line naming the thing; that nothing says `panicked`; that
//! nothing exists under the case's final output name; and that no temporary is left behind.
//! New bug classes get a case here.

mod common;
#[path = "bad_input/exports.rs"]
mod exports;
#[path = "bad_input/requests.rs"]
mod requests;
#[path = "bad_input/snapshot_files.rs"]
mod snapshot_files;
#[path = "bad_input/snapshot_values.rs"]
mod snapshot_values;
#[path = "bad_input/sql.rs"]
mod sql;
#[path = "bad_input/verify_inputs.rs"]
mod verify_inputs;
#[path = "bad_input/writers.rs"]
mod writers;

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
    snapshot_files::snapshot_files(work.path(), &good, &mut cases);
    snapshot_values::snapshot_values(work.path(), &good, &mut cases);
    requests::requests(&g, &mut cases);
    sql::sql(&g, work.path(), &mut cases);
    exports::exports(&g, work.path(), &mut cases);
    exports::dwca_archives(work.path(), &mut cases);
    verify_inputs::verify_inputs(&g, work.path(), &mut cases);
    writers::writers(work.path(), &mut cases);
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
