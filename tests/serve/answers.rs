//! The answers: the fixture's recorded requests over HTTP as `occlens api` gives them (and
//! `verify --api-url`), concurrent requests as sequential ones.

use super::*;

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
