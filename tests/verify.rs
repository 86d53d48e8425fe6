//! `occlens verify` end to end: recorded responses (JSON lines and HAR), a deliberately altered
//! copy reported at the right pointers, `--ignore`, and live mode against an HTTP server on
//! 127.0.0.1 that serves recorded answers after a 429, a 500 and a slow response.

mod common;

use common::oracle;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The first `n` records of a shared response file whose URL passes `keep`.
fn records(file: &str, n: usize, keep: impl Fn(&Value) -> bool) -> Vec<Value> {
    let gz = std::fs::File::open(oracle().join("api").join(file)).unwrap();
    std::io::BufReader::new(flate2::read::GzDecoder::new(gz))
        .lines()
        .map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap())
        .filter(|r| keep(r))
        .take(n)
        .collect()
}

fn write_lines(path: &Path, records: &[Value]) {
    let mut f = std::fs::File::create(path).unwrap();
    for r in records {
        writeln!(f, "{r}").unwrap();
    }
}

/// Run occlens against the shared snapshot; (exit code, stdout, stderr).
fn occlens(args: &[&str]) -> (i32, String, String) {
    let snapshot = oracle().join("snapshot");
    let base = [
        "--snapshot",
        snapshot.to_str().unwrap(),
        "--api-base",
        "http://testserver",
    ];
    common::occlens_with(&[&base[..], args].concat(), &[])
}

fn sample() -> Vec<Value> {
    let admin = |r: &Value| r["as_user"] == "admin@oracle.test";
    let mut all = records("occurrences_list.jsonl.gz", 6, |r| {
        admin(r)
            && r["url"]
                .as_str()
                .unwrap()
                .contains("ordering=-determination_score")
    });
    all.extend(records("occurrences_list.jsonl.gz", 2, |r| {
        r["as_user"] == "alice@oracle.test"
    }));
    all.extend(records("occurrences_detail.jsonl.gz", 8, admin));
    all
}

/// Scores whose decimal text the default JSON float parse reads one unit in the last place
/// off: `api --batch`'s own answers, checked by `verify`, all match (session 60: 16 of 43
/// such responses were reported as differing).
#[test]
fn answers_of_api_batch_verify_as_they_are() {
    let work = tempfile::tempdir().unwrap();
    let snap = work.path().join("s");
    let mut t = common::Tiny::new();
    for (id, score) in [
        (1, 0.9625093108816529),
        (2, 0.1 + 0.2),
        (3, 2.0f64.sqrt() / 2.0),
    ] {
        t.simple(id, 4, score);
    }
    t.b.write(&snap).unwrap();
    let s = snap.to_str().unwrap();
    let requests = work.path().join("requests.txt");
    std::fs::write(
        &requests,
        "/api/v2/occurrences/?project_id=1\n/api/v2/occurrences/1/\n/api/v2/occurrences/3/\n",
    )
    .unwrap();
    let base = ["--snapshot", s, "--api-base", "http://testserver"];
    let args = [&base[..], &["api", "--batch", requests.to_str().unwrap()]].concat();
    let (code, answers, err) = common::occlens_with(&args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(answers.contains("0.9625093108816529"), "{answers}");
    let recorded = work.path().join("answers.jsonl");
    std::fs::write(&recorded, answers).unwrap();
    let args = [
        &base[..],
        &["verify", "--responses", recorded.to_str().unwrap()],
    ]
    .concat();
    let (code, out, err) = common::occlens_with(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    // A batch line's credentials are not echoed in its answer's "url" (they were, on stdout,
    // while stderr had them redacted).
    let pasted = work.path().join("pasted.txt");
    std::fs::write(&pasted, "http://user:secretpw@h/api/v2/occurrences/1/\n").unwrap();
    let args = [&base[..], &["api", "--batch", pasted.to_str().unwrap()]].concat();
    let (_, echoed, err) = common::occlens_with(&args, &[]);
    assert!(
        echoed.contains("\"url\":\"http://user:***@h/"),
        "{echoed}{err}"
    );
    assert!(
        !echoed.contains("secretpw") && !err.contains("secretpw"),
        "{echoed}{err}"
    );
    let parsed: Value = serde_json::from_str("0.9625093108816529").unwrap();
    assert_eq!(parsed.as_f64(), Some(0.9625093108816529));
    // A URL's fragment (a HAR entry's, a pasted link's) is not part of its last value.
    let fragment = "/api/v2/occurrences/?project_id=1&limit=1#results";
    let (code, out, err) = common::occlens_with(&[&base[..], &["api", fragment]].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            body["count"].clone(),
            body["results"].as_array().unwrap().len()
        ),
        (json!(3), 1)
    );
}

#[test]
fn recorded_responses_match() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sample.jsonl");
    let sample = sample();
    write_lines(&file, &sample);
    let (code, out, err) = occlens(&[
        "verify",
        "--responses",
        file.to_str().unwrap(),
        "--superuser",
        "admin@oracle.test",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "{0} responses checked: {0} match, 0 differ; 0 skipped\n",
            sample.len()
        )),
        "{out}"
    );
}

#[test]
fn altered_copy_is_reported_at_its_pointers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("altered.jsonl");
    let mut sample = sample();
    // A list page ordered by -determination_score: one row's detections_count (not a sort key).
    let page = sample
        .iter()
        .position(|r| r["body"]["results"][1].is_object())
        .unwrap();
    let original_count = sample[page]["body"]["results"][1]["detections_count"].clone();
    sample[page]["body"]["results"][1]["detections_count"] = json!(999);
    // A detail: its determination_score, and a status.
    let detail = sample
        .iter()
        .position(|r| {
            r["url"]
                .as_str()
                .unwrap()
                .starts_with("/api/v2/occurrences/3/")
        })
        .unwrap();
    let original_score = sample[detail]["body"]["determination_score"].clone();
    sample[detail]["body"]["determination_score"] = json!(0.123);
    let last = sample
        .iter()
        .rposition(|r| r["status"] == 200 && r["body"]["determination_score"].is_number())
        .unwrap();
    assert!(last > detail);
    sample[last]["status"] = json!(404);
    write_lines(&file, &sample);
    let (code, out, err) = occlens(&[
        "verify",
        "--responses",
        file.to_str().unwrap(),
        "--superuser",
        "admin@oracle.test",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["mismatched"], 3, "{out}");
    assert_eq!(report["matched"], sample.len() - 3);
    let found: Vec<(String, String, Value, Value)> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["url"].as_str().unwrap().to_string(),
                m["pointer"].as_str().unwrap().to_string(),
                m["expected"].clone(),
                m["actual"].clone(),
            )
        })
        .collect();
    let url = |i: usize| sample[i]["url"].as_str().unwrap().to_string();
    assert_eq!(
        found,
        vec![
            (
                url(page),
                "/results/1/detections_count".into(),
                json!(999),
                original_count
            ),
            (
                url(detail),
                "/determination_score".into(),
                json!(0.123),
                original_score
            ),
            (url(last), "(status)".into(), json!(404), json!(200)),
        ]
    );
    assert_eq!(report["by_field"]["/results/*/detections_count"], 1);
    assert_eq!(report["by_endpoint"]["detail"]["mismatched"], 2);

    // Ignoring the altered fields leaves only the status.
    let (code, out, _) = occlens(&[
        "verify",
        "--responses",
        file.to_str().unwrap(),
        "--superuser",
        "admin@oracle.test",
        "--ignore",
        "/results/*/detections_count",
        "--ignore",
        "/determination_score",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("1 differ"), "{out}");
    assert!(out.contains("  (status): expected 404, got 200\n"), "{out}");
}

#[test]
fn har_entries_are_checked_and_others_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.har");
    let details = records("occurrences_detail.jsonl.gz", 2, |r| {
        r["as_user"] == "admin@oracle.test"
    });
    let mut entries: Vec<Value> = details
        .iter()
        .map(|r| {
            json!({"request": {"method": "GET", "url": format!("https://antenna.example.org{}", r["url"].as_str().unwrap())},
                   "response": {"status": r["status"], "content": {"mimeType": "application/json", "text": r["body"].to_string()}}})
        })
        .collect();
    entries.push(
        json!({"request": {"method": "GET", "url": "https://antenna.example.org/api/v2/jobs/"},
                        "response": {"status": 200, "content": {"text": "{}"}}}),
    );
    std::fs::write(
        &file,
        json!({"log": {"version": "1.2", "entries": entries}}).to_string(),
    )
    .unwrap();
    let (code, out, err) = occlens(&[
        "--as",
        "superuser:2",
        "verify",
        "--responses",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("2 responses checked: 2 match, 0 differ; 1 skipped\n"),
        "{out}"
    );
}

#[test]
fn unknown_user_and_missing_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("who.jsonl");
    write_lines(
        &file,
        &[
            json!({"url": "/api/v2/occurrences/3/", "status": 200, "body": {}, "as_user": "nobody@x"}),
        ],
    );
    let (code, _, err) = occlens(&["verify", "--responses", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("who.jsonl: line 1: as_user nobody@x: no user with that email"),
        "{err}"
    );
    let (code, _, err) = occlens(&["verify", "--responses", "/nonexistent.jsonl"]);
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// What the test server does for a path the first time it is asked.
#[derive(Clone, Copy)]
enum First {
    TooManyRequests,
    ServerError,
    Slow,
    Answer,
}

async fn serve(
    listener: tokio::net::TcpListener,
    answers: HashMap<String, (u16, String)>,
    first: HashMap<String, First>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let answers = answers.clone();
        let first = first.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let auth = head
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .map(|l| l.split_once(':').unwrap().1.trim().to_string())
                .unwrap_or_default();
            let earlier = {
                let mut seen = seen.lock().unwrap();
                let n = seen.iter().filter(|(p, _)| *p == path).count();
                seen.push((path.clone(), auth));
                n
            };
            let (status, body, extra) =
                match (earlier, first.get(&path).copied().unwrap_or(First::Answer)) {
                    (0, First::TooManyRequests) => (429, "{}".to_string(), "Retry-After: 0\r\n"),
                    (0, First::ServerError) => (500, "<h1>Server Error</h1>".to_string(), ""),
                    (0, First::Slow) => {
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                        let (s, b) = answers[&path].clone();
                        (s, b, "")
                    }
                    _ => match answers.get(&path) {
                        Some((s, b)) => (*s, b.clone(), ""),
                        None => (404, "{\"detail\": \"Not found.\"}".to_string(), ""),
                    },
                };
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

#[test]
fn live_mode_retries_and_times_out_then_matches() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let sample: Vec<Value> = sample()
        .into_iter()
        .filter(|r| r["as_user"] == "admin@oracle.test")
        .collect();
    let answers: HashMap<String, (u16, String)> = sample
        .iter()
        .map(|r| {
            let url = r["url"].as_str().unwrap().to_string();
            (
                url,
                (r["status"].as_u64().unwrap() as u16, r["body"].to_string()),
            )
        })
        .collect();
    let url = |i: usize| sample[i]["url"].as_str().unwrap().to_string();
    let first = HashMap::from([
        (url(0), First::TooManyRequests),
        (url(1), First::ServerError),
        (url(2), First::Slow),
    ]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    runtime.spawn(serve(listener, answers, first, seen.clone()));

    let dir = tempfile::tempdir().unwrap();
    let urls = dir.path().join("urls.txt");
    let list: Vec<String> = (0..sample.len()).map(url).collect();
    std::fs::write(&urls, list.join("\n") + "\n/api/v2/jobs/\n").unwrap();
    let api = format!("http://127.0.0.1:{port}");
    let (code, out, err) = occlens(&[
        "--as",
        "superuser:2",
        "verify",
        "--api-url",
        &api,
        "--token",
        "s3cret",
        "--urls",
        urls.to_str().unwrap(),
        "--timeout",
        "1",
        "--concurrency",
        "3",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "{0} responses checked: {0} match, 0 differ; 1 skipped\n",
            sample.len()
        )),
        "{out}"
    );
    assert!(!out.contains("s3cret") && !err.contains("s3cret"));
    let seen = seen.lock().unwrap().clone();
    let asked = |u: &str| seen.iter().filter(|(p, _)| p == u).count();
    assert_eq!(asked(&url(0)), 2, "429 then the answer");
    assert_eq!(asked(&url(1)), 2, "500 then the answer");
    assert_eq!(asked(&url(2)), 2, "a timed-out request, then the answer");
    assert_eq!(asked(&url(3)), 1);
    assert!(seen.iter().all(|(_, auth)| auth == "Token s3cret"));

    // Nobody listening: every URL is a fetch_failed row with its cause, one line on stderr,
    // exit 2.
    drop(runtime);
    let (code, out, err) = occlens(&[
        "verify",
        "--api-url",
        &api,
        "--urls",
        urls.to_str().unwrap(),
        "--retries",
        "1",
        "--timeout",
        "1",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("could not be fetched"), "{err}");
    assert!(
        out.starts_with(&format!(
            "0 responses checked: 0 match, 0 differ; 1 skipped; {} could not be fetched\n",
            sample.len()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("fetch_failed ({}):", sample.len())),
        "{out}"
    );
    assert!(
        out.contains(&format!("  GET {}: cannot connect (after 1 retry)", url(0))),
        "{out}"
    );
}

#[test]
fn an_api_that_stays_unavailable_is_fetch_failed_not_a_difference() {
    // Every request answered 503: after the retries, no answer to compare (exit 2).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let body = "{\"detail\": \"down\"}";
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let urls = dir.path().join("urls.txt");
    std::fs::write(&urls, "/api/v2/occurrences/?project_id=1\n").unwrap();
    let api = format!("http://127.0.0.1:{port}");
    let (code, out, err) = occlens(&[
        "verify",
        "--api-url",
        &api,
        "--urls",
        urls.to_str().unwrap(),
        "--retries",
        "1",
        "--timeout",
        "1",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains(
            "GET /api/v2/occurrences/?project_id=1: HTTP 503 Service Unavailable (after 1 retry)"
        ),
        "{out}"
    );
}
