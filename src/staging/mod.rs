//! Writing without destroying: every writer (exports, snapshots, `generate`, the cache of
//! derived tables) writes under a temporary name no other writer uses, renames it into place
//! when complete, and replaces only what occlens itself made.
//!
//! - A temporary is a [`Temp`]: registered while it lives, so that SIGINT/SIGTERM remove it
//!   ([`remove_live`]), and removed when dropped unless it was [`Temp::keep`]-ed after its rename.
//! - A run killed with SIGKILL leaves `….occlens-<what>-<pid>-<nanos>.tmp` names behind; the
//!   next run that writes to the same directory removes those that the journal of a process
//!   now gone lists ([`sweep`], [`journal`]); a name alone is no proof.
//! - [`replaceable`] is the one check before anything existing is renamed over or removed.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod journal;
mod protect;
#[cfg(test)]
use protect::url_key;
pub use protect::{protect, protect_url, unprotected, unprotected_as, unprotected_url};

/// Temporaries of this process that are still in progress.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// `.occlens-<what>-<pid>-<nanos>.tmp`: a name no other writer uses.
pub fn temp_suffix(what: &str) -> String {
    format!(
        ".occlens-{what}-{}-{}.tmp",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

/// A hidden sibling of `path` to write first (`dir/.name.occlens-<what>-….tmp`), on the same
/// file system so that the final rename is atomic.
pub fn sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or(what.into(), |n| n.to_string_lossy());
    let suffix = temp_suffix(what);
    // Within a file name's 255 bytes, with room for a writer's staging `#<n>`: a long name is
    // cut (on a character boundary) rather than refused by the file system.
    let room = 255usize.saturating_sub(1 + suffix.len() + 8);
    let mut cut = name.len().min(room);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    path.with_file_name(format!(".{}{suffix}", &name[..cut]))
}

/// A file or directory in progress; removed when dropped unless kept.
#[derive(Debug)]
pub struct Temp {
    path: PathBuf,
    kept: bool,
    at_exit: bool,
}

impl Temp {
    /// Register `path` (not yet created) as a temporary of this process.
    pub fn new(path: PathBuf) -> Temp {
        journal::record(&path);
        if let Ok(mut live) = LIVE.lock() {
            live.push(path.clone());
        }
        Temp {
            path,
            kept: false,
            at_exit: false,
        }
    }

    /// A registered hidden sibling of `path` (see [`sibling`]); stale siblings of dead
    /// processes in the same directory are removed first.
    pub fn sibling_of(path: &Path, what: &str) -> Temp {
        sweep(
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        );
        Temp::new(sibling(path, what))
    }

    /// A registered temporary in the system's temporary directory.
    pub fn in_temp_dir(what: &str) -> Temp {
        let dir = std::env::temp_dir();
        sweep(&dir);
        Temp::new(dir.join(temp_suffix(what)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep the temporary for the rest of the process: [`remove_live`] removes it when the
    /// process ends (normally or on SIGINT/SIGTERM); a later run's [`sweep`] if it was killed.
    pub fn until_exit(mut self) {
        self.at_exit = true;
    }

    /// The temporary was renamed into place (or is otherwise gone): stop tracking it.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if self.at_exit {
            return;
        }
        if !self.kept {
            remove_any(&self.path);
        }
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|p| p != &self.path);
        }
    }
}

fn remove_any(path: &Path) {
    // object_store's local writer stages a file as `<path>#<n>` and renames it when complete:
    // a write cut short leaves that name.
    if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
        // A temporary beside a relative output (`COPY … TO 'big.csv'`) has an empty parent:
        // the working directory (its staging file once stayed behind, 382 MB).
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let stem = format!("{}#", name.to_string_lossy());
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let staged = entry.file_name().to_string_lossy().to_string();
            let suffix = staged.strip_prefix(&stem);
            if suffix.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            // A writer still running (a signal arrived) may add a file between the listing and
            // the final rmdir: try again until the directory is gone.
            for _ in 0..20 {
                if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Held while a finished output is moved into place (its renames are one step as far as an
/// early end of the process is concerned): a snapshot renamed aside before the new one is in
/// place is a registered temporary, which `end_process` must not remove.
static PUBLISHING: Mutex<()> = Mutex::new(());

fn publishing() -> std::sync::MutexGuard<'static, ()> {
    PUBLISHING.lock().unwrap_or_else(|e| e.into_inner())
}

/// End the process early (a signal, the memory bound): `message` as the one line on stderr
/// (held, so that a writer failing on a removed temporary prints nothing after it), then every
/// temporary in progress removed once no output is being moved into place, then exit `code`.
pub fn end_process(message: &str, code: i32) -> ! {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "occlens: {message}");
    let _moving = publishing();
    remove_live();
    // A writer may have recreated a directory meanwhile: once more, then exit at once.
    remove_live();
    // The journal stays: a writer may still create a temporary it lists before the exit; the
    // next run sweeps both.
    std::process::exit(code)
}

/// At the end of a process whose writers have all finished: its journal of temporaries
/// removed when none of them is left (see `journal`; else a later run sweeps them, then the
/// journal).
pub fn finish_journal() {
    journal::finish();
}

/// Remove every temporary of this process still in progress (on SIGINT/SIGTERM, and at exit).
pub fn remove_live() {
    // Kept registered: a caller about to exit calls this again after the last writer's step.
    let paths = match LIVE.lock() {
        Ok(live) => live.clone(),
        Err(_) => return,
    };
    for p in paths {
        remove_any(&p);
    }
}

/// The process id in an occlens temporary's name (`….occlens-<what>-<pid>-<nanos>.tmp`).
fn temp_pid(name: &str) -> Option<u32> {
    // `…tmp#<n>`: object_store's staging name of a file written to the temporary.
    let name = match name.rsplit_once('#') {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => name,
    };
    let stem = name.strip_suffix(".tmp")?;
    let at = stem.rfind(".occlens-")?;
    let mut parts = stem[at + ".occlens-".len()..].rsplitn(3, '-');
    let nanos = parts.next()?;
    let pid = parts.next()?;
    let what = parts.next()?;
    let ok = !what.is_empty() && !nanos.is_empty() && nanos.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| pid.parse().ok()).flatten()
}

/// Whether process `pid` is running (Linux: /proc; elsewhere assumed running, so that
/// nothing is ever removed on a guess).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Whether `path` is the temporary of a live occlens process (a build in progress).
pub fn is_live_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| temp_pid(&n.to_string_lossy()))
        .is_some_and(alive)
}

/// Remove the leftovers of killed occlens runs in `dir`: temporaries that the journal of a
/// process now gone lists (see [`journal`]), still named with that process's id. A file or
/// directory merely named like a temporary is never touched. Returns what was removed.
pub fn sweep(dir: &Path) -> Vec<PathBuf> {
    let Ok(dir) = std::path::absolute(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    journal::sweep(alive, |path, pid| {
        let named = path
            .file_name()
            .and_then(|n| temp_pid(&n.to_string_lossy()));
        if path.parent() == Some(dir.as_path()) && named == Some(pid) {
            remove_any(path);
            removed.push(path.to_path_buf());
        }
    });
    removed
}

/// The one check before an existing `dest` is replaced: it may be absent, an empty
/// directory, or a directory that `ours` recognises as occlens's own output. Anything else
/// is refused with an error naming it (`what` says what occlens expected to find there).
pub fn replaceable(dest: &Path, what: &str, ours: &dyn Fn(&Path) -> bool) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::Usage(format!(
            "--out {}: {why}; occlens replaces only an empty directory or {what}, and touched nothing",
            dest.display()
        )))
    };
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dest, e)),
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symbolic link");
    }
    if !meta.is_dir() {
        return refuse("exists and is not a directory");
    }
    let empty = std::fs::read_dir(dest)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if empty || ours(dest) {
        Ok(())
    } else {
        refuse(&format!("exists and is not {what}"))
    }
}

/// Move the finished directory `staging` to `dest`, replacing `dest` only when
/// [`replaceable`] allows it: the old directory is renamed aside first, put back if the
/// final rename fails, and removed once the new one is in place.
pub fn publish_dir(
    staging: Temp,
    dest: &Path,
    what: &str,
    ours: &dyn Fn(&Path) -> bool,
) -> Result<()> {
    let io = |path: &Path, e: std::io::Error| Error::io(path, e);
    unprotected(dest)?;
    replaceable(dest, what, ours)?;
    let _moving = publishing();
    let old = dest.exists().then(|| Temp::sibling_of(dest, "old"));
    if let Some(old) = &old {
        std::fs::rename(dest, old.path()).map_err(|e| io(dest, e))?;
    }
    if let Err(e) = std::fs::rename(staging.path(), dest) {
        if let Some(old) = old {
            if std::fs::rename(old.path(), dest).is_ok() {
                old.keep();
            }
        }
        return Err(io(dest, e));
    }
    staging.keep();
    drop(old);
    Ok(())
}

/// Move the finished directory `staging` to `dest`, which must not exist: a directory
/// rename replaces at most an empty directory created meanwhile, never files.
pub fn publish_new_dir(staging: Temp, dest: &Path) -> Result<()> {
    unprotected(dest)?;
    let _moving = publishing();
    if std::fs::symlink_metadata(dest).is_ok() {
        return Err(Error::Usage(format!(
            "{}: exists; occlens does not replace it (remove it first or choose another name)",
            dest.display()
        )));
    }
    std::fs::rename(staging.path(), dest).map_err(|e| Error::io(dest, e))?;
    staging.keep();
    Ok(())
}

/// Move the finished file `tmp` to `dest`; an existing `dest` is replaced only when
/// `overwrite` (the user asked for it). The check and the rename are one step: a file created
/// at `dest` meanwhile is not replaced (hard link, then unlink the temporary).
pub fn publish_file(tmp: Temp, dest: &Path, overwrite: bool) -> Result<()> {
    let io = |e: std::io::Error| Error::io(dest, e);
    unprotected(dest)?;
    let _moving = publishing();
    if overwrite {
        // --overwrite replaces a regular file, never a directory, device, FIFO or socket.
        if let Ok(meta) = std::fs::symlink_metadata(dest) {
            if !meta.file_type().is_file() {
                return Err(Error::Usage(format!(
                    "--out {}: exists and is not a regular file; occlens replaces only a file",
                    dest.display()
                )));
            }
        }
        std::fs::rename(tmp.path(), dest).map_err(io)?;
        tmp.keep();
        return Ok(());
    }
    match std::fs::hard_link(tmp.path(), dest) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp.path());
            tmp.keep();
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists || dest.exists() => {
            Err(exists(dest))
        }
        // A file system without hard links: nothing is at `dest` (checked just above).
        Err(_) => {
            std::fs::rename(tmp.path(), dest).map_err(io)?;
            tmp.keep();
            Ok(())
        }
    }
}

/// Why `path`'s folder cannot hold it (`directory D is not a directory` / `does not
/// exist`), for the one-line error of the option or statement that named `path`; None when
/// the folder is there (or `path` has none: the working directory).
pub fn missing_folder(path: &Path) -> Option<String> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.is_dir())?;
    let why = match parent.exists() {
        true => "is not a directory",
        false => "does not exist",
    };
    Some(format!("directory {} {why}", parent.display()))
}

/// The error for an output file that exists and was not to be replaced.
pub fn exists(dest: &Path) -> Error {
    Error::Usage(format!(
        "--out {}: exists; occlens does not replace a file unless --overwrite is given",
        dest.display()
    ))
}

#[cfg(test)]
mod tests {

    #[test]
    fn object_urls_compare_as_the_store_reads_them() {
        let key = |u: &str| url_key(&url::Url::parse(u).unwrap());
        assert_eq!(key("s3://b/snap/"), "s3://b/snap/");
        assert_eq!(key("s3a://b/sn%61p/x.parquet"), "s3://b/snap/x.parquet");
        assert_eq!(key("abfss://c/snap/x"), "az://c/snap/x");
        assert!(!key("s3://b/snapshot2/x").starts_with(&key("s3://b/snap/")));
        assert!(key("s3://b/snap/t/x").starts_with(&key("s3://b/snap/")));
    }
    use super::*;

    #[test]
    fn a_long_names_temporary_fits_a_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let long = dir.path().join(format!("{}é.csv", "a".repeat(243)));
        std::fs::write(&long, b"x").unwrap();
        let temp = sibling(&long, "export");
        let name = temp.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.len() <= 247, "{}", name.len());
        std::fs::write(&temp, b"x").unwrap();
        assert_eq!(temp_pid(&name), Some(std::process::id()));
    }

    #[test]
    fn a_live_processs_temporary_is_told_from_a_dead_ones() {
        let dir = tempfile::tempdir().unwrap();
        let live = Temp::sibling_of(&dir.path().join("entry"), "cache");
        assert!(is_live_temp(live.path()), "{}", live.path().display());
        let name = live
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let pid = std::process::id().to_string();
        let dead = dir.path().join(name.replacen(&pid, "4000000000", 1));
        assert!(!is_live_temp(&dead), "{}", dead.display());
        // object_store's staging file of a write to a temporary (`….tmp#1`): removed with it,
        // and swept as a dead process's.
        let staged = dir.path().join(format!("{name}#1"));
        std::fs::write(&staged, b"partial").unwrap();
        assert!(is_live_temp(&staged));
        drop(live);
        assert!(!staged.exists());
        let dead_staged = dir.path().join(format!("{}#2", dead.display()));
        std::fs::write(&dead_staged, b"partial").unwrap();
        // Named like a dead process's leftover, but listed in no journal: not occlens's.
        assert!(sweep(dir.path()).is_empty());
        assert!(dead_staged.exists());
        journal::record_for(4000000000, &[&dead]);
        assert_eq!(sweep(dir.path()), std::slice::from_ref(&dead));
        assert!(!dead_staged.exists());
        assert!(!is_live_temp(&dir.path().join("entry")));
    }

    #[test]
    fn paths_inside_a_protected_directory_are_refused_through_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("snap");
        std::fs::create_dir(&snapshot).unwrap();
        protect(&snapshot);
        for inside in [
            "snap/cache/a/b",
            "snap/missing/../cache/x",
            "snap/x",
            "other/../snap/y",
        ] {
            let e = unprotected_as("--cache-dir", &dir.path().join(inside)).unwrap_err();
            assert!(
                e.to_string().contains("is inside the snapshot"),
                "{inside}: {e}"
            );
        }
        for outside in ["cache/a", "snap/../cache/x", "snap/missing/../../cache"] {
            assert!(
                unprotected_as("--cache-dir", &dir.path().join(outside)).is_ok(),
                "{outside}"
            );
        }
    }

    #[test]
    fn temp_names_carry_the_pid() {
        let p = sibling(Path::new("/x/out.csv"), "export");
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with(".out.csv.occlens-export-"), "{name}");
        assert_eq!(temp_pid(&name), Some(std::process::id()));
        assert_eq!(temp_pid(".occlens-snapshot-42-17.tmp"), Some(42));
        assert_eq!(temp_pid(".a.occlens-old-7-1.tmp"), Some(7));
        assert_eq!(temp_pid("notes.tmp"), None);
        assert_eq!(temp_pid(".occlens-x-abc-1.tmp"), None);
        assert_eq!(temp_pid(".occlens-x-1-1a.tmp"), None);
    }

    #[test]
    fn sweep_removes_only_dead_processes_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        // A pid far above any pid_max is never running.
        let dead = dir.path().join(".out.csv.occlens-export-4294967294-1.tmp");
        let live = dir.path().join(format!(
            ".out.csv.occlens-export-{}-1.tmp",
            std::process::id()
        ));
        let other = dir.path().join("keep.tmp");
        // A user's directory named like a dead process's temporary, listed in no journal.
        let named = dir.path().join(".mine.occlens-export-4294967294-2.tmp");
        std::fs::create_dir(&named).unwrap();
        std::fs::write(named.join("data"), b"mine").unwrap();
        // Listed in a dead process's journal under another process's id: not its own.
        let other_pid = dir.path().join(".b.occlens-export-4294967293-3.tmp");
        for p in [&dead, &live, &other, &other_pid] {
            std::fs::write(p, b"x").unwrap();
        }
        journal::record_for(4294967294, &[&dead, &live, &other, &other_pid]);
        assert_eq!(sweep(dir.path()), vec![dead.clone()]);
        assert!(!dead.exists() && live.exists() && other.exists() && other_pid.exists());
        assert!(named.join("data").exists());
    }

    #[test]
    fn replaces_only_empty_or_own_directories() {
        let dir = tempfile::tempdir().unwrap();
        let never = |_: &Path| false;
        assert!(replaceable(&dir.path().join("absent"), "a snapshot", &never).is_ok());
        assert!(replaceable(dir.path(), "a snapshot", &never).is_ok());
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        let e = replaceable(dir.path(), "a snapshot", &never).unwrap_err();
        assert!(e.to_string().contains("touched nothing"), "{e}");
        assert!(replaceable(dir.path(), "a snapshot", &|_| true).is_ok());
        let file = dir.path().join("notes.txt");
        assert!(replaceable(&file, "a snapshot", &|_| true).is_err());
    }

    #[test]
    fn a_dropped_temporary_is_removed_and_a_kept_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let t = Temp::new(dir.path().join("a.tmp"));
        std::fs::write(t.path(), b"x").unwrap();
        let p = t.path().to_path_buf();
        drop(t);
        assert!(!p.exists());
        let t = Temp::new(dir.path().join("b.tmp"));
        std::fs::create_dir(t.path()).unwrap();
        std::fs::write(t.path().join("f"), b"x").unwrap();
        let p = t.path().to_path_buf();
        t.keep();
        assert!(p.exists());
    }

    #[test]
    fn publish_file_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.csv");
        std::fs::write(&dest, b"theirs").unwrap();
        let t = Temp::sibling_of(&dest, "export");
        std::fs::write(t.path(), b"ours").unwrap();
        let tmp = t.path().to_path_buf();
        assert!(publish_file(t, &dest, false).is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"theirs");
        assert!(!tmp.exists(), "the temporary is removed on error");
        let t = Temp::sibling_of(&dest, "export");
        std::fs::write(t.path(), b"ours").unwrap();
        publish_file(t, &dest, true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"ours");
    }
}
