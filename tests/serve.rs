//! `occlens serve` as a real process on 127.0.0.1 (port 0): the bytes of `occlens api` over
//! HTTP, `verify --api-url` against it, concurrency, snapshot versions, graceful shutdown,
//! tokens and the error statuses.

#[path = "serve/access_and_limits.rs"]
mod access_and_limits;
#[path = "serve/answers.rs"]
mod answers;
mod common;
#[path = "serve/lifecycle.rs"]
mod lifecycle;

use common::{oracle, Tiny};
use futures::StreamExt;
use occlens::api::request::Requester;
use occlens::api::respond::get;
use occlens::engine::cache::Mode;
use occlens::render::pyfmt::to_json;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ghosttoken: a user the snapshots do not hold (Antenna's token check finds no user: 401).
const TOKENS: &str = "admintoken superuser:2\nalicetoken user:3\nghosttoken user:999\n";

/// A running `occlens … serve --listen 127.0.0.1:0 …`, killed when dropped.
struct Served {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Served {
    /// Start occlens with `global` options, then `serve` with `serve`; wait for its address.
    fn start(global: &[&str], serve: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_occlens"))
            .args(global)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(serve)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("occlens: serving http://") {
                    let addr = rest.split('/').next().unwrap_or_default().to_string();
                    let _ = tx.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("the server did not start: {:?}", log.lock().unwrap()));
        Served {
            child,
            base: format!("http://{addr}"),
            log,
        }
    }

    /// `occlens --snapshot SNAPSHOT --cache-dir CACHE serve … serve_args`.
    fn on(snapshot: &Path, cache: &Path, serve: &[&str]) -> Served {
        let (snapshot, cache) = (snapshot.to_str().unwrap(), cache.to_str().unwrap());
        Served::start(&["--snapshot", snapshot, "--cache-dir", cache], serve)
    }

    fn url(&self, target: &str) -> String {
        format!("{}{target}", self.base)
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([name, pid.as_str()])
            .status()
            .unwrap()
            .success());
    }

    /// SIGTERM, then the exit code and everything it logged.
    fn stop(mut self) -> (i32, String) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(60);
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        (code, self.log())
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET url` with an optional token: (status, body bytes, content type).
async fn fetch(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = client.get(url);
    if let Some(t) = token {
        request = request.header("Authorization", format!("Token {t}"));
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, response.text().await.unwrap(), content_type)
}

fn tokens_file(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("tokens.txt");
    std::fs::write(&path, TOKENS).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A tiny snapshot with `n` valid occurrences.
fn tiny(dir: &Path, n: i64) {
    let mut t = Tiny::new();
    for id in 1..=n {
        t.simple(id, 4, 0.9);
    }
    t.b.write(dir).unwrap();
}
