//! The journal of temporaries: the proof that a leftover is occlens's before it is removed.
//!
//! A name like `….occlens-<what>-<pid>-<nanos>.tmp` proves nothing (a user's file, a copy, a
//! restored backup may carry one). So every temporary's path is written, before the temporary
//! is created, to a journal file of its process in occlens's state directory
//! (`$XDG_STATE_HOME/occlens/temporaries`, else `~/.local/state/occlens/temporaries`), named
//! `<pid>-<nanos>.journal`. [`sweep`] offers the paths of dead processes' journals only:
//! a path that no journal lists is never removed, whatever its name. A journal whose listed
//! paths are all gone is removed (occlens wrote it). At a normal exit (not one forced by a
//! signal or a bound, when a writer may still be creating a temporary) a process removes its
//! own journal when every path it lists is gone ([`finish`]).
//!
//! Without a state directory (no home, read-only), nothing is journaled and nothing is ever
//! swept: a killed run's leftovers stay for the user to remove.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// This process's journal, opened at its first temporary (None: no state directory).
static OPEN: OnceLock<Option<Mutex<Journal>>> = OnceLock::new();

/// A process's journal file and where it is.
struct Journal {
    path: PathBuf,
    file: File,
}

/// Where journals are kept.
pub fn dir() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local").join("state"))
        })?;
    Some(state.join("occlens").join("temporaries"))
}

fn open() -> Option<Mutex<Journal>> {
    let dir = dir()?;
    std::fs::create_dir_all(&dir).ok()?;
    let name = format!(
        "{}-{}.journal",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let path = dir.join(name);
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .ok()?;
    Some(Mutex::new(Journal { path, file }))
}

/// List `path` (about to be created) in this process's journal. A path that cannot be listed
/// (no state directory, a newline in it) is simply never swept.
pub fn record(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::path::absolute(path) else {
        return;
    };
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&b'\n') {
        return;
    }
    if let Some(journal) = OPEN.get_or_init(open) {
        if let Ok(mut j) = journal.lock() {
            let mut line = bytes.to_vec();
            line.push(b'\n');
            let _ = j.file.write_all(&line);
        }
    }
}

/// At a normal exit, every writer finished: remove this process's journal when every
/// temporary it lists is gone (a later run's [`sweep`] would, once this process has ended);
/// one listing a leftover stays for that sweep.
pub fn finish() {
    use std::os::unix::ffi::OsStrExt;
    let Some(Some(journal)) = OPEN.get() else {
        return;
    };
    let Ok(j) = journal.lock() else {
        return;
    };
    let Ok(text) = std::fs::read(&j.path) else {
        return;
    };
    let left = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .any(|l| exists_with_staged(Path::new(std::ffi::OsStr::from_bytes(l))));
    if !left {
        remove_own(&j.path, &j.file);
    }
}

/// Remove `path`, the journal this process created and still holds open as `file`, only while
/// the name still holds that file (one put in its place meanwhile is not occlens's).
fn remove_own(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (Ok(held), Ok(named)) = (file.metadata(), std::fs::symlink_metadata(path)) else {
        return false;
    };
    (held.dev(), held.ino()) == (named.dev(), named.ino()) && std::fs::remove_file(path).is_ok()
}

/// The pid of a journal's name (`<pid>-<nanos>.journal`).
fn journal_pid(name: &str) -> Option<u32> {
    let (pid, nanos) = name.strip_suffix(".journal")?.split_once('-')?;
    (!nanos.is_empty() && nanos.bytes().all(|b| b.is_ascii_digit()))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Offer `take` each temporary that a process now gone listed and that still exists (with
/// the pid of that process; `alive` tells a running pid); `take` removes it or not. A
/// journal none of whose paths exist any more, after that, is removed.
pub fn sweep(alive: impl Fn(u32) -> bool, mut take: impl FnMut(&Path, u32)) {
    use std::os::unix::ffi::OsStrExt;
    let Some(dir) = dir() else {
        return;
    };
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Some(pid) = journal_pid(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        if alive(pid) {
            continue;
        }
        // A journal is a few lines; one grown past a megabyte is not read (not ours).
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() || meta.len() > 1 << 20 {
            continue;
        }
        let Ok(text) = std::fs::read(entry.path()) else {
            continue;
        };
        let mut left = false;
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let path = Path::new(std::ffi::OsStr::from_bytes(line));
            if exists_with_staged(path) {
                take(path, pid);
                left |= exists_with_staged(path);
            }
        }
        if !left {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `path`, or a staging file of a write to it (`<path>#<n>`), exists.
fn exists_with_staged(path: &Path) -> bool {
    if std::fs::symlink_metadata(path).is_ok() {
        return true;
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let stem = format!("{}#", name.to_string_lossy());
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with(&stem))
}

/// Test support: a journal of process `pid` (not running) listing `paths`.
#[cfg(test)]
pub fn record_for(pid: u32, paths: &[&Path]) {
    use std::os::unix::ffi::OsStrExt;
    let dir = dir().expect("a state directory");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = Vec::new();
    for p in paths {
        text.extend_from_slice(std::path::absolute(p).unwrap().as_os_str().as_bytes());
        text.push(b'\n');
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::fs::write(dir.join(format!("{pid}-{nanos}.journal")), text).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_journal_still_at_its_name_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1-2.journal");
        let file = File::create(&path).unwrap();
        assert!(remove_own(&path, &file) && !path.exists());
        // Another file put at its name (a user's, a link to one): kept.
        let file = File::create(&path).unwrap();
        let theirs = dir.path().join("theirs");
        std::fs::write(&theirs, "mine").unwrap();
        std::fs::rename(&theirs, &path).unwrap();
        assert!(!remove_own(&path, &file));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine");
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &path).unwrap();
        assert!(!remove_own(&path, &file));
        assert!(std::fs::symlink_metadata(&path).is_ok());
    }

    #[test]
    fn journal_names_carry_the_pid() {
        assert_eq!(journal_pid("42-17.journal"), Some(42));
        assert_eq!(journal_pid("42-.journal"), None);
        assert_eq!(journal_pid("x-1.journal"), None);
        assert_eq!(journal_pid("42-17.txt"), None);
    }
}
