//! The `_snapshot.json` manifest: the files it lists are the ones read, sizes, checksums and
//! absent tables are checked; snapshots over HTTP, which are read through it.

use super::*;

/// `_snapshot.json` listing every Parquet file under `dir` with its size and SHA-256, as
/// `occlens snapshot` writes it (`absent`: optional tables it names as absent).
fn write_manifest(dir: &std::path::Path, absent: &[&str]) {
    use sha2::{Digest, Sha256};
    let mut tables: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    let mut files = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for part in std::fs::read_dir(&path).unwrap() {
                files.push(part.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    files.sort();
    for path in files {
        if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
            continue;
        }
        let rel = path
            .strip_prefix(dir)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let table = rel.split('/').next().unwrap().trim_end_matches(".parquet");
        if absent.contains(&table) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        tables
            .entry(table.to_string())
            .or_default()
            .push(serde_json::json!({
                "path": rel, "rows": 0, "bytes": bytes.len(),
                "sha256": format!("{:x}", Sha256::digest(&bytes)),
            }));
    }
    let manifest = serde_json::json!({
        "format": "occlens-snapshot/1",
        "tables": tables.into_iter().map(|(name, files)| serde_json::json!({"name": name, "files": files})).collect::<Vec<_>>(),
        "absent_tables": absent,
    });
    std::fs::write(dir.join("_snapshot.json"), manifest.to_string()).unwrap();
}

#[tokio::test]
async fn the_manifest_decides_which_files_are_read() {
    let dir = snapshot();
    let parts = dir.path().join("main_occurrence");
    std::fs::create_dir(&parts).unwrap();
    std::fs::rename(
        dir.path().join("main_occurrence.parquet"),
        parts.join("part-00000.parquet"),
    )
    .unwrap();
    write_manifest(dir.path(), &[]);
    // A part left behind by an earlier, larger snapshot to the same place.
    std::fs::copy(
        parts.join("part-00000.parquet"),
        parts.join("part-00001.parquet"),
    )
    .unwrap();
    let engine = open(dir.path()).await;
    assert_eq!(count(&engine, "main_occurrence").await, 1);
    let table = engine
        .snapshot
        .tables
        .iter()
        .find(|t| t.name == "main_occurrence")
        .unwrap();
    assert_eq!(table.files.len(), 1);
    assert!(engine.snapshot.verify_checksums().await.unwrap().is_empty());
    // Without a manifest every part found is read (here: the stale one too).
    std::fs::remove_file(dir.path().join("_snapshot.json")).unwrap();
    assert_eq!(count(&open(dir.path()).await, "main_occurrence").await, 2);
}

#[tokio::test]
async fn manifest_sizes_files_and_absent_tables_are_checked() {
    // A file whose size differs from the manifest's.
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    let file = dir.path().join("main_taxon.parquet");
    let bytes = std::fs::read(&file).unwrap();
    let size = bytes.len();
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"xyz");
    std::fs::write(&file, &longer).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(&format!(
            "table main_taxon: main_taxon.parquet: _snapshot.json lists {size} bytes, found {} bytes (the file changed after the snapshot was written)",
            size + 3
        )),
        "{e}"
    );
    // A listed file that is gone.
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    std::fs::remove_file(dir.path().join("main_event.parquet")).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(
            "table main_event: main_event.parquet, listed in _snapshot.json, does not exist"
        ),
        "{e}"
    );
    // A table the manifest names absent is empty, whatever lies in the folder.
    let dir = snapshot();
    write_manifest(dir.path(), &["main_taxalist"]);
    let engine = open(dir.path()).await;
    assert_eq!(count(&engine, "main_taxalist").await, 0);
    // A required table cannot be absent.
    write_manifest(dir.path(), &["main_taxon"]);
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("required table main_taxon is listed as absent in _snapshot.json"),
        "{e}"
    );
    // Same size, different bytes: only the checksums tell (what `occlens check` reads).
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    let file = dir.path().join("main_deployment.parquet");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[5] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let engine = open(dir.path()).await;
    let problems = engine.snapshot.verify_checksums().await.unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("table main_deployment: main_deployment.parquet: sha256 is "),
        "{problems:?}"
    );
    // A manifest that is not one.
    std::fs::write(dir.path().join("_snapshot.json"), b"{\"tables\": 3}").unwrap();
    let e = open_err(dir.path()).await;
    assert!(e.ends_with("_snapshot.json has no \"tables\" list"), "{e}");
    let manifest = serde_json::json!({"tables": [{"name": "main_taxon", "files": [
        {"path": "main_taxon.parquet", "bytes": 1, "sha256": "é".repeat(20)}]}]});
    std::fs::write(dir.path().join("_snapshot.json"), manifest.to_string()).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with(
            "_snapshot.json: table main_taxon: files[0] has a \"sha256\" that is not 64 hex digits"
        ),
        "{e}"
    );
    let manifest = serde_json::json!({"tables": [{"name": "main_taxon", "files": [
        {"path": "../../etc/passwd", "bytes": 1}]}]});
    std::fs::write(dir.path().join("_snapshot.json"), manifest.to_string()).unwrap();
    let e = open_err(dir.path()).await;
    assert!(
        e.ends_with("_snapshot.json: table main_taxon: \"../../etc/passwd\" is not a path inside the snapshot"),
        "{e}"
    );
}

/// A snapshot directory served over plain HTTP (HEAD and ranged GET, no listing), on a
/// thread; its base URL.
fn serve(dir: std::path::PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut out = stream;
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut range = None;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line.trim().is_empty() {
                            break;
                        }
                        if let Some(r) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                            let (a, b) = r.trim().split_once('-').unwrap();
                            range = Some((a.parse::<usize>().unwrap(), b.parse::<usize>().ok()));
                        }
                    }
                    let mut words = request.split_whitespace();
                    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
                    let file = dir.join(
                        path.trim_start_matches('/')
                            .split('/')
                            .skip(1)
                            .collect::<Vec<_>>()
                            .join("/"),
                    );
                    let (status, body, extra) = match (method, std::fs::read(&file)) {
                        ("GET" | "HEAD", Ok(bytes)) if file.is_file() => match range {
                            Some((a, b)) => {
                                let end = b.unwrap_or(bytes.len() - 1).min(bytes.len() - 1);
                                let body = bytes[a..=end].to_vec();
                                (
                                    "206 Partial Content",
                                    body,
                                    format!("Content-Range: bytes {a}-{end}/{}\r\n", bytes.len()),
                                )
                            }
                            None => ("200 OK", bytes, String::new()),
                        },
                        ("GET" | "HEAD", _) => ("404 Not Found", vec![], String::new()),
                        _ => ("405 Method Not Allowed", vec![], String::new()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}\r\n",
                        body.len()
                    );
                    let _ = out.write_all(head.as_bytes());
                    if method != "HEAD" {
                        let _ = out.write_all(&body);
                    }
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}/snap")
}

#[test]
fn an_http_snapshot_with_a_manifest_is_read() {
    let dir = snapshot();
    write_manifest(dir.path(), &[]);
    let url = serve(dir.path().to_path_buf());
    let (code, out, err) = common::occlens_with(
        &[
            "--snapshot",
            &url,
            "sql",
            "SELECT count(*) AS n FROM main_occurrence",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains('1'), "{out}");
    // Without a manifest the folders of part files cannot be listed: an error, never "missing".
    std::fs::remove_file(dir.path().join("_snapshot.json")).unwrap();
    let (code, _, err) = common::occlens_with(&["--snapshot", &url, "tables"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!("occlens: snapshot {url}: table ")),
        "{err}"
    );
    assert!(
        !err.contains("missing") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_unreachable_http_snapshot_is_an_error_naming_it() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/snap");
    let (code, _, err) = common::occlens_with(&["--snapshot", &url, "tables"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "occlens: snapshot {url}: _snapshot.json cannot be read: "
        )),
        "{err}"
    );
    assert!(
        !err.contains("missing") && !err.contains("panicked"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
