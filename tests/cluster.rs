//! `occlens --cluster`: a Ballista scheduler and two executors as separate `occlens`
//! processes on 127.0.0.1 give byte for byte the output of the same commands run locally;
//! an executor killed mid-query never leaves a partial file; an unreachable scheduler is a
//! quick one-line error.
#![cfg(feature = "cluster")]

mod common;
#[path = "cluster/failures.rs"]
mod failures;
#[path = "cluster/matches_local.rs"]
mod matches_local;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::services::{free_port, wait_for_port};
use common::Tiny;

fn wait_for(port: u16, what: &str) {
    wait_for_port(port, what, Duration::from_secs(60));
}

/// A generated snapshot of `occurrences` occurrences at `dir`.
fn generate(dir: &Path, occurrences: &str) {
    let out = dir.to_str().unwrap();
    let args = ["generate", "--occurrences", occurrences, "--out", out];
    let (code, _, err) = common::occlens_with(&args, &[]);
    assert_eq!(code, 0, "{err}");
}

/// A scheduler and executors, stopped when dropped (SIGTERM, then SIGKILL after 10 s).
/// The executors' temporary directory is `tmp`.
struct Cluster {
    url: String,
    executors: Vec<Child>,
    scheduler: Child,
    tmp: tempfile::TempDir,
}

impl Cluster {
    fn start(executors: usize, env: &[(&str, &str)]) -> Cluster {
        Cluster::start_in(executors, env, None)
    }

    /// Executors with `--work-dir work` when given.
    fn start_in(executors: usize, env: &[(&str, &str)], work: Option<&Path>) -> Cluster {
        let port = free_port();
        let tmp = tempfile::tempdir().unwrap();
        let spawn = |args: &[String]| {
            Command::new(env!("CARGO_BIN_EXE_occlens"))
                .args(args)
                .envs(env.iter().copied())
                .env("TMPDIR", tmp.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let scheduler = spawn(&[
            "cluster".into(),
            "scheduler".into(),
            "--port".into(),
            port.to_string(),
        ]);
        wait_for(port, "the scheduler");
        let executors = (0..executors)
            .map(|_| {
                let (flight, grpc) = (free_port(), free_port());
                let work: Vec<String> = work
                    .map(|w| vec!["--work-dir".into(), w.to_str().unwrap().into()])
                    .unwrap_or_default();
                let child = spawn(
                    &[
                        "cluster".into(),
                        "executor".into(),
                        "--scheduler".into(),
                        format!("127.0.0.1:{port}"),
                        "--port".into(),
                        flight.to_string(),
                        "--grpc-port".into(),
                        grpc.to_string(),
                        "--vcores".into(),
                        "1".into(),
                    ]
                    .into_iter()
                    .chain(work)
                    .collect::<Vec<String>>(),
                );
                wait_for(flight, "an executor");
                child
            })
            .collect();
        // Registration follows the listening socket.
        std::thread::sleep(Duration::from_millis(500));
        Cluster {
            url: format!("df://127.0.0.1:{port}"),
            executors,
            scheduler,
            tmp,
        }
    }

    /// Stop every process: SIGTERM, then SIGKILL for one still running after 10 s.
    fn stop(&mut self) {
        let children: Vec<&mut Child> = self
            .executors
            .iter_mut()
            .chain([&mut self.scheduler])
            .collect();
        for c in &children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for c in children {
            while matches!(c.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The entries of the executors' temporary directory.
    fn temporaries(&self) -> Vec<String> {
        std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run `args` locally (`--cache off`) and on `cluster`, writing `--out` files under `dir`;
/// the two outputs (file or stdout) as bytes.
fn both(
    cluster: &Cluster,
    env: &[(&str, &str)],
    snapshot: &str,
    dir: &Path,
    args: &[&str],
) -> (Vec<u8>, Vec<u8>) {
    let mut outputs = Vec::new();
    for (i, mode) in [["--cache", "off"], ["--cluster", cluster.url.as_str()]]
        .iter()
        .enumerate()
    {
        // OUT.<ext>: a new file of that extension.
        let ext = args.iter().find_map(|a| a.strip_prefix("OUT."));
        let out = dir.join(format!("out-{i}-{}.{}", args.len(), ext.unwrap_or("none")));
        let out_s = out.to_str().unwrap().to_string();
        let _ = std::fs::remove_file(&out);
        let mut full: Vec<&str> = vec!["--snapshot", snapshot, mode[0], mode[1]];
        let writes_file = ext.is_some();
        for a in args {
            full.push(if a.starts_with("OUT.") { &out_s } else { a });
        }
        let (code, stdout, err) = common::occlens_with(&full, env);
        assert_eq!(code, 0, "{full:?}: {err}");
        outputs.push(if writes_file {
            std::fs::read(&out).unwrap()
        } else {
            stdout.into_bytes()
        });
    }
    let cluster_out = outputs.pop().unwrap();
    (outputs.pop().unwrap(), cluster_out)
}

/// The arguments of `occlens --snapshot SNAPSHOT MODE… export --format occurrences_simple_csv
/// --project 1 --out OUT`.
fn export_args<'a>(snapshot: &'a Path, mode: &[&'a str], out: &'a Path) -> Vec<&'a str> {
    let mut args = vec!["--snapshot", snapshot.to_str().unwrap()];
    args.extend(mode);
    args.extend([
        "export",
        "--format",
        "occurrences_simple_csv",
        "--project",
        "1",
        "--out",
    ]);
    args.push(out.to_str().unwrap());
    args
}

/// That export, run to completion.
fn export_project_1(snapshot: &Path, mode: &[&str], out: &Path) -> (i32, String, String) {
    common::occlens_with(&export_args(snapshot, mode, out), &[])
}

/// Every file under `dir`: its path below `dir` and its bytes, by path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = common::files_under(dir)
        .into_iter()
        .map(|f| {
            let name = f.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&f).unwrap())
        })
        .collect();
    files.sort();
    files
}
