//! `_snapshot.json`, the manifest `occlens snapshot` writes last: which files each table has
//! (with their sizes and SHA-256), and which optional tables the source did not have.

use super::absence;
use super::location::Location;
use crate::error::{Error, Result};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::HashMap;

/// A file `_snapshot.json` lists for a table (`tables[].files[]`).
#[derive(Debug, Clone)]
pub struct ListedFile {
    /// Relative to the snapshot root, e.g. `main_classification/part-00001.parquet`.
    pub path: String,
    pub bytes: u64,
    pub sha256: Option<String>,
    /// The rows the file holds, when the manifest says: a count, or the text of a value
    /// that is not one (`occlens check` compares the footer, or reports the value).
    pub rows: Option<std::result::Result<u64, String>>,
}

/// What `_snapshot.json` says of one table.
#[derive(Debug, Clone)]
pub enum Listed {
    Files(Vec<ListedFile>),
    /// Named in `absent_tables`: an optional table the source database did not have.
    Absent,
}

/// The tables `_snapshot.json` describes, by name; a malformed manifest is an error (one line).
pub fn manifest_tables(
    manifest: &serde_json::Value,
) -> std::result::Result<HashMap<String, Listed>, String> {
    match manifest.get("format") {
        None => {}
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(serde_json::Value::String(f)) if f.starts_with("occlens-snapshot/") => {
            return Err(format!(
                "_snapshot.json has format {f:?}, written by another occlens version (this one reads {FORMAT:?})"
            ))
        }
        Some(other) => {
            return Err(format!(
                "_snapshot.json has format {other}, not an occlens snapshot manifest (expected {FORMAT:?})"
            ))
        }
    }
    let mut out = HashMap::new();
    // Each file once: a file listed twice (in one table or two) would be read twice, its
    // rows counted twice, silently.
    let mut seen: HashMap<String, String> = HashMap::new();
    let tables = manifest["tables"]
        .as_array()
        .ok_or("_snapshot.json has no \"tables\" list")?;
    for (i, entry) in tables.iter().enumerate() {
        let name = entry["name"]
            .as_str()
            .ok_or_else(|| format!("_snapshot.json: tables[{i}] has no name"))?;
        let files = entry["files"]
            .as_array()
            .ok_or_else(|| format!("_snapshot.json: table {name} has no \"files\" list"))?;
        let mut listed = Vec::new();
        for (j, f) in files.iter().enumerate() {
            let (Some(path), Some(bytes)) = (f["path"].as_str(), f["bytes"].as_u64()) else {
                return Err(format!(
                    "_snapshot.json: table {name}: files[{j}] needs a \"path\" and a size in \"bytes\""
                ));
            };
            // `./x` names `x` (as a shell and the tools that write such paths read it).
            let path = path.trim_start_matches("./");
            if path.starts_with('/') || path.starts_with('\\') {
                return Err(format!(
                    "_snapshot.json: table {name}: {path:?} is an absolute path (expected a path relative to the snapshot, such as {name}.parquet)"
                ));
            }
            let parsed = match Path::parse(path) {
                Ok(p) if !path.is_empty() => p,
                _ => {
                    return Err(format!(
                        "_snapshot.json: table {name}: {path:?} is not a path inside the snapshot"
                    ))
                }
            };
            if let Some(first) = seen.insert(parsed.to_string(), name.to_string()) {
                let whose = match first == name {
                    true => format!("twice by table {name}"),
                    false => format!("by tables {first} and {name}"),
                };
                return Err(format!(
                    "_snapshot.json lists {path:?} {whose} (each file belongs to one table, once)"
                ));
            }
            // Only `occlens check` reads it (other tools may write 30.0).
            let rows = match &f["rows"] {
                serde_json::Value::Null => None,
                v => Some(count(v).ok_or_else(|| v.to_string())),
            };
            let sha256 = match &f["sha256"] {
                serde_json::Value::Null => None,
                serde_json::Value::String(h)
                    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    Some(h.to_ascii_lowercase())
                }
                _ => {
                    return Err(format!(
                        "_snapshot.json: table {name}: files[{j}] has a \"sha256\" that is not 64 hex digits"
                    ))
                }
            };
            listed.push(ListedFile {
                path: path.to_string(),
                bytes,
                sha256,
                rows,
            });
        }
        if listed.is_empty() {
            return Err(format!("_snapshot.json: table {name} lists no files"));
        }
        if out
            .insert(name.to_string(), Listed::Files(listed))
            .is_some()
        {
            return Err(format!("_snapshot.json lists table {name} twice"));
        }
    }
    for name in manifest["absent_tables"].as_array().into_iter().flatten() {
        let name = name
            .as_str()
            .ok_or("_snapshot.json: absent_tables holds a value that is not a table name")?;
        if out.insert(name.to_string(), Listed::Absent).is_some() {
            return Err(format!(
                "_snapshot.json lists table {name} both with files and as absent"
            ));
        }
    }
    Ok(out)
}

/// A manifest's row count: a non-negative integer (written as 30 or 30.0).
pub(crate) fn count(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        let n = v.as_f64()?;
        (n >= 0.0 && n.fract() == 0.0 && n < 2f64.powi(53)).then_some(n as u64)
    })
}

/// `_snapshot.json`, when there is one (a manifest that exists but cannot be read is an error).
pub(super) async fn read_manifest(
    store: &dyn ObjectStore,
    base: &Path,
    location: &Location,
) -> Result<Option<serde_json::Value>> {
    let err = |message: String| Error::Snapshot {
        location: location.display.clone(),
        message,
    };
    if let Some(why) = super::local::not_regular(location, MANIFEST) {
        return Err(err(why));
    }
    let path = base.clone().join(MANIFEST);
    let bytes = match store.get(&path).await {
        // The size a web server announces is believed only up to a bound: a body is held
        // whole, and a lying `Content-Length` asked for 100 GB.
        Ok(found) if found.meta.size > MAX_MANIFEST_BYTES => {
            return Err(err(format!(
                "{MANIFEST} is {} bytes, more than a manifest's {MAX_MANIFEST_BYTES} (expected the JSON `occlens snapshot` writes)",
                found.meta.size
            )))
        }
        Ok(found) => found.bytes().await,
        Err(e) => Err(e),
    };
    match bytes {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).map_err(|e| {
                err(format!("{MANIFEST} is not valid JSON: {e}"))
            })?))
        }
        Err(e) => match absence(location, MANIFEST, e) {
            None => Ok(None),
            Some(why) => Err(err(format!("{MANIFEST} {why}"))),
        },
    }
}

/// The largest manifest read (one of a snapshot with 100,000 part files is about 20 MB).
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The manifest format this occlens reads and writes (`"format"`; a manifest without one is
/// read as this).
pub const FORMAT: &str = "occlens-snapshot/1";

/// The name of the manifest `occlens snapshot` writes last.
pub(super) const MANIFEST: &str = "_snapshot.json";

#[cfg(test)]
mod tests {
    use super::{manifest_tables, Listed};
    use serde_json::json;

    fn files(paths: &[&str]) -> serde_json::Value {
        let files: Vec<_> = paths
            .iter()
            .map(|p| json!({"path": p, "bytes": 1}))
            .collect();
        json!({"tables": [{"name": "main_tag", "files": files}]})
    }

    #[test]
    fn a_leading_dot_slash_names_the_same_file() {
        let tables = manifest_tables(&files(&["./main_tag.parquet"])).unwrap();
        let Some(Listed::Files(f)) = tables.get("main_tag") else {
            panic!("{tables:?}")
        };
        assert_eq!(f[0].path, "main_tag.parquet");
        let e = manifest_tables(&files(&["./main_tag.parquet", "main_tag.parquet"])).unwrap_err();
        assert!(e.contains("twice by table main_tag"), "{e}");
        for bad in [
            "/main_tag.parquet",
            "./../main_tag.parquet",
            "main_tag/../x.parquet",
        ] {
            assert!(manifest_tables(&files(&[bad])).is_err(), "{bad}");
        }
    }
}
