//! What occlens never writes into: the snapshot being read, as a local directory (through
//! symlinks and `..` too) or as an object-store prefix.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Directories this process reads from (the open snapshot): nothing is ever written there.
static PROTECTED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Never write into `dir` (the snapshot being read).
pub fn protect(dir: &Path) {
    if let (Ok(dir), Ok(mut p)) = (dir.canonicalize(), PROTECTED.lock()) {
        p.push(dir);
    }
}

/// Object-store and web prefixes this process reads from (the open snapshot, `s3://b/snap/`).
static PROTECTED_URLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Never write under the URL prefix `base` (the snapshot being read, when it is remote).
pub fn protect_url(base: &url::Url) {
    if let Ok(mut p) = PROTECTED_URLS.lock() {
        p.push(url_key(base));
    }
}

/// An object URL as compared with a protected prefix: the store's kind (`s3a` is `s3`;
/// `abfs`, `abfss` are `az`), the bucket (host) and the object path as the store reads it
/// (percent-escapes decoded: `sn%61p` is `snap`), a prefix's path ending with `/`.
pub(super) fn url_key(url: &url::Url) -> String {
    let scheme = match url.scheme() {
        "s3a" => "s3",
        "abfs" | "abfss" => "az",
        s => s,
    };
    let path = object_store::path::Path::from_url_path(url.path())
        .map_or_else(|_| url.path().to_string(), |p| p.to_string());
    let slash = if url.path().ends_with('/') && !path.is_empty() {
        "/"
    } else {
        ""
    };
    format!(
        "{scheme}://{}/{path}{slash}",
        url.host_str().unwrap_or_default()
    )
}

/// An error when the object `dest` lies under a protected prefix (the snapshot being read).
pub fn unprotected_url(what: &str, dest: &url::Url) -> Result<()> {
    let key = url_key(dest);
    let protected = PROTECTED_URLS.lock().map(|p| p.clone()).unwrap_or_default();
    match protected.iter().find(|p| key.starts_with(p.as_str())) {
        Some(p) => Err(Error::Usage(format!(
            "{what} {}: is inside the snapshot being read ({}); occlens never writes there",
            crate::redact::redact(dest.as_str()),
            crate::redact::redact(p)
        ))),
        None => Ok(()),
    }
}

/// An error when `dest` lies inside a protected directory (through symlinks and `..` too).
pub fn unprotected(dest: &Path) -> Result<()> {
    unprotected_as("--out", dest)
}

/// [`unprotected`], the message naming `what` was given `dest` (`--out`, `--cache-dir`).
pub fn unprotected_as(what: &str, dest: &Path) -> Result<()> {
    // The nearest existing ancestor resolved (symlinks, `..`), then the components below it
    // that do not exist yet (a cache entry's folders are made on the way), `..` among them
    // taken lexically.
    let absolute = match dest.is_absolute() {
        true => dest.to_path_buf(),
        false => std::env::current_dir().map_or(dest.to_path_buf(), |d| d.join(dest)),
    };
    // `dest` itself is never resolved (a symlink there is the writer's business).
    let mut below: Vec<_> = absolute.components().next_back().into_iter().collect();
    let Some(mut existing) = absolute.parent() else {
        return Ok(());
    };
    let mut resolved = loop {
        match existing.canonicalize() {
            Ok(p) => break p,
            Err(_) => match existing.parent() {
                Some(up) => {
                    below.extend(existing.components().next_back());
                    existing = up;
                }
                None => return Ok(()),
            },
        }
    };
    for component in below.iter().rev() {
        match component {
            std::path::Component::ParentDir => {
                resolved.pop();
            }
            std::path::Component::Normal(name) => resolved.push(name),
            _ => {}
        }
    }
    let protected = PROTECTED.lock().map(|p| p.clone()).unwrap_or_default();
    match protected.iter().find(|d| resolved.starts_with(d)) {
        Some(d) => Err(Error::Usage(format!(
            "{what} {}: is inside the snapshot being read ({}); occlens never writes there",
            dest.display(),
            d.display()
        ))),
        None => Ok(()),
    }
}
