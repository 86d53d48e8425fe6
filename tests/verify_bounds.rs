//! `occlens verify` and `occlens api --batch` on hostile inputs: endless and gzip-bomb inputs
//! stop at their limits with one line naming the input, the line and the limit; live bodies are
//! capped; a `next` loop, a huge Retry-After and a URL slower than the timeout cannot hold the
//! run (a URL that fails is a `fetch_failed` row and the run goes on, exit 2); `--timeout`
//! values that are no duration, HAR statuses that are no HTTP status and `as_user` values that
//! are not strings are errors, never panics or silent fallbacks.

mod common;

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Run occlens (the built-in demo snapshot); (exit code, stdout, stderr).
fn occlens(args: &[&str]) -> (i32, String, String) {
    common::occlens_with(args, &[])
}

/// stderr is one line and no panic.
fn one_line(err: &str) {
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A local HTTP server answering each request with `handler(path, how many times the path was
/// asked before)` (a raw HTTP response); it records every path asked.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(handler: impl Fn(&str, usize) -> Vec<u8> + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let handler = Arc::new(handler);
        let recorded = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut socket) = conn else { return };
                let (seen, handler) = (recorded.clone(), handler.clone());
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let before = {
                        let mut seen = seen.lock().unwrap();
                        let n = seen.iter().filter(|p| **p == path).count();
                        seen.push(path.clone());
                        n
                    };
                    let response = handler(&path, before);
                    let _ = socket.write_all(&response);
                    let _ = socket.shutdown(Shutdown::Both);
                });
            }
        });
        Server { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn asked(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

fn response(status: u16, body: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn not_found() -> Vec<u8> {
    response(404, r#"{"detail": "Not found."}"#, "")
}

fn write_urls(dir: &Path, urls: &[&str]) -> String {
    let file = dir.join("urls.txt");
    std::fs::write(&file, urls.join("\n") + "\n").unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn responses_from_dev_zero_stop_at_the_line_limit() {
    let started = Instant::now();
    let (code, _, err) = occlens(&["verify", "--responses", "/dev/zero"]);
    assert_eq!(code, 2, "{err}");
    one_line(&err);
    assert!(
        err.contains("/dev/zero: line 1: line longer than 64 MiB, the limit of --max-line-bytes"),
        "{err}"
    );
    let (code, _, err) = occlens(&[
        "verify",
        "--responses",
        "/dev/zero",
        "--max-line-bytes",
        "1K",
    ]);
    assert_eq!(code, 2, "{err}");
    one_line(&err);
    assert!(
        err.contains("/dev/zero: line 1: line longer than 1 KiB, the limit of --max-line-bytes"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // --urls is read the same way.
    let (code, _, err) = occlens(&[
        "verify",
        "--api-url",
        "http://127.0.0.1:1",
        "--urls",
        "/dev/zero",
        "--max-line-bytes",
        "1MiB",
    ]);
    assert_eq!(code, 2, "{err}");
    one_line(&err);
    assert!(
        err.contains("/dev/zero: line 1: line longer than 1 MiB"),
        "{err}"
    );
}

#[test]
fn gzip_bombs_stop_at_the_decompressed_limit() {
    use flate2::{write::GzEncoder, Compression};
    let dir = tempfile::tempdir().unwrap();
    let gzip = |name: &str, byte: u8, mib: usize| {
        let path = dir.path().join(name);
        let mut gz = GzEncoder::new(std::fs::File::create(&path).unwrap(), Compression::best());
        let block = vec![byte; 1 << 20];
        for _ in 0..mib {
            gz.write_all(&block).unwrap();
        }
        gz.finish().unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
        path.to_str().unwrap().to_string()
    };
    // 64 MiB of empty lines: the total stops it.
    let lines = gzip("lines.jsonl.gz", b'\n', 64);
    let (code, _, err) = occlens(&["verify", "--responses", &lines, "--max-input-bytes", "4MiB"]);
    assert_eq!(code, 2, "{err}");
    one_line(&err);
    assert!(
        err.contains(&format!(
            "{lines}: line 4194305: input larger than 4 MiB (decompressed), the limit of --max-input-bytes"
        )),
        "{err}"
    );
    // 64 MiB of zeros without a line end: the line limit stops it.
    let zeros = gzip("zeros.gz", 0, 64);
    let (code, _, err) = occlens(&["verify", "--responses", &zeros, "--max-line-bytes", "8M"]);
    assert_eq!(code, 2, "{err}");
    one_line(&err);
    assert!(
        err.contains(&format!("{zeros}: line 1: line longer than 8 MiB")),
        "{err}"
    );
}

#[test]
fn api_batch_from_dev_zero_is_a_line_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_occlens"))
        .args(["api", "--batch", "-", "--max-line-bytes", "1MiB"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .env(
            "OCCLENS_CACHE_DIR",
            std::env::temp_dir().join("occlens-tests-cache"),
        )
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    one_line(&err);
    assert!(
        err.contains(
            "--batch - (stdin): line 1: line longer than 1 MiB, the limit of --max-line-bytes"
        ),
        "{err}"
    );
}

#[test]
fn non_string_as_user_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("who.jsonl");
    for (value, kind) in [
        ("5", "a number"),
        ("null", "null"),
        ("[\"a@t\"]", "an array"),
    ] {
        std::fs::write(
            &file,
            format!(
                "{}\n{{\"url\": \"/api/v2/occurrences/1/\", \"status\": 404, \"body\": {{}}, \"as_user\": {value}}}\n",
                json!({"url": "/api/v2/occurrences/1/", "status": 404, "body": {}})
            ),
        )
        .unwrap();
        let (code, _, err) = occlens(&[
            "--as",
            "superuser",
            "verify",
            "--responses",
            file.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{err}");
        one_line(&err);
        assert!(
            err.contains(&format!(
                "who.jsonl: line 2: \"as_user\" is {kind}, expected a string"
            )),
            "{err}"
        );
    }
    let batch = dir.path().join("batch.txt");
    std::fs::write(
        &batch,
        "/api/v2/occurrences/?project_id=1&limit=1\n{\"url\": \"/api/v2/occurrences/\", \"as_user\": 2}\n",
    )
    .unwrap();
    let (code, out, err) = occlens(&[
        "--as",
        "superuser",
        "api",
        "--batch",
        batch.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    one_line(&err);
    assert!(
        err.contains("batch.txt: line 2: \"as_user\" is a number, expected a string"),
        "{err}"
    );
    assert_eq!(out.lines().count(), 1, "the first line was answered: {out}");
}

#[test]
fn har_status_outside_http_is_an_error_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.har");
    let entry = |status: Value| {
        json!({"request": {"method": "GET", "url": "https://a.example/api/v2/occurrences/1/"},
               "response": {"status": status, "content": {"text": "{}"}}})
    };
    for status in [json!(70000), json!(-200), json!(99), json!("200")] {
        let har =
            json!({"log": {"version": "1.2", "entries": [entry(json!(0)), entry(status.clone())]}});
        std::fs::write(&file, serde_json::to_string_pretty(&har).unwrap()).unwrap();
        let (code, _, err) = occlens(&["verify", "--responses", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        one_line(&err);
        assert!(
            err.contains(&format!(
                "session.har: log.entries[1] (GET https://a.example/api/v2/occurrences/1/): response status {status} is not an HTTP status"
            )),
            "{err}"
        );
    }
}

#[test]
fn timeouts_that_are_no_duration_are_usage_errors() {
    for bad in ["1e300", "-1", "0", "NaN", "inf", "-inf", "86401", "abc"] {
        let (code, _, err) = occlens(&[
            "verify",
            "--api-url",
            "http://127.0.0.1:1",
            "--urls",
            "/nonexistent",
            &format!("--timeout={bad}"),
        ]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(!err.contains("panicked"), "{bad}: {err}");
        assert!(
            err.contains(&format!("invalid value '{bad}' for '--timeout <SECONDS>'")),
            "{bad}: {err}"
        );
    }
    for bad in ["0", "-5", "1X", "99999999999999999999G"] {
        let (code, _, err) = occlens(&[
            "verify",
            "--responses",
            "/nonexistent",
            &format!("--max-line-bytes={bad}"),
        ]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(err.contains("invalid value"), "{bad}: {err}");
    }
}

#[test]
fn live_bodies_are_capped() {
    let big = format!("{{\"pad\": \"{}\"}}", " ".repeat(2 << 20));
    let server = Server::start(move |path, _| match path {
        // Announced by Content-Length.
        "/api/v2/occurrences/1/" => response(200, &big, ""),
        // Close-delimited: only streaming finds out.
        "/api/v2/occurrences/2/" => format!(
            "HTTP/1.1 200 X\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{big}"
        )
        .into_bytes(),
        _ => not_found(),
    });
    let dir = tempfile::tempdir().unwrap();
    let urls = write_urls(
        dir.path(),
        &[
            "/api/v2/occurrences/1/",
            "/api/v2/occurrences/2/",
            "/api/v2/occurrences/999999/",
        ],
    );
    let (code, out, err) = occlens(&[
        "verify",
        "--api-url",
        &server.url(),
        "--urls",
        &urls,
        "--max-body-bytes",
        "1MiB",
        "--retries",
        "0",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    one_line(&err);
    assert!(err.contains("2 URLs could not be fetched"), "{err}");
    assert!(
        out.starts_with("1 responses checked: ")
            && out.contains(" 0 skipped; 2 could not be fetched\n"),
        "{out}"
    );
    for n in [1, 2] {
        assert!(
            out.contains(&format!(
                "  GET /api/v2/occurrences/{n}/: response body larger than 1 MiB, the limit of --max-body-bytes\n"
            )),
            "{out}"
        );
        assert_eq!(
            server.asked(&format!("/api/v2/occurrences/{n}/")),
            1,
            "not retried"
        );
    }
}

#[test]
fn a_next_link_loop_stops_the_walk() {
    let first = "/api/v2/occurrences/?project_id=1&limit=100";
    let server = Server::start(move |path, _| {
        if path == first {
            // (A count beyond the page's results: the loop, not the count, stops it.)
            let page = json!({"count": 1000, "next": format!("http://testserver{first}"), "previous": null,
                              "results": [{"id": 999999}]});
            response(200, &page.to_string(), "")
        } else {
            not_found()
        }
    });
    let (code, out, err) = occlens(&[
        "verify",
        "--api-url",
        &server.url(),
        "--project",
        "1",
        "--retries",
        "0",
        "--format",
        "json",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    one_line(&err);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["fetch_failed"], 1, "{out}");
    let failure = &report["failures"][0];
    assert_eq!(failure["url"], first);
    assert_eq!(failure["class"], "fetch_failed");
    assert!(
        failure["cause"]
            .as_str()
            .unwrap()
            .contains("repeats a page already fetched (a loop)"),
        "{out}"
    );
    assert_eq!(server.asked(first), 1);
    assert_eq!(server.asked("/api/v2/occurrences/999999/?project_id=1"), 1);
    assert_eq!(report["checked"], 2, "the page and its detail: {out}");
}

#[test]
fn retry_after_is_capped_and_a_slow_url_is_retried_once() {
    let server = Server::start(|path, before| match (path, before) {
        ("/api/v2/occurrences/1/", 0) => response(429, "{}", "Retry-After: 999999999\r\n"),
        ("/api/v2/occurrences/2/", _) => {
            std::thread::sleep(Duration::from_secs(4));
            response(200, "{}", "")
        }
        _ => not_found(),
    });
    let dir = tempfile::tempdir().unwrap();
    let urls = write_urls(
        dir.path(),
        &[
            "/api/v2/occurrences/1/",
            "/api/v2/occurrences/2/",
            "/api/v2/occurrences/3/",
        ],
    );
    let started = Instant::now();
    let (code, out, err) = occlens(&[
        "verify",
        "--api-url",
        &server.url(),
        "--urls",
        &urls,
        "--timeout",
        "1",
        "--retries",
        "3",
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(code, 2, "{out}{err}");
    one_line(&err);
    // The 429 waited (at most --timeout) and was asked again; the slow URL was asked twice, not
    // four times; the others were checked.
    assert_eq!(server.asked("/api/v2/occurrences/1/"), 2);
    assert_eq!(server.asked("/api/v2/occurrences/2/"), 2);
    assert_eq!(server.asked("/api/v2/occurrences/3/"), 1);
    assert!(out.starts_with("2 responses checked: "), "{out}");
    assert!(
        out.contains(
            "  GET /api/v2/occurrences/2/: timed out after 1 s (--timeout) (after 1 retry)\n"
        ),
        "{out}"
    );
}

/// A server whose `next` links never end (each page one result, the count 1) once held 4 GB
/// after 30 s: the walk stops once its pages hold the page's count of results, and once they
/// hold more than --max-input-bytes.
#[test]
fn endless_next_links_stop_the_walk() {
    let first = "/api/v2/occurrences/?project_id=1&limit=100";
    for (count, bound, cause) in [
        (1, "4GiB", "`next` link after 1 results, the page's count being 1; stopped walking"),
        (
            1_000_000_000,
            "1KiB",
            "the pages fetched hold more than 1 KiB, the limit of --max-input-bytes; stopped walking",
        ),
    ] {
        let server = Server::start(move |path, _| match path.strip_prefix(first) {
            Some(rest) => {
                let offset: u64 = rest.strip_prefix("&offset=").map_or(0, |o| o.parse().unwrap());
                let page = json!({"count": count,
                                  "next": format!("http://testserver{first}&offset={}", offset + 100),
                                  "previous": null,
                                  "results": [{"id": 999999, "padding": "x".repeat(300)}]});
                response(200, &page.to_string(), "")
            }
            None => not_found(),
        });
        let (code, out, err) = occlens(&[
            "verify",
            "--api-url",
            &server.url(),
            "--project",
            "1",
            "--retries",
            "0",
            "--max-input-bytes",
            bound,
            "--format",
            "json",
        ]);
        assert_eq!(code, 2, "{out}{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["fetch_failed"], 1, "{out}");
        let failure = &report["failures"][0];
        assert_eq!(failure["class"], "fetch_failed");
        assert_eq!(failure["cause"], cause, "{out}");
        let pages = (0..20)
            .map(|i| server.asked(&format!("{first}&offset={}", i * 100)))
            .sum::<usize>()
            + server.asked(first);
        assert!(pages <= 5, "{pages} pages fetched");
    }
}

/// `--api-url` is the API's scheme and host: a path naming the API, a query or another
/// scheme made every request a 404 reported as a difference, or a fetch_failed row each.
#[test]
fn an_api_url_with_a_path_query_or_other_scheme_is_refused() {
    for (url, names) in [
        ("http://127.0.0.1:9/api/v2", "already names the API"),
        ("http://127.0.0.1:9/%61pi/", "already names the API"),
        ("http://127.0.0.1:9/?token=SECRET", "a query or fragment"),
        ("ftp://127.0.0.1:9", "ftp:// is not http or https"),
        ("127.0.0.1:9", "expected the API's scheme and host"),
        // Sent as Basic beside --token's Token: Django joins them, DRF reads neither.
        ("http://alice:SECRET@127.0.0.1:9", "credentials in the URL"),
    ] {
        let (code, out, err) = occlens(&["verify", "--api-url", url, "--project", "1"]);
        assert_ne!(code, 0, "{url}: {out}");
        one_line(&err);
        assert!(err.contains(names), "{url}: {err}");
        assert!(!err.contains("SECRET"), "{err}");
    }
    // An empty token, or one with a space, is refused once (DRF refused it on every URL).
    for token in ["", "two words"] {
        let (code, _, err) = occlens(&[
            "verify",
            "--api-url",
            "http://127.0.0.1:9",
            "--project",
            "1",
            "--token",
            token,
        ]);
        assert_ne!(code, 0);
        one_line(&err);
        assert!(
            err.contains("--token: empty or holding whitespace"),
            "{err}"
        );
    }
}
