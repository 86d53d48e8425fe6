//! Servers the tests start on 127.0.0.1: free ports, waiting for one to listen, the `s3s-fs`
//! S3 server, and what a test does when one is not installed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A service a test needs is missing: with `CI=true` or `OCCLENS_REQUIRE_SERVICES=1` that is a
/// failure; otherwise the test prints one line saying what it skipped and how to install it.
pub fn missing_service(what: &str, install: &str) {
    let required = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("OCCLENS_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    if required {
        panic!("{what} is required here (CI or OCCLENS_REQUIRE_SERVICES=1): {install}");
    }
    // Straight to stderr: libtest captures eprintln! of passing tests, and a skip must show.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "skipped: {what} is not installed ({install}; .ci/run installs it)"
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until something listens on 127.0.0.1:`port` (panics naming `what` after `limit`).
pub fn wait_for_port(port: u16, what: &str, limit: Duration) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < limit, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `s3s-fs` binary (`.ci/run` installs it with `cargo install s3s-fs --features binary`).
fn s3s_fs() -> Option<PathBuf> {
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.exists());
    let cargo_bin = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/s3s-fs"));
    let found = in_path.or(cargo_bin.filter(|p| p.exists()));
    if found.is_none() {
        missing_service(
            "the s3s-fs S3 server",
            "cargo install s3s-fs --version 0.14.1 --features binary",
        );
    }
    found
}

/// A real S3-compatible server on 127.0.0.1 storing objects under `root/<bucket>/<key>`, with
/// the bucket `bucket`; stopped when dropped.
pub struct S3 {
    pub root: tempfile::TempDir,
    pub env: Vec<(&'static str, String)>,
    child: Child,
}

impl S3 {
    /// None (after a `skipped:` line) when s3s-fs is not installed and not required.
    pub fn start() -> Option<S3> {
        let binary = s3s_fs()?;
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("bucket")).unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", "AKTEST", "--secret-key", "SKTEST"])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port, "s3s-fs", Duration::from_secs(20));
        let env = vec![
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "AKTEST".into()),
            ("AWS_SECRET_ACCESS_KEY", "SKTEST".into()),
            ("AWS_REGION", "us-east-1".into()),
        ];
        Some(S3 { root, env, child })
    }

    /// The variables that point object_store at this server.
    pub fn env(&self) -> Vec<(&str, &str)> {
        self.env.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
