//! The cache of derived tables: `occurrence_list` (the one view every list page, detail and
//! export reads, and the expensive one — detection aggregates, best prediction, best
//! identification, cover image of every occurrence), the identifications and a detail's
//! related rows (images, detections with their captures, predictions, classifications)
//! sorted by occurrence, the taxon views the default filters and the species endpoints read,
//! and the facts the other endpoints aggregate per project (`occurrence_facts`,
//! `capture_hours`, `detection_hours`: queries/11_facts.sql), computed once per snapshot
//! version and stored as Parquet, so that later requests read them instead of recomputing
//! them.
//!
//! The cache is keyed by a fingerprint of everything the view's rows depend on: every snapshot
//! file's location, size, modification time and e-tag, the text of `queries/`, the time zone
//! (times of day are local) and the occlens version and source (see build.rs). A changed snapshot or occlens is a new
//! key, never a stale answer. The cache comes in four parts (`Part`: taxa, lists, details, facts),
//! each an entry of its own, built the first time a command needs it; each entry is a
//! directory written under a temporary name and renamed into place when complete; any of them
//! is safe to delete at any time.

use crate::engine::catalog::VIEW_FILES;
use crate::snapshot::Snapshot;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

/// A cached view: its name, the order its rows are written in (a page's project filter then
/// reads only that project's pages, and id lookups prune to pages), and `Some(column)` when
/// the view is written in ranges of that (occurrence) id column, each range computed, sorted
/// and written on its own, so memory is bounded by the range, not by the snapshot (the
/// ranges' filter reaches the detection and classification scans).
pub type CachedView = (&'static str, &'static str, Option<&'static str>);

/// The cache comes in parts, each an entry of its own built the first time a command needs
/// it: a first list request waits for the list part only, not for a detail's related rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    /// The taxon views that the occurrence lists' default filters and the species, stats and
    /// summary endpoints read (thousands of rows: built before the other parts, whose builds
    /// then read its files).
    Taxa,
    /// What every list page and detail reads: `occurrence_list` and the identifications.
    Lists,
    /// A detail's related rows sorted by occurrence. Without them a detail reads the
    /// snapshot's tables by occurrence (the same rows; slower on large row groups).
    Details,
    /// The per-project facts the other endpoints aggregate (queries/11_facts.sql).
    Facts,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::Taxa, Part::Lists, Part::Details, Part::Facts];

    pub fn name(self) -> &'static str {
        match self {
            Part::Taxa => "taxa",
            Part::Lists => "lists",
            Part::Details => "details",
            Part::Facts => "facts",
        }
    }

    pub fn views(self) -> &'static [CachedView] {
        match self {
            Part::Taxa => &[
                ("taxon_ancestry", "taxon_id, ancestor_id", None),
                ("default_filter_taxa", "project_id, taxon_id", None),
                ("taxon_parent", "taxon_id, position", None),
            ],
            Part::Lists => &[
                ("occurrence_list", "project_id, id", Some("id")),
                // Every identification with its position: a page's or detail's lookup by
                // occurrence id reads a few small pages, whatever the layout of
                // main_identification.
                (
                    "occurrence_identifications",
                    "occurrence_id, position",
                    None,
                ),
            ],
            // A detail's related rows, each read by occurrence id from a few small pages.
            Part::Details => &[
                (
                    "detail_images",
                    "occurrence_id, position",
                    Some("occurrence_id"),
                ),
                (
                    "detail_detections",
                    "occurrence_id, position",
                    Some("occurrence_id"),
                ),
                (
                    "prediction_candidates",
                    "occurrence_id, position",
                    Some("occurrence_id"),
                ),
                (
                    "detection_classifications",
                    "occurrence_id, detection_id, position",
                    Some("occurrence_id"),
                ),
            ],
            Part::Facts => &[
                ("occurrence_facts", "project_id, id", Some("id")),
                (
                    "capture_hours",
                    "project_id, deployment_id, day, hour",
                    None,
                ),
                (
                    "detection_hours",
                    "project_id, passes_defaults, day, hour",
                    None,
                ),
            ],
        }
    }
}

/// The column a cached view is read by through its page index (`engine::keyed`): a request's
/// related rows by occurrence, from the views written in `occurrence_id` order.
pub fn lookup_key(order: &str) -> Option<&'static str> {
    (order_columns(order).next() == Some("occurrence_id")).then_some("occurrence_id")
}

/// The views of the lists part that a project's entry holds that project's rows of (by
/// their `project_id`): all of them (the taxon views, whole, are a part of their own). A
/// list page of the project reads nothing else of them: every statement of a list request holds `project_id = P`. Such an entry is
/// read only by an engine answering that one request (`Engine::lists_project`): a first
/// list request on a new snapshot waits for its project's rows (SF1, a fifth of them: about
/// a third of the whole part's build), not every project's.
pub const PROJECT_SCOPED: &[&str] = &["occurrence_list", "occurrence_identifications"];

/// The entries of projects' lists ([`PROJECT_SCOPED`]) of `snapshot` under the cache root,
/// by project: those whose marker names a project and whose name is that project's key.
pub fn project_entries(
    settings: &Settings,
    snapshot: &Snapshot,
    tz: chrono_tz::Tz,
) -> Vec<(i64, PathBuf)> {
    let Some(root) = settings.root().filter(|_| settings.mode != Mode::Off) else {
        return Vec::new();
    };
    let mut found: Vec<(i64, PathBuf)> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let marker: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join(MARKER)).ok()?).ok()?;
            let p = marker["project"].as_i64()?;
            let key = scoped_directory(settings, snapshot, tz, Part::Lists, Some(p))?;
            (key == dir).then_some((p, dir))
        })
        .collect();
    found.sort();
    found
}

/// The cached view that holds every column pages filter and order on.
pub const LIST_VIEW: &str = "occurrence_list";

pub(crate) fn file(dir: &Path, view: &str) -> PathBuf {
    dir.join(format!("{view}.parquet"))
}

/// When the cache is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Read the snapshot's cache when present; build it when a command that answers requests
    /// needs it (api, list, detail, verify).
    #[default]
    Auto,
    /// Neither read nor write: every view computed from the snapshot's tables.
    Off,
    /// Rebuild the cache now, then read it.
    Refresh,
    /// Read it, or build it when missing; failing to write it is an error (`occlens cache
    /// build`), where `Auto` warns and answers from the snapshot.
    Build,
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub mode: Mode,
    /// Cache root; default `$OCCLENS_CACHE_DIR`, else `$XDG_CACHE_HOME/occlens`, else
    /// `$HOME/.cache/occlens`.
    pub dir: Option<PathBuf>,
    /// Rows (occurrences, detections, classifications) per range when building (default
    /// 22,000,000: 2M occurrences at SF1's proportions; tests use small ranges).
    pub range_rows: Option<i64>,
    /// What to hold in memory (`occlens serve`: a long-running process answering many
    /// requests; see `resident`), and at most how many bytes of it.
    pub hold: crate::engine::resident::Hold,
    pub hold_max: u64,
    /// The project of the one list request a command answers (`api` of an occurrence list
    /// with `project_id`, `list --project`): with `Auto`, when the whole lists part is not
    /// built, that project's lists part is read, or built (see [`PROJECT_SCOPED`]).
    pub project: Option<i64>,
    /// The occurrence of the one detail request a command answers (`api` of a detail,
    /// `detail`): with `Auto`, when the whole lists part is not built, the lists part of that
    /// occurrence's project is read, or built, as for a list of the project; an occurrence the
    /// snapshot does not hold is answered from its tables without building an entry of the
    /// lists.
    pub detail: Option<i64>,
}

impl Settings {
    pub fn root(&self) -> Option<PathBuf> {
        if let Some(d) = &self.dir {
            return Some(d.clone());
        }
        let env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        env("OCCLENS_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("occlens")))
            .or_else(|| env("HOME").map(|d| d.join(".cache").join("occlens")))
    }
}

/// The fingerprint of `snapshot` as the views would compute it in `time_zone`.
pub fn fingerprint(snapshot: &Snapshot, time_zone: chrono_tz::Tz) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "occlens {} {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("OCCLENS_SOURCE_HASH")
    ));
    for (name, text) in VIEW_FILES {
        h.update(format!("{name} {}\n", text.len()));
        h.update(text.as_bytes());
    }
    h.update(format!("tz {}\nbase {}\n", time_zone.name(), snapshot.base));
    for t in &snapshot.tables {
        h.update(format!("table {} {}\n", t.name, t.files.len()));
        for f in &t.files {
            h.update(format!(
                "{} {} {} {}\n",
                f.location,
                f.size,
                f.last_modified.to_rfc3339(),
                f.e_tag.as_deref().unwrap_or("")
            ));
            if let Some(changed) = crate::snapshot::change_time(&snapshot.base, &f.location) {
                h.update(format!("changed {changed}\n"));
            }
        }
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Where `part` of the cache of `snapshot` lives, or None when it is not cached (the built-in
/// demo, whose in-memory files change time on every run, or no cache directory). Each part is
/// an entry of its own, named by the fingerprint and the part.
pub fn directory(
    settings: &Settings,
    snapshot: &Snapshot,
    tz: chrono_tz::Tz,
    part: Part,
) -> Option<PathBuf> {
    scoped_directory(settings, snapshot, tz, part, None)
}

/// [`directory`], or with `project` that of the part's entry holding that project's rows
/// (see [`PROJECT_SCOPED`]).
pub fn scoped_directory(
    settings: &Settings,
    snapshot: &Snapshot,
    tz: chrono_tz::Tz,
    part: Part,
    project: Option<i64>,
) -> Option<PathBuf> {
    if settings.mode == Mode::Off || snapshot.base.scheme() == "memory" {
        return None;
    }
    let mut key = format!("{} {}", fingerprint(snapshot, tz), part.name());
    if let Some(p) = project {
        key += &format!(" project {p}");
    }
    let key = Sha256::digest(key);
    let name: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
    Some(settings.root()?.join(name))
}

/// The marker occlens writes last into each entry: the entry's files with their sizes and
/// SHA-256. Only directories holding it are ever read or removed as cache entries.
pub const MARKER: &str = "_occlens_cache.json";

/// What a cache entry directory holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Absent,
    Ready(PathBuf),
    /// The entry exists but does not match its marker (the reason).
    Damaged(String),
}

/// Inspect the entry `dir` of `part` (of `project`'s rows: [`PROJECT_SCOPED`]; None: the
/// whole part): its marker and every file's size (cheap, on every open); with `checksums`,
/// every file's SHA-256 too (`occlens cache status --verify`, `occlens check`).
pub fn inspect(dir: &Path, part: Part, project: Option<i64>, checksums: bool) -> Entry {
    if !dir.exists() {
        return Entry::Absent;
    }
    let marker = match std::fs::read(dir.join(MARKER)) {
        Ok(m) => m,
        Err(_) => return Entry::Damaged(format!("no {MARKER}")),
    };
    let marker: serde_json::Value = match serde_json::from_slice(&marker) {
        Ok(m) => m,
        Err(e) => return Entry::Damaged(format!("{MARKER}: {e}")),
    };
    if marker["part"].as_str() != Some(part.name()) {
        return Entry::Damaged(format!("{MARKER} is not that of the {} part", part.name()));
    }
    // An entry of one project's rows is never read as another's, or as the whole part's.
    let holds = marker["project"].as_i64();
    if holds != project || (holds.is_none() && !marker["project"].is_null()) {
        let what = |p: Option<i64>| p.map_or("the whole part".into(), |p| format!("project {p}"));
        return Entry::Damaged(format!(
            "{MARKER} is that of {}, expected {}",
            what(holds),
            what(project)
        ));
    }
    for (view, _, _) in part.views() {
        let name = format!("{view}.parquet");
        let Some(expected) = marker["files"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["name"] == name.as_str()))
        else {
            return Entry::Damaged(format!("{MARKER} does not list {name}"));
        };
        let path = dir.join(&name);
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) => return Entry::Damaged(format!("{name}: {e}")),
        };
        if Some(size) != expected["bytes"].as_u64() {
            return Entry::Damaged(format!(
                "{name} is {size} bytes, {MARKER} says {}",
                expected["bytes"]
            ));
        }
        if checksums {
            match sha256(&path) {
                Ok(sum) if Some(sum.as_str()) == expected["sha256"].as_str() => {}
                Ok(_) => return Entry::Damaged(format!("{name}: checksum differs from {MARKER}")),
                Err(e) => return Entry::Damaged(format!("{name}: {e}")),
            }
        }
    }
    Entry::Ready(dir.to_path_buf())
}

/// `dir` if it holds a complete, undamaged `part` of `project` (sizes checked against its
/// marker).
pub fn present(dir: &Path, part: Part, project: Option<i64>) -> Option<PathBuf> {
    match inspect(dir, part, project, false) {
        Entry::Ready(d) => Some(d),
        _ => None,
    }
}

pub(crate) fn sha256(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut File::open(path)?, &mut h)?;
    Ok(format!("{:x}", h.finalize()))
}

/// Whether `dir` is a cache entry occlens wrote: a directory itself (not a symbolic link to
/// one) named by a fingerprint (24 hex digits), holding files only, among them occlens's
/// marker (JSON whose `format` is `occlens-cache/…`; or a marker that is not JSON at all, cut
/// short by a crash), every other one of them a cached view's file that the marker lists.
/// Sizes are not compared: a damaged entry (a file changed after the build) is still
/// occlens's to remove. occlens writes the marker last and never leaves an entry without it
/// (entries appear whole, by rename), so a directory without that marker is not its own,
/// whatever the names inside.
pub fn is_entry(dir: &Path) -> bool {
    let named = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .is_some_and(|n| {
            n.len() == 24
                && n.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
    if !named || !dir.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return false;
    }
    let marker = dir.join(MARKER);
    if !marker.symlink_metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(text) = std::fs::read(&marker) else {
        return false;
    };
    // The files the marker lists; None for a marker cut short (the machine stopped after the
    // rename, before its bytes reached the disk): then the view files' names decide, so that
    // occlens can replace its own entry.
    let listed: Option<Vec<(String, Option<u64>)>> =
        match serde_json::from_slice::<serde_json::Value>(&text) {
            // Some other program's JSON under the marker's name: not ours.
            Ok(m)
                if !m["format"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("occlens-cache/")) =>
            {
                return false
            }
            Ok(m) => {
                let files = m["files"].as_array().map(Vec::as_slice).unwrap_or_default();
                let names = files
                    .iter()
                    .map(|f| Some((f["name"].as_str()?.to_string(), f["bytes"].as_u64())));
                match names.collect::<Option<Vec<_>>>() {
                    Some(names) => Some(names),
                    None => return false,
                }
            }
            Err(_) => None,
        };
    let views: Vec<String> = views().iter().map(|v| format!("{v}.parquet")).collect();
    // Only the marker and the cached views' files it lists: a user's file (or directory, or
    // link) put inside makes the directory not occlens's to remove.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    for e in entries {
        let Ok(e) = e else { return false };
        let name = e.file_name().to_string_lossy().to_string();
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            return false;
        }
        if name == MARKER {
            continue;
        }
        let bytes = match &listed {
            Some(l) => match l.iter().find(|(n, _)| *n == name) {
                Some((_, bytes)) => *bytes,
                None => return false,
            },
            None => None,
        };
        // Of the size the marker records, or a Parquet file (one of ours a crash or a bad
        // disk cut short): a user's file under a view's name, beside a copied marker, is not.
        let size = e.metadata().map(|m| m.len()).ok();
        if !views.contains(&name) || (bytes.is_none() || size != bytes) && !parquet_head(&e.path())
        {
            return false;
        }
    }
    true
}

/// Whether `path` begins as a Parquet file does (`PAR1`).
fn parquet_head(path: &Path) -> bool {
    let mut head = [0u8; 4];
    File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == b"PAR1"
}

/// A cache entry in use: a shared lock on its marker, held as long as the engine reading
/// it lives. An entry is removed only under an exclusive lock taken without waiting, so an
/// entry some process reads is never removed under it (`cache clear`, a rebuild, `--cache
/// refresh` leave it; session 59: a clear beside readers gave them "Not found" and empty
/// lists with exit 0).
#[derive(Debug)]
pub struct EntryLock(#[allow(dead_code)] File);

/// Hold the entry `dir` (see [`EntryLock`]): `None` when it has no marker, or when it was
/// removed while the lock was awaited.
pub fn hold(dir: &Path) -> Option<EntryLock> {
    let path = dir.join(MARKER);
    let file = File::open(&path).ok()?;
    file.lock_shared().ok()?;
    // Removed meanwhile (the remover held it): the file is no longer the entry's marker.
    same_file(&file, &path).then_some(EntryLock(file))
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_: &File, path: &Path) -> bool {
    path.exists()
}

/// What [`remove`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// Another process reads it (it holds the entry).
    InUse,
    /// Not an occlens cache entry: left alone.
    NotOurs,
}

/// Remove the cache entry `dir` if occlens wrote it and no process reads it; anything else
/// is left alone.
pub fn remove(dir: &Path) -> Removal {
    if !is_entry(dir) {
        return Removal::NotOurs;
    }
    // An entry without a marker (a build cut short) has no reader.
    let lock = match File::open(dir.join(MARKER)) {
        Ok(f) => match f.try_lock() {
            Ok(()) => Some(f),
            Err(std::fs::TryLockError::WouldBlock) => return Removal::InUse,
            Err(_) => None,
        },
        Err(_) => None,
    };
    let removed = std::fs::remove_dir_all(dir).is_ok();
    drop(lock);
    if removed {
        Removal::Removed
    } else {
        Removal::NotOurs
    }
}

/// [`remove`], true when the entry was removed.
pub fn remove_entry(dir: &Path) -> bool {
    remove(dir) == Removal::Removed
}

/// What [`clear`] did: the entries and leftovers removed, the entries other processes were
/// reading (left), and how many other things were left alone.
pub struct Cleared {
    pub removed: Vec<PathBuf>,
    pub in_use: Vec<PathBuf>,
    pub others: usize,
}

/// Remove every cache entry under `root` that no process reads and the leftovers of killed
/// cache builds; nothing else in `root` is touched.
pub fn clear(root: &Path) -> std::io::Result<Cleared> {
    let mut removed = crate::staging::sweep(root);
    let (mut in_use, mut others) = (Vec::new(), 0);
    for entry in std::fs::read_dir(root)?.flatten() {
        let path = entry.path();
        if removed.contains(&path) {
            continue;
        }
        // Another process's build in progress.
        if crate::staging::is_live_temp(&path) {
            in_use.push(path);
            continue;
        }
        match remove(&path) {
            Removal::Removed => removed.push(path),
            Removal::InUse => in_use.push(path),
            Removal::NotOurs => others += 1,
        }
    }
    Ok(Cleared {
        removed,
        in_use,
        others,
    })
}

/// The names of the cached views, of every part.
pub fn views() -> Vec<&'static str> {
    Part::ALL
        .iter()
        .flat_map(|p| p.views().iter().map(|(v, _, _)| *v))
        .collect()
}

mod build;
mod register;
pub use build::build;
pub use register::register;
use register::{order_columns, SORTED_BY};
