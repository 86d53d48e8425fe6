//! Names for work in progress: every writer (exports, snapshots, the cache of derived tables)
//! writes under a name no other writer uses, then renames into place when complete.

use std::path::{Path, PathBuf};

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
    path.with_file_name(format!(".{name}{}", temp_suffix(what)))
}
