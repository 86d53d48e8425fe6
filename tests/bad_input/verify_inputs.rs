//! Bad inputs to `verify`: HAR files, URLs, tokens, responses.

use super::*;

pub(super) fn verify_inputs(good: &str, work: &Path, cases: &mut Vec<Case>) {
    let w = |name: &str, bytes: &[u8]| {
        let p = work.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_string_lossy().to_string()
    };
    let garbage = w("garbage.jsonl", b"{not json}\n");
    let har_status = w(
        "status.har",
        br#"{"log": {"entries": [{"request": {"method": "GET", "url": "http://x/api/v2/occurrences/?project_id=1"}, "response": {"status": 70000, "content": {"text": "{}"}}}]}}"#,
    );
    let as_user = w(
        "as_user.jsonl",
        br#"{"url": "/api/v2/occurrences/?project_id=1", "status": 200, "body": {}, "as_user": 5}"#,
    );
    let gz = w(
        "truncated.jsonl.gz",
        &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2],
    );
    let long = w("long.jsonl", &vec![b'x'; 4096]);
    let missing = work.join("missing.jsonl").to_string_lossy().to_string();
    // Nothing to check was reported as a pass ("0 responses checked", exit 0).
    let blank = w("blank.jsonl", b"\n  \n");
    let no_entries = w("empty.har", br#"{"log": {"entries": []}}"#);
    // A HAR file cut short (a browser's save interrupted): reported as a HAR document, not
    // as its first line's JSON-lines error.
    let cut_har = w(
        "cut.har",
        b"{\n  \"log\": {\n    \"entries\": [\n      {\"request\": {\"method\": \"GET\"",
    );
    // An as_user no user of the snapshot has: the message names its line.
    let nobody = w(
        "nobody.jsonl",
        b"\n{\"url\": \"/api/v2/occurrences/?project_id=1\", \"status\": 200, \"body\": {}, \"as_user\": \"nobody@example.org\"}\n",
    );
    // Nor a check whose every entry was skipped (session 59: exit 0).
    let all_skipped = w(
        "skipped.jsonl",
        br#"{"url": "/api/v2/../../../etc/passwd", "status": 200, "body": {}}"#,
    );
    let post_only = w(
        "post.har",
        br#"{"log": {"entries": [{"request": {"method": "POST", "url": "http://x/api/v2/occurrences/?project_id=1"}, "response": {"status": 200, "content": {"text": "{}"}}}]}}"#,
    );
    for (name, args, code, names) in [
        // NaN matched nothing and inf everything (count 999999 against 1592).
        (
            "verify: --float-tolerance NaN",
            vec![
                "verify",
                "--responses",
                garbage.as_str(),
                "--float-tolerance",
                "NaN",
            ],
            Some(2),
            "--float-tolerance",
        ),
        (
            "verify: --float-tolerance inf",
            vec![
                "verify",
                "--responses",
                garbage.as_str(),
                "--float-tolerance",
                "inf",
            ],
            Some(2),
            "not a finite number",
        ),
        (
            "verify: no responses",
            vec!["verify", "--responses", blank.as_str()],
            Some(2),
            "no responses",
        ),
        (
            "verify: a HAR file without entries",
            vec!["verify", "--responses", no_entries.as_str()],
            Some(2),
            "no responses",
        ),
        (
            "verify: missing file",
            vec!["verify", "--responses", missing.as_str()],
            Some(2),
            "missing.jsonl",
        ),
        (
            "verify: garbage line",
            vec!["verify", "--responses", garbage.as_str()],
            Some(2),
            "garbage.jsonl",
        ),
        (
            "verify: HAR status out of range",
            vec!["verify", "--responses", har_status.as_str()],
            Some(2),
            "70000",
        ),
        (
            "verify: a HAR file cut short",
            vec!["verify", "--responses", cut_har.as_str()],
            Some(2),
            "cut.har: an incomplete or invalid HAR document",
        ),
        (
            "verify: --superuser of no user",
            vec![
                "verify",
                "--responses",
                nobody.as_str(),
                "--superuser",
                "typo@example.org",
            ],
            Some(2),
            "--superuser typo@example.org: no user",
        ),
        (
            "verify: as_user of no user",
            vec!["verify", "--responses", nobody.as_str()],
            Some(2),
            "nobody.jsonl: line 2: as_user nobody@example.org",
        ),
        (
            "verify: as_user not a string",
            vec!["verify", "--responses", as_user.as_str()],
            Some(2),
            "as_user",
        ),
        (
            "verify: truncated gzip",
            vec!["verify", "--responses", gz.as_str()],
            Some(2),
            "truncated.jsonl.gz",
        ),
        (
            "verify: a line over the limit",
            vec![
                "verify",
                "--responses",
                long.as_str(),
                "--max-line-bytes",
                "100",
            ],
            Some(2),
            "long.jsonl",
        ),
        (
            "verify: /dev/zero",
            vec![
                "verify",
                "--responses",
                "/dev/zero",
                "--max-line-bytes",
                "1000",
            ],
            Some(2),
            "/dev/zero",
        ),
        (
            "verify: timeout 1e300",
            vec![
                "verify",
                "--api-url",
                "http://127.0.0.1:1",
                "--project",
                "1",
                "--timeout",
                "1e300",
            ],
            Some(2),
            "timeout",
        ),
        (
            "verify: timeout negative",
            vec![
                "verify",
                "--api-url",
                "http://127.0.0.1:1",
                "--project",
                "1",
                "--timeout",
                "-1",
            ],
            Some(2),
            "-1",
        ),
        (
            "verify: timeout NaN",
            vec![
                "verify",
                "--api-url",
                "http://127.0.0.1:1",
                "--project",
                "1",
                "--timeout",
                "NaN",
            ],
            Some(2),
            "timeout",
        ),
    ] {
        let mut a = vec!["--snapshot", good];
        a.extend(args);
        cases.push(case(name, &a, code, names));
    }
    for (name, file) in [
        ("verify: every entry skipped", &all_skipped),
        ("verify: a HAR of POSTs only", &post_only),
    ] {
        cases.push(case(
            name,
            &["--snapshot", good, "verify", "--responses", file.as_str()],
            Some(2),
            "no response was checked (1 skipped",
        ));
    }
    // (Each URL was a fetch_failed row; now one usage error before any request.)
    cases.push(case(
        "verify: unsupported api scheme",
        &[
            "--snapshot",
            good,
            "verify",
            "--api-url",
            "ftp://127.0.0.1:1",
            "--project",
            "1",
        ],
        Some(2),
        "--api-url ftp://127.0.0.1:1: ftp:// is not http or https",
    ));
}
