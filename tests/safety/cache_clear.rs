//! `cache clear` removes occlens's own entries only, never what only looks like one.

use super::*;

/// A tiny snapshot under `work` and its cache, built: (snapshot, cache directory).
fn built_cache(work: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (snap, cache) = (work.join("snap"), work.join("cache"));
    tiny_snapshot(&snap);
    let (s, c) = (snap.to_str().unwrap(), cache.to_str().unwrap());
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 0, "{err}");
    (snap, cache)
}

#[test]
fn cache_clear_keeps_an_entry_holding_a_users_file() {
    let work = tempfile::tempdir().unwrap();
    let (_, cache) = built_cache(work.path());
    let c = cache.to_str().unwrap();
    let entry = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::write(entry.join("notes.txt"), "mine").unwrap();
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    // The other three parts' entries go; the one holding the user's file stays.
    assert!(out.contains("3 cache entries removed"), "{out}");
    assert!(out.contains("1 other entries"), "{out}");
    assert_eq!(
        std::fs::read_to_string(entry.join("notes.txt")).unwrap(),
        "mine"
    );
}

/// A directory that only looks like a cache entry (a fingerprint's name, view files' names
/// inside) is not occlens's without its marker: `cache clear` leaves a user's directory with no
/// marker, with a marker that is not occlens's, or with a view file its marker does not list;
/// it removes one whose marker was cut short (not JSON) beside view files only.
#[test]
fn cache_clear_needs_occlens_marker_listing_every_file() {
    let work = tempfile::tempdir().unwrap();
    let (_, cache) = built_cache(work.path());
    let c = cache.to_str().unwrap();
    // A real entry's marker, copied into the third directory with a file it does not list.
    let real = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("occurrence_list.parquet").exists())
        .expect("the lists part's entry");
    let marker = std::fs::read(real.join("_occlens_cache.json")).unwrap();
    let (code, _, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    let unmarked = cache.join("111111111111111111111111");
    let foreign = cache.join("222222222222222222222222");
    let unlisted = cache.join("333333333333333333333333");
    for d in [&unmarked, &foreign, &unlisted] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(unmarked.join("occurrence_list.parquet"), "precious").unwrap();
    std::fs::write(foreign.join("_occlens_cache.json"), r#"{"mine": 1}"#).unwrap();
    std::fs::write(foreign.join("occurrence_list.parquet"), "precious").unwrap();
    std::fs::write(unlisted.join("_occlens_cache.json"), &marker).unwrap();
    std::fs::write(unlisted.join("detail_detections.parquet"), "precious").unwrap();
    // The marker copied beside a user's file under a name it lists, of another size and not
    // Parquet: not occlens's (it was removed).
    let mimic = cache.join("555555555555555555555555");
    std::fs::create_dir(&mimic).unwrap();
    std::fs::write(mimic.join("_occlens_cache.json"), &marker).unwrap();
    std::fs::write(mimic.join("occurrence_list.parquet"), "precious").unwrap();
    // A marker cut short by a crash (not JSON) beside view files only: occlens's, so that it
    // can replace its own entry.
    let cut_short = cache.join("444444444444444444444444");
    std::fs::create_dir(&cut_short).unwrap();
    std::fs::write(cut_short.join("_occlens_cache.json"), "").unwrap();
    std::fs::write(cut_short.join("occurrence_list.parquet"), "PAR1").unwrap();
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("1 cache entries removed"), "{out}");
    assert!(!cut_short.exists());
    for (d, f) in [
        (&unmarked, "occurrence_list.parquet"),
        (&foreign, "occurrence_list.parquet"),
        (&unlisted, "detail_detections.parquet"),
        (&mimic, "occurrence_list.parquet"),
    ] {
        assert_eq!(std::fs::read_to_string(d.join(f)).unwrap(), "precious");
    }
}

/// Cache entries are directories occlens wrote: a link, an empty directory or a directory
/// holding a directory under an entry's name is never removed or replaced. `cache clear`
/// leaves them; a build whose entry name one of them takes fails naming it (`cache build`)
/// or answers from the snapshot with a warning (`--cache auto`).
#[test]
fn cache_leaves_what_only_looks_like_an_entry() {
    let work = tempfile::tempdir().unwrap();
    let (snap, cache) = built_cache(work.path());
    let (s, c) = (snap.to_str().unwrap(), cache.to_str().unwrap());
    let mut names: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4);
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("4 cache entries removed"), "{out}");
    // The user's things, under the entries' names.
    let mine = work.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("occurrence_list.parquet"), "mine").unwrap();
    let (empty, link, nested, other) = (
        cache.join(&names[0]),
        cache.join(&names[1]),
        cache.join(&names[2]),
        cache.join(&names[3]),
    );
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(&other).unwrap();
    std::os::unix::fs::symlink(&mine, &link).unwrap();
    std::fs::create_dir_all(nested.join("occurrence_list.parquet")).unwrap();
    std::fs::write(nested.join("occurrence_list.parquet").join("x"), "mine").unwrap();
    let intact = || {
        for empty in [&empty, &other] {
            assert!(empty.is_dir() && std::fs::read_dir(empty).unwrap().next().is_none());
        }
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(mine.join("occurrence_list.parquet")).unwrap(),
            "mine"
        );
        assert_eq!(
            std::fs::read_to_string(nested.join("occurrence_list.parquet").join("x")).unwrap(),
            "mine"
        );
    };
    let (code, out, _) = occlens_with(&["--cache-dir", c, "cache", "clear"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("0 cache entries removed"), "{out}");
    intact();
    let (code, _, err) = occlens_with(&["--snapshot", s, "--cache-dir", c, "cache", "build"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("in the way: not an occlens cache entry"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    intact();
    let (code, out, err) = occlens_with(
        &["--snapshot", s, "--cache-dir", c, "list", "--project", "1"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"count\":1") || out.contains("\"count\": 1"),
        "{out}"
    );
    assert!(
        err.contains("answering from the snapshot's tables"),
        "{err}"
    );
    intact();
    assert!(temporaries(&cache).is_empty(), "{:?}", temporaries(&cache));
}
