//! `occlens serve` as a real process on 127.0.0.1 (port 0): the bytes of `occlens api` over
//! HTTP, `verify --api-url` against it, concurrency, snapshot versions, graceful shutdown,
//! tokens and the error statuses.

mod common;

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

/// The recorded requests of a fixture file, every `step`-th: (url, as_user).
fn recorded(file: &str, step: usize) -> Vec<(String, String)> {
    let gz =
        flate2::read::GzDecoder::new(std::fs::File::open(oracle().join("api").join(file)).unwrap());
    BufReader::new(gz)
        .lines()
        .step_by(step)
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            let who = v["as_user"].as_str().unwrap_or("anonymous").to_string();
            (v["url"].as_str().unwrap().to_string(), who)
        })
        .collect()
}

fn who(as_user: &str) -> (Option<&'static str>, Requester) {
    match as_user {
        "admin@oracle.test" => (Some("admintoken"), Requester::Superuser(Some(2))),
        "alice@oracle.test" => (Some("alicetoken"), Requester::User(3)),
        _ => (None, Requester::Anonymous),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_requests_over_http_are_occlens_api_bytes_and_pass_verify() {
    let work = tempfile::tempdir().unwrap();
    let tokens = tokens_file(work.path());
    let snapshot = oracle().join("snapshot");
    let cache = work.path().join("cache");
    let (snap, cache_dir) = (snapshot.to_str().unwrap(), cache.to_str().unwrap());
    let tokens = tokens.to_str().unwrap();
    let server = Served::on(
        &snapshot,
        &cache,
        &["--api-base", "http://testserver", "--tokens", tokens],
    );
    let engine = common::cached_engine(&snapshot, &cache, Mode::Auto, None).await;
    let client = reqwest::Client::new();
    let mut requests = recorded("occurrences_list.jsonl.gz", 1);
    requests.extend(recorded("occurrences_detail.jsonl.gz", 8));
    assert!(requests.len() > 100);
    for (url, as_user) in &requests {
        let (token, requester) = who(as_user);
        let (status, body, content_type) = fetch(&client, &server.url(url), token).await;
        let expected = get(&engine, url, &requester).await.unwrap();
        assert_eq!(status, expected.status, "{url} as {as_user}");
        assert_eq!(body, to_json(&expected.body), "{url} as {as_user}");
        assert_eq!(content_type, "application/json");
    }
    // The loop: occlens verify fetches the recorded URLs from the server.
    let urls: Vec<&str> = requests
        .iter()
        .filter(|(_, w)| w == "admin@oracle.test")
        .map(|(u, _)| u.as_str())
        .collect();
    let url_file = work.path().join("urls.txt");
    std::fs::write(&url_file, urls.join("\n")).unwrap();
    let (code, out, err) = common::occlens_with(
        &[
            "--snapshot",
            snap,
            "--cache-dir",
            cache_dir,
            "--api-base",
            "http://testserver",
            "--as",
            "superuser:2",
            "verify",
            "--api-url",
            &server.base,
            "--token",
            "admintoken",
            "--urls",
            url_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "{} responses checked: {} match",
            urls.len(),
            urls.len()
        )),
        "{out}"
    );
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(
        !log.contains("admintoken") && !log.contains("alicetoken"),
        "a token was logged"
    );
    assert!(
        log.contains("GET /api/v2/occurrences/"),
        "no access log: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_give_their_sequential_answers() {
    let work = tempfile::tempdir().unwrap();
    let tokens = tokens_file(work.path());
    let snapshot = oracle().join("snapshot");
    let cache = work.path().join("cache");
    // Everything in memory under load, every answer computed (no answers remembered); the
    // sequential answers from a server holding nothing (every table read from its files): the
    // ways of holding a version give the same bytes.
    let tokens = tokens.to_str().unwrap();
    let holding = |mode: &str| {
        let remembered = if mode == "all" { "0" } else { "128M" };
        let args = [
            "--tokens",
            tokens,
            "--quiet",
            "--in-memory",
            mode,
            "--response-cache",
            remembered,
        ];
        Served::on(
            &snapshot,
            &cache,
            &[&args[..], &["--api-base", "http://x"]].concat(),
        )
    };
    let server = holding("all");
    let files = holding("none");
    let client = reqwest::Client::new();
    let mut targets = Vec::new();
    for ordering in [
        "-determination_score",
        "created_at",
        "-detections_count",
        "determination__name",
    ] {
        for offset in [0, 20, 60] {
            targets.push(format!(
                "/api/v2/occurrences/?project_id=1&ordering={ordering}&limit=10&offset={offset}"
            ));
        }
    }
    let (_, first, _) = fetch(
        &client,
        &server.url("/api/v2/occurrences/?project_id=1&limit=15"),
        None,
    )
    .await;
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    for id in common::ids(&first) {
        targets.push(format!("/api/v2/occurrences/{id}/?project_id=1"));
    }
    let mut keys = Vec::new();
    for target in &targets {
        for token in [None, Some("admintoken"), Some("alicetoken")] {
            let (status, body, _) = fetch(&client, &files.url(target), token).await;
            assert_eq!(status, 200, "{target} {token:?}: {body}");
            keys.push((target.clone(), token, body));
        }
    }
    let keys = Arc::new(keys);
    let answers: Vec<(usize, u16, String)> = futures::stream::iter(0..1000usize)
        .map(|i| {
            let (client, keys, server_url) = (client.clone(), keys.clone(), server.base.clone());
            async move {
                let (target, token, _) = &keys[i % keys.len()];
                let (status, body, _) =
                    fetch(&client, &format!("{server_url}{target}"), *token).await;
                (i % keys.len(), status, body)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(answers.len(), 1000);
    for (k, status, body) in answers {
        assert_eq!(status, 200, "{}", keys[k].0);
        assert!(
            body == keys[k].2,
            "{} ({:?}): the concurrent answer differs",
            keys[k].0,
            keys[k].1
        );
    }
}

/// A tiny snapshot with `n` valid occurrences.
fn tiny(dir: &Path, n: i64) {
    let mut t = Tiny::new();
    for id in 1..=n {
        t.simple(id, 4, 0.9);
    }
    t.b.write(dir).unwrap();
}

async fn count(client: &reqwest::Client, server: &Served) -> (u16, i64) {
    let (status, body, _) = fetch(
        client,
        &server.url("/api/v2/occurrences/?project_id=1"),
        None,
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    (status, v["count"].as_i64().unwrap_or(-1))
}

/// Point `link` at `target` atomically (a new link renamed over the old one).
fn flip(link: &Path, target: &Path) {
    let new = link.with_extension("new");
    std::os::unix::fs::symlink(target, &new).unwrap();
    std::fs::rename(&new, link).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_snapshot_version_is_swapped_in_without_a_failed_request() {
    let work = tempfile::tempdir().unwrap();
    let (v1, v2, v3) = (
        work.path().join("v1"),
        work.path().join("v2"),
        work.path().join("v3"),
    );
    tiny(&v1, 1);
    tiny(&v2, 2);
    tiny(&v3, 3);
    let current = work.path().join("current");
    std::os::unix::fs::symlink(&v1, &current).unwrap();
    let cache = work.path().join("cache");
    let server = Served::on(&current, &cache, &["--reload-every", "0.3", "--quiet"]);
    let client = reqwest::Client::new();
    assert_eq!(count(&client, &server).await, (200, 1));
    // Requests run all along; the snapshot changes under them twice (timer, then SIGHUP).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let (client, stop, url) = (
            client.clone(),
            stop.clone(),
            server.url("/api/v2/occurrences/?project_id=1"),
        );
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                statuses.push(fetch(&client, &url, None).await.0);
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    flip(&current, &v2);
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&client, &server).await.1 != 2 {
        assert!(
            Instant::now() < deadline,
            "version 2 never answered: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status, _) = fetch(&client, &server.url("/_occlens/status"), None).await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(status["snapshot"]["version"], 2, "{status}");
    flip(&current, &v3);
    server.signal("-HUP");
    while count(&client, &server).await.1 != 3 {
        assert!(
            Instant::now() < deadline,
            "version 3 never answered: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A version that cannot be opened is logged; the old one keeps answering.
    let broken = work.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("main_occurrence.parquet"), b"not parquet").unwrap();
    flip(&current, &broken);
    server.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(count(&client, &server).await, (200, 3));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let statuses = hammer.await.unwrap();
    assert!(statuses.len() > 5, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (code, log) = server.stop();
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("keeps answering"), "{log}");
    // Every version's cache entry is complete; no temporary is left in --cache-dir.
    let names: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".occlens-")), "{names:?}");
    assert!(names.len() >= 3, "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_requests_in_flight_finish_then_exits_0() {
    let snapshot = oracle().join("snapshot");
    let server = Served::start(
        &["--snapshot", snapshot.to_str().unwrap(), "--cache", "off"],
        &["--max-in-flight", "1", "--quiet"],
    );
    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..6)
        .map(|i| {
            let (client, url) = (
                client.clone(),
                server.url(&format!(
                    "/api/v2/occurrences/?project_id=1&ordering=-duration&offset={i}"
                )),
            );
            tokio::spawn(async move { fetch(&client, &url, None).await.0 })
        })
        .collect();
    // Wait until they are all in the server (one answering, the rest queued).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body, _) = fetch(&client, &server.url("/_occlens/status"), None).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["server"]["in_flight"].as_u64().unwrap_or(0) >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "requests never arrived: {v}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let base = server.base.clone();
    let (code, log) = tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
    for r in requests {
        assert_eq!(r.await.unwrap(), 200, "{log}");
    }
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("finishing the requests in flight"), "{log}");
    assert!(client
        .get(format!("{base}/_occlens/status"))
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_statuses_status_and_metrics() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let snapshot = work.path().join("snap");
    tiny(&snapshot, 3);
    let snap = snapshot.to_str().unwrap();
    let tokens = tokens_file(work.path());
    // A tokens file others can read: refused before anything starts, the tokens not printed.
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = common::occlens_with(
        &[
            "--snapshot",
            snap,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tokens",
            tokens.to_str().unwrap(),
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");
    assert!(!err.contains("admintoken"), "{err}");
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cache = work.path().join("cache");
    let server = Served::on(
        &snapshot,
        &cache,
        &["--tokens", tokens.to_str().unwrap(), "--metrics"],
    );
    let client = reqwest::Client::new();
    let list = "/api/v2/occurrences/?project_id=1";
    // The requester of a token is applied: the superuser's user_permissions, not anonymous's.
    let config = occlens::Config {
        api_base: server.base.clone(),
        ..occlens::Config::default()
    };
    let engine = occlens::Engine::open(Some(snap), config).await.unwrap();
    let (_, admin, _) = fetch(&client, &server.url(list), Some("admintoken")).await;
    let (_, anonymous, _) = fetch(&client, &server.url(list), None).await;
    let expect = |who: Requester| {
        let engine = &engine;
        async move { to_json(&get(engine, list, &who).await.unwrap().body) }
    };
    assert_eq!(admin, expect(Requester::Superuser(Some(2))).await);
    assert_eq!(anonymous, expect(Requester::Anonymous).await);
    assert_ne!(admin, anonymous);
    // Asked again: the remembered answers, each its requester's.
    assert_eq!(fetch(&client, &server.url(list), None).await.1, anonymous);
    assert_eq!(
        fetch(&client, &server.url(list), Some("admintoken"))
            .await
            .1,
        admin
    );
    let (status, body, _) = fetch(&client, &server.url(list), Some("wrong")).await;
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    let (status, body, _) = fetch(&client, &server.url(list), Some("ghosttoken")).await;
    assert_eq!(
        (status, body.as_str()),
        (401, r#"{"detail":"Invalid token."}"#)
    );
    let (status, body, _) = fetch(&client, &server.url("/api/v2/jobs/"), None).await;
    assert_eq!((status, body.as_str()), (404, r#"{"detail":"Not found."}"#));
    let response = client.post(server.url(list)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    // DRF authenticates before the method's handler and after Django resolved the URL: a bad
    // token is 401 for POST and OPTIONS too, and an unrouted path is 404 whatever the token.
    // Two Authorization headers are joined with "," as Django joins them.
    let posted = client
        .post(server.url(list))
        .header("Authorization", "Token wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 401);
    let options = client
        .request(reqwest::Method::OPTIONS, server.url(list))
        .header("Authorization", "Token wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(options.status().as_u16(), 401);
    let (status, _, _) = fetch(&client, &server.url("/api/v2/jobs/"), Some("wrong")).await;
    assert_eq!(status, 404);
    let twice = client
        .get(server.url(list))
        .header("Authorization", "Token admintoken")
        .header("Authorization", "Token wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status().as_u16(), 401);
    assert_eq!(
        twice.text().await.unwrap(),
        r#"{"detail":"Invalid token header. Token string should not contain spaces."}"#
    );
    // A client that sends its request and closes its side (`nc -N`) is answered.
    {
        use std::io::{Read as _, Write as _};
        let addr = server.base.trim_start_matches("http://").to_string();
        let mut socket = std::net::TcpStream::connect(&addr).unwrap();
        socket
            .write_all(format!("GET {list} HTTP/1.0\r\n\r\n").as_bytes())
            .unwrap();
        socket.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = String::new();
        socket.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
        assert!(answer.ends_with(&anonymous), "{answer}");
    }
    // SIGHUP never ends a server (it checks for a new snapshot version).
    server.signal("-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fetch(&client, &server.url(list), None).await.0, 200);
    let long = format!("{list}&x={}", "a".repeat(10_000));
    assert_eq!(fetch(&client, &server.url(&long), None).await.0, 414);
    let head = client.head(server.url(list)).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    let (status, body, _) = fetch(&client, &server.url("/_occlens/status"), None).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(v["snapshot"]["version"], 1);
    assert!(v["server"]["requests"].as_u64().unwrap() >= 6, "{v}");
    // The two repeated GETs, the unrouted one with a bad token, the half-closed one, the one
    // after SIGHUP and the HEAD were answered from the remembered answers.
    assert_eq!(v["snapshot"]["answers_remembered"]["hits"], 6, "{v}");
    let (status, metrics, _) = fetch(&client, &server.url("/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"occlens_http_requests_total{endpoint="list",status="401"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("occlens_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    let (code, log) = server.stop();
    assert_eq!(code, 0);
    assert!(
        !log.contains("admintoken") && !log.contains("wrong") && !log.contains("ghosttoken"),
        "{log}"
    );
    assert!(log.contains(&format!("GET {list} 401")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_answer_503_504_and_cors_headers() {
    let snapshot = oracle().join("snapshot");
    let snap = snapshot.to_str().unwrap();
    let list = "/api/v2/occurrences/?project_id=1&ordering=-duration";
    // One slot, no queue: of simultaneous requests, the ones without a slot get 503.
    let server = Served::start(
        &["--snapshot", snap, "--cache", "off"],
        &["--max-in-flight", "1", "--max-queued", "0", "--quiet"],
    );
    let client = reqwest::Client::new();
    let answers = futures::future::join_all((0..6).map(|i| {
        let request = client.get(server.url(&format!("{list}&offset={i}")));
        async move { request.send().await.unwrap() }
    }))
    .await;
    let busy: Vec<_> = answers.iter().filter(|r| r.status() == 503).collect();
    assert!(
        !busy.is_empty() && busy.len() < 6,
        "{:?}",
        answers.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert_eq!(busy[0].headers()["retry-after"], "1");
    drop(server);
    // A request longer than --timeout: 504; browsers from --cors-origin get its header.
    let server = Served::start(
        &["--snapshot", snap, "--cache", "off"],
        &[
            "--timeout",
            "0.001",
            "--cors-origin",
            "https://app.example",
            "--quiet",
        ],
    );
    let response = client
        .get(server.url(list))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 504);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let other = client
        .get(server.url("/_occlens/status"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 200);
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// A connection that sends no request head (idle, or a header line a second) is closed after
/// --header-timeout, and at most --max-connections are open: the others wait for a slot,
/// never a lock-up (idle sockets once held the server until its file descriptors ran out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_and_bounded() {
    use std::io::{Read as _, Write as _};
    let snapshot = oracle().join("snapshot");
    let snap = snapshot.to_str().unwrap();
    let server = Served::start(
        &["--snapshot", snap, "--cache", "off"],
        &["--header-timeout", "1", "--max-connections", "2", "--quiet"],
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    // Both slots taken: one connection silent, one sending half a request head.
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /_occlens/status HTTP/1.1\r\n")
        .unwrap();
    let started = Instant::now();
    // A request waits for a slot, then is answered.
    let (status, _, _) = fetch(
        &reqwest::Client::new(),
        &server.url("/_occlens/status"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    // The silent connection was closed by the server (end of stream, no answer).
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    silent.read_to_end(&mut buf).unwrap();
    assert!(buf.is_empty(), "{}", String::from_utf8_lossy(&buf));
    let _ = slow;
}

/// A client that sends requests and never reads their answers is dropped once the server's
/// writes have waited --timeout: it held its connection (and a stop of the server) for as
/// long as it stayed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped() {
    use std::io::Write as _;
    let snapshot = oracle().join("snapshot");
    let snap = snapshot.to_str().unwrap();
    let server = Served::start(
        &["--snapshot", snap, "--cache", "off"],
        &["--timeout", "2", "--max-connections", "1", "--quiet"],
    );
    let addr = server.base.trim_start_matches("http://").to_string();
    let mut greedy = std::net::TcpStream::connect(&addr).unwrap();
    let request = "GET /api/v2/occurrences/?project_id=1&limit=500 HTTP/1.1\r\nHost: x\r\n\r\n";
    greedy
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = greedy.write_all(request.repeat(50).as_bytes());
    let started = Instant::now();
    let (status, _, _) = fetch(
        &reqwest::Client::new(),
        &server.url("/_occlens/status"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let (code, _) = server.stop();
    assert_eq!(code, 0);
    drop(greedy);
}
