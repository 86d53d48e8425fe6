//! Tokens, error statuses, `/_occlens/status` and `/metrics`; limits (503, 504), CORS, idle
//! and slow connections.

use super::*;

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
