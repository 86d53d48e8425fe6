//! A new snapshot version swapped in without a failed request; SIGTERM's graceful shutdown.

use super::*;

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
