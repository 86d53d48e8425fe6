//! Darwin Core Archive export and validator (antenna-exports-dwca.md §1, §2, §6) on small
//! snapshots, with exact file contents asserted.

mod common;
#[path = "dwca/contents.rs"]
mod contents;
#[path = "dwca/example_archive.rs"]
mod example_archive;
#[path = "dwca/validator.rs"]
mod validator;

use common::{Tiny, T0};
use occlens::dwca::archive::{write_archive, ArchiveWritten, META_XML};
use occlens::dwca::validate::{default_required_terms, validate};
use occlens::Engine;
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

fn members(path: &Path) -> (Vec<String>, HashMap<String, String>) {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut names = vec![];
    let mut files = HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        let name = f.name().unwrap().to_string();
        names.push(name.clone());
        files.insert(name, text);
    }
    (names, files)
}

async fn export(
    engine: &Engine,
    project: i64,
    collection: Option<i64>,
) -> (
    tempfile::TempDir,
    ArchiveWritten,
    Vec<String>,
    HashMap<String, String>,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    let written = write_archive(
        engine,
        project,
        collection,
        "2026-11-21T04:26:40",
        &path,
        &|_| {},
    )
    .await
    .unwrap();
    let (names, files) = members(&path);
    (dir, written, names, files)
}

fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect()
}

/// Run by `a_full_disk_is_one_clean_error` in a child process (whose stderr it reads).
#[tokio::test]
#[ignore = "run by a_full_disk_is_one_clean_error"]
async fn write_an_archive_to_dev_full() {
    let mut t = Tiny::new();
    t.simple(1, 4, 0.9);
    let (_d, engine) = t.engine().await;
    let result = write_archive(
        &engine,
        1,
        None,
        "2026-11-21T04:26:40",
        Path::new("/dev/full"),
        &|_| {},
    )
    .await;
    match result {
        Ok(_) => eprintln!("RESULT: written"),
        Err(e) => eprintln!("RESULT: {e}"),
    }
}

#[test]
fn a_full_disk_is_one_clean_error() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "write_an_archive_to_dev_full",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let result = err
        .lines()
        .find(|l| l.contains("RESULT: "))
        .unwrap_or_else(|| panic!("no result line in {err}"));
    // The zip writer's own complaint used to be glued in front of occlens's error.
    assert!(
        result.starts_with("RESULT: /dev/full: ") && result.contains("No space left on device"),
        "{err}"
    );
    assert!(!err.contains("ZipWriter"), "{err}");
}
