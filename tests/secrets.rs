//! No secret is ever printed or written: passwords in `snapshot --from` URLs (also holding
//! `@ / ? # % : =`), in `?password=`, in libpq key=value strings; credentials in `--api-url`
//! and `--snapshot` URLs; presigned query strings; `--token`. Each runs the binary and checks
//! stdout, stderr and every file under the output directory (manifest included).

mod common;
#[path = "pg/server.rs"]
mod server;

use std::path::Path;

/// The forms a secret could be printed in: as typed, and percent-encoded.
fn forms(secret: &str) -> Vec<String> {
    let encoded: String =
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    vec![secret.to_string(), encoded, form]
}

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
    out
}

/// `secrets` (in every form) appear nowhere in `out`, `err` or the files under `dir`.
fn assert_clean(what: &str, secrets: &[&str], out: &str, err: &str, dir: &Path) {
    assert!(!err.contains("panicked"), "{what}: {err}");
    for secret in secrets {
        for form in forms(secret) {
            assert!(!out.contains(&form), "{what}: {form} on stdout: {out}");
            assert!(!err.contains(&form), "{what}: {form} on stderr: {err}");
            for (path, bytes) in files(dir) {
                assert!(
                    !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{what}: {form} in {path}"
                );
            }
        }
    }
}

fn occlens(args: &[&str]) -> (i32, String, String) {
    // No password file or PGPASSWORD of the machine running the tests.
    common::occlens_with(args, &[("PGPASSFILE", "/nonexistent"), ("PGPASSWORD", "")])
}

/// A password holding each of `@ / ? # % : =`.
const SPECIAL: &str = "S3cr@t/?#%:=x";

#[test]
fn snapshot_from_never_prints_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("snap");
    let out = out_dir.to_str().unwrap();
    let mut cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("postgres://u:{SPECIAL}@127.0.0.1:1/db"),
            vec![SPECIAL, "S3cr"],
        ),
        (
            "host=127.0.0.1 port=1 password=S3cretPw user=u".into(),
            vec!["S3cretPw"],
        ),
        (
            r"host=127.0.0.1 port=1 password='S3 cret\'Xy' user=u".into(),
            vec!["S3 cret", "cret'Xy"],
        ),
        (
            "postgres://u@127.0.0.1:1/db?password=S3cretPw".into(),
            vec!["S3cretPw"],
        ),
        (
            "postgres://u@127.0.0.1:1/db?sslmode=disable&password=S3cretPw&connect_timeout=5"
                .into(),
            vec!["S3cretPw"],
        ),
        // Not even a valid connection string: the error quotes it, redacted.
        (
            "postgres://u:S3cretPw@127.0.0.1:1/db?nosuchoption=1".into(),
            vec!["S3cretPw"],
        ),
        ("password=S3cretPw nosuchkey=1".into(), vec!["S3cretPw"]),
        // Mistyped URLs (no `://`): the userinfo's password was printed as typed.
        (
            "postgres:/u:S3cretPw@127.0.0.1:1/db".into(),
            vec!["S3cretPw"],
        ),
        (
            "postgres:u:S3cretPw@127.0.0.1:1/db".into(),
            vec!["S3cretPw"],
        ),
        (
            "postgres//u:S3cretPw@127.0.0.1:1/db".into(),
            vec!["S3cretPw"],
        ),
        ("u:S3cretPw@127.0.0.1:1/db".into(), vec!["S3cretPw"]),
    ];
    for c in ['@', '/', '?', '#', '%', ':', '='] {
        let pw = format!("Pw{c}S3cret{c}9");
        cases.push((format!("postgres://u:{pw}@127.0.0.1:1/db"), vec![]));
        cases.push((
            format!("host=127.0.0.1 port=1 user=u password='{pw}'"),
            vec![],
        ));
    }
    for (from, extra) in &cases {
        let pw = from
            .split_once(":Pw")
            .or_else(|| from.split_once("'Pw"))
            .map(|(_, rest)| format!("Pw{}", &rest[..9]));
        let mut secrets = extra.clone();
        if let Some(pw) = &pw {
            secrets.push(pw);
        }
        let (code, stdout, stderr) = occlens(&["snapshot", "--from", from, "--out", out]);
        assert_ne!(code, 0, "{from}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{from}: {stderr}");
        assert_clean(from, &secrets, &stdout, &stderr, dir.path());
        // A mistyped URL is quoted back, its password masked where it stood.
        if !from.contains("://") && !from.contains('=') && from.contains('@') {
            assert!(stderr.contains(":***@"), "{from}: {stderr}");
        }
    }
}

/// A password that is also part of ordinary words, of the host or of file names is masked
/// where it stands alone: the message stays readable and does not spell the password out
/// ("cannot ***ect" told that it was `conn`).
#[test]
fn a_password_inside_other_words_is_not_spelled_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let out = out.to_str().unwrap();
    for (password, words) in [("conn", "cannot connect"), ("127.0", "127.0.0.1:9")] {
        let from = format!("postgres://ami:{password}@127.0.0.1:9/antenna");
        let (code, stdout, stderr) = occlens(&["snapshot", "--from", &from, "--out", out]);
        assert_ne!(code, 0, "{from}: {stderr}");
        assert!(stderr.contains(words), "{from}: {stderr}");
        assert!(!stderr.contains("***"), "{from}: {stderr}");
        let quoted = format!(":{password}@");
        assert!(
            !stdout.contains(&quoted) && !stderr.contains(&quoted),
            "{from}: {stderr}"
        );
        assert!(stderr.contains("ami@127.0.0.1:9"), "{from}: {stderr}");
    }
    let (_, _, stderr) = occlens(&["--snapshot", "http://user:snapshot@127.0.0.1:9/x", "tables"]);
    assert!(stderr.contains("_snapshot.json"), "{stderr}");
    assert!(!stderr.contains(":snapshot@"), "{stderr}");
}

#[test]
fn api_url_credentials_and_token_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let urls = dir.path().join("urls.txt");
    std::fs::write(
        &urls,
        "/api/v2/occurrences/1/\n/api/v2/occurrences/?project_id=1\n",
    )
    .unwrap();
    let mut api_urls = vec![
        "http://user:S3cretPw@127.0.0.1:1".to_string(),
        format!("http://user:{SPECIAL}@127.0.0.1:1"),
        "http://127.0.0.1:1/?token=S3cretTok".to_string(),
    ];
    for c in ['@', '/', '?', '#', '%', ':', '='] {
        api_urls.push(format!("http://user:Pw{c}S3cret{c}9@127.0.0.1:1"));
    }
    for api in &api_urls {
        for (mode, format) in [("--urls", "text"), ("--project", "json")] {
            let target = if mode == "--urls" {
                urls.to_str().unwrap()
            } else {
                "1"
            };
            let (code, out, err) = occlens(&[
                "verify",
                "--api-url",
                api,
                mode,
                target,
                "--token",
                "S3cretTokenArg",
                "--retries",
                "0",
                "--timeout",
                "2",
                "--format",
                format,
            ]);
            // Fetched and failed (nothing listens), or refused before any request (a query in
            // --api-url, a URL that does not parse): either way without the secrets.
            assert_eq!(code, 2, "{api}: {out}{err}");
            assert!(
                out.contains("fetch_failed") || err.starts_with("occlens: --api-url "),
                "{api}: {out}{err}"
            );
            let pw = api
                .split_once(":Pw")
                .map(|(_, rest)| format!("Pw{}", &rest[..9]));
            let mut secrets = vec!["S3cretPw", "S3cretTok", "S3cretTokenArg", SPECIAL, "S3cr"];
            if let Some(pw) = &pw {
                secrets.push(pw);
            }
            assert_clean(api, &secrets, &out, &err, dir.path());
        }
    }
}

#[test]
fn snapshot_urls_are_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let mut snapshots = vec![
        "http://user:S3cretPw@127.0.0.1:1/snap".to_string(),
        format!("http://user:{SPECIAL}@127.0.0.1:1/snap"),
        "https://127.0.0.1:1/snap?X-Amz-Signature=S3cretSig&token=S3cretTok".to_string(),
        "https://127.0.0.1:1/snap?X-Amz-Credential=S3cretCred%2F2026&sig=S3cretSig".to_string(),
        "s3://bucket/snap?X-Amz-Security-Token=S3cretTok".to_string(),
        "ftp://user:S3cretPw@127.0.0.1:1/snap".to_string(),
        // A token as the user name, no password (GitHub's and artifact stores' form).
        "https://S3cretTok@127.0.0.1:1/snap".to_string(),
    ];
    for c in ['@', '/', '?', '#', '%', ':', '='] {
        snapshots.push(format!("http://user:Pw{c}S3cret{c}9@127.0.0.1:1/snap"));
    }
    for snapshot in &snapshots {
        for command in [&["tables"][..], &["sql", "SELECT 1"][..]] {
            let args = [
                &["--snapshot", snapshot.as_str(), "--cache", "off"][..],
                command,
            ]
            .concat();
            let (code, out, err) = occlens(&args);
            assert_ne!(code, 0, "{snapshot}: {out}{err}");
            assert_eq!(err.lines().count(), 1, "{snapshot}: {err}");
            let pw = snapshot
                .split_once(":Pw")
                .map(|(_, rest)| format!("Pw{}", &rest[..9]));
            let mut secrets = vec![
                "S3cretPw",
                "S3cretSig",
                "S3cretTok",
                "S3cretCred",
                SPECIAL,
                "S3cr",
            ];
            if let Some(pw) = &pw {
                secrets.push(pw);
            }
            assert_clean(snapshot, &secrets, &out, &err, dir.path());
        }
    }
}

#[test]
fn tables_of_a_local_snapshot_given_with_a_query_string() {
    // A snapshot that opens: `occlens tables` names it, without the secret.
    let mut t = common::Tiny::new();
    t.simple(1, 4, 0.9);
    let dir = tempfile::tempdir().unwrap();
    t.b.write(dir.path()).unwrap();
    let url = format!(
        "file://{}/?X-Amz-Signature=S3cretSig&token=S3cretTok",
        dir.path().display()
    );
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = cache_dir.path().to_str().unwrap();
    for args in [
        &["tables"][..],
        &["tables", "--columns"][..],
        &["cache", "build"][..],
        &["cache"][..],
    ] {
        let (code, out, err) = occlens(
            &[
                &["--snapshot", url.as_str(), "--cache-dir", cache][..],
                args,
            ]
            .concat(),
        );
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_clean(&url, &["S3cretSig", "S3cretTok"], &out, &err, dir.path());
        assert_clean(&url, &["S3cretSig", "S3cretTok"], "", "", cache_dir.path());
        assert!(out.contains("X-Amz-Signature=***"), "{out}");
    }
}

/// A real PostgreSQL server, a role whose password holds `@ / ? # % : =`: the snapshot
/// succeeds from its URL and from its key=value string, and neither the manifest nor any
/// file, nor `occlens tables`, holds the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_snapshot_keeps_the_password_out_of_every_file() {
    let Some(server) = server::Server::start() else {
        return;
    };
    let admin = server.client("postgres").await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE sec LOGIN SUPERUSER PASSWORD '{SPECIAL}'"
        ))
        .await
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE antenna_sec OWNER sec")
        .await
        .unwrap();
    let db = server.client("antenna_sec").await;
    db.batch_execute(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg/antenna.sql"),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let port = server.port;
    let dir = tempfile::tempdir().unwrap();
    let froms = [
        format!("postgres://sec:{SPECIAL}@127.0.0.1:{port}/antenna_sec"),
        format!("host=127.0.0.1 port={port} user=sec password='{SPECIAL}' dbname=antenna_sec"),
    ];
    for (i, from) in froms.iter().enumerate() {
        let snap = dir.path().join(format!("snap{i}"));
        let from = from.clone();
        let out_arg = snap.to_str().unwrap().to_string();
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            occlens(&["snapshot", "--from", &from, "--out", &out_arg])
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{err}");
        assert_clean("snapshot", &[SPECIAL, "S3cr"], &out, &err, dir.path());
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(snap.join("_snapshot.json")).unwrap()).unwrap();
        assert_eq!(
            manifest["source"],
            format!("postgres://sec@127.0.0.1:{port}/antenna_sec")
        );
        let snap_arg = snap.to_str().unwrap().to_string();
        let (code, out, err) = tokio::task::spawn_blocking(move || {
            occlens(&["--snapshot", &snap_arg, "--cache", "off", "tables"])
        })
        .await
        .unwrap();
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("exported from postgres://sec@127.0.0.1:"),
            "{out}"
        );
        assert_clean("tables", &[SPECIAL, "S3cr"], &out, &err, dir.path());
    }
    // A wrong password: the server's refusal, without it.
    let from = format!("postgres://sec:Wr0ng{SPECIAL}@127.0.0.1:{port}/antenna_sec");
    let out_arg = dir.path().join("wrong").to_str().unwrap().to_string();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        occlens(&["snapshot", "--from", &from, "--out", &out_arg])
    })
    .await
    .unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("password authentication failed"), "{err}");
    assert_clean(
        "wrong password",
        &[SPECIAL, "Wr0ng"],
        &out,
        &err,
        dir.path(),
    );
}

#[test]
fn credentials_in_the_api_base_and_media_url_never_reach_answers_or_exports() {
    // Both URLs are written into bodies and files (links, detection images).
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("p1.ndjson");
    let base = [
        "--api-base",
        "http://u:S3cretPw@h.example",
        "--media-url",
        "http://u:S3cretPw@media.example/m/",
    ];
    for command in [
        &["api", "/api/v2/occurrences/?project_id=1&limit=50"][..],
        &[
            "export",
            "--format",
            "ndjson",
            "--shape",
            "detail",
            "--project",
            "1",
            "--out",
            lines.to_str().unwrap(),
        ][..],
    ] {
        let args = [&base[..], command].concat();
        let (code, out, err) = occlens(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_clean(
            &format!("{command:?}"),
            &["S3cretPw"],
            &out,
            &err,
            dir.path(),
        );
        if command[0] == "api" {
            assert!(out.contains("http://media.example/m/"), "{out}");
        }
    }
}

/// `api` given an absolute URL (copied from a browser or a `next` link) answers its path and
/// query, with hyperlinks on its origin, never on its credentials; `--api-base` still wins.
#[test]
fn an_absolute_api_url_is_its_path_with_links_on_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let path = "/api/v2/occurrences/?project_id=1&limit=2";
    let (code, plain, err) = occlens(&["--api-base", "https://h.example:8443", "api", path]);
    assert_eq!(code, 0, "{err}");
    assert!(plain.contains("https://h.example:8443/api/v2/"), "{plain}");
    let absolute = format!("https://u:S3cretPw@h.example:8443{path}");
    let (code, out, err) = occlens(&["api", &absolute]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, plain);
    assert_clean("an absolute URL", &["S3cretPw"], &out, &err, dir.path());
    let (code, out, err) = occlens(&["--api-base", "http://other.example", "api", &absolute]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        plain.replace("https://h.example:8443", "http://other.example")
    );
    assert_clean("an absolute URL", &["S3cretPw"], &out, &err, dir.path());
}
