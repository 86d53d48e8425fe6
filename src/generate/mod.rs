//! Snapshots made by occlens itself: the row builder and the synthetic generator.

pub mod builder;
mod columnar;
mod edge_cases;
pub mod realistic;

pub use builder::SnapshotBuilder;
pub use edge_cases::edge_cases;
pub use realistic::realistic;

use crate::error::{Error, Result};
use crate::pg::write::{describe_tables, is_snapshot, MANIFEST, SNAPSHOT_KIND};
use crate::staging::{publish_dir, replaceable, Temp};
use std::path::Path;

/// Write a generated snapshot to `out` as every occlens writer does: `write` fills a staging
/// sibling; a manifest (`source` says how it was made) is added; the directory is moved into
/// place, replacing only an empty directory or an earlier occlens snapshot. An interrupted
/// run leaves nothing under `out`.
pub fn publish<T>(out: &Path, source: &str, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    if out.as_os_str().is_empty() {
        return Err(Error::Usage("--out: empty (expected a directory)".into()));
    }
    // Its folder first (a file in its place gave "x/y: Not a directory", not naming --out).
    if let Some(why) = crate::staging::missing_folder(out) {
        return Err(Error::Usage(format!("--out {}: {why}", out.display())));
    }
    replaceable(out, SNAPSHOT_KIND, &is_snapshot)?;
    let staging = Temp::sibling_of(out, "generate");
    // Named as --out (the hidden staging directory beside it is occlens's detail).
    std::fs::create_dir(staging.path()).map_err(|e| Error::io(out, e))?;
    let made = write(staging.path())?;
    let manifest = serde_json::json!({
        "format": crate::snapshot::MANIFEST_FORMAT,
        "source": source,
        "tables": describe_tables(staging.path())?,
        "occlens": env!("CARGO_PKG_VERSION"),
    });
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    let path = staging.path().join(MANIFEST);
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    publish_dir(staging, out, SNAPSHOT_KIND, &is_snapshot)?;
    Ok(made)
}
