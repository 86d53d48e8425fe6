//! What only a local snapshot can hold: files that are not regular files. A FIFO, socket or
//! device named like a table would block the reader forever, or never end; object stores and
//! web servers hold regular objects only.

use super::location::Location;

/// Why `rel` (a path under the snapshot) cannot be read as a file: `None` when it is a
/// regular file, a folder, absent, or the snapshot is not local.
pub(super) fn not_regular(location: &Location, rel: &str) -> Option<String> {
    let path = local_path(location, rel)?;
    let meta = std::fs::metadata(path).ok()?;
    (!meta.is_file() && !meta.is_dir())
        .then(|| format!("{rel} is not a regular file (a FIFO, socket or device)"))
}

/// The first entry of the folder `rel` that is not a regular file or a folder, or that is a
/// symbolic link to nothing (a listing skips it: the table would be read without that part),
/// names starting with `.` or `_` skipped, as when listing part files.
pub(super) fn irregular_in(location: &Location, rel: &str) -> Option<String> {
    let dir = local_path(location, rel)?;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.') && !n.starts_with('_'))
        .collect();
    names.sort();
    names.into_iter().find_map(|n| {
        let part = format!("{rel}/{n}");
        dangling(&dir.join(&n))
            .map(|target| format!("{part} is a symbolic link to nothing ({target})"))
            .or_else(|| not_regular(location, &part))
    })
}

/// Where `path` points when it is a symbolic link whose target does not exist.
fn dangling(path: &std::path::Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() || std::fs::metadata(path).is_ok() {
        return None;
    }
    Some(std::fs::read_link(path).ok()?.display().to_string())
}

/// A local file's inode change time, in nanoseconds: every write sets it and no tool sets it
/// back, where a file rewritten in place keeps its size and inode and may get its
/// modification time back (`touch -r`, `cp -p`, rsync). None for other stores (their e-tag).
pub fn change_time(base: &url::Url, location: &object_store::path::Path) -> Option<i128> {
    use std::os::unix::fs::MetadataExt;
    if base.scheme() != "file" {
        return None;
    }
    let path = object_store::local::LocalFileSystem::new()
        .path_to_filesystem(location)
        .ok()?;
    let m = std::fs::metadata(path).ok()?;
    Some(i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()))
}

fn local_path(location: &Location, rel: &str) -> Option<std::path::PathBuf> {
    if location.store.is_some() {
        return None;
    }
    location.base.join(rel).ok()?.to_file_path().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_are_named_files_and_folders_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.parquet"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::fs::write(dir.path().join("t/part-0.parquet"), b"x").unwrap();
        let fifo = |p: std::path::PathBuf| {
            let status = std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap();
            assert!(status.success());
        };
        fifo(dir.path().join("t/part-1.parquet"));
        fifo(dir.path().join("f.parquet"));
        fifo(dir.path().join("t/.hidden"));
        let location = Location::parse(dir.path().to_str().unwrap()).unwrap();
        assert_eq!(not_regular(&location, "t.parquet"), None);
        assert_eq!(not_regular(&location, "t"), None);
        assert_eq!(not_regular(&location, "absent.parquet"), None);
        assert_eq!(
            not_regular(&location, "f.parquet").as_deref(),
            Some("f.parquet is not a regular file (a FIFO, socket or device)")
        );
        assert_eq!(
            irregular_in(&location, "t").as_deref(),
            Some("t/part-1.parquet is not a regular file (a FIFO, socket or device)")
        );
    }
}
