//! Where an export goes: a local path or an object-store URL. Either way the file is first
//! written completely under a temporary local name; then it is renamed into place (local) or
//! uploaded with a multipart upload that only becomes visible when complete (object stores).
//! An interrupted export never leaves a partial file under the final name. `-` is standard
//! output: the complete file is copied there once written (an export stopped by an error
//! prints nothing there).

use crate::error::{Error, Result};
use crate::snapshot::location::store_for;
use crate::staging::Temp;
use object_store::{path::Path as StorePath, ObjectStore, ObjectStoreExt, WriteMultipart};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

pub enum Target {
    Local {
        path: PathBuf,
        /// Replace an existing file (`--overwrite`); otherwise an existing file is an error.
        overwrite: bool,
    },
    Store {
        url: Url,
        store: Arc<dyn ObjectStore>,
        path: StorePath,
        overwrite: bool,
    },
    /// `-`: standard output.
    Stdout,
}

impl Target {
    /// `--out`: a path, or an `s3://`, `gs://`, `az://` URL naming the object to write, or `-`
    /// for standard output; an existing file or object is replaced only when `overwrite`.
    pub fn parse(spec: &str, overwrite: bool) -> Result<Target> {
        let usage = |m: String| Error::Usage(format!("--out {spec}: {m}"));
        if spec == "-" {
            return Ok(Target::Stdout);
        }
        if spec.trim().is_empty() {
            return Err(Error::Usage(
                "--out: empty (expected a file name or URL)".into(),
            ));
        }
        match Url::parse(spec) {
            Ok(url) if url.scheme().len() > 1 && url.scheme() != "file" => {
                if !matches!(url.scheme(), "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss") {
                    return Err(usage(format!(
                        "cannot write to {}:// (expected a path, s3://, gs:// or az://)",
                        url.scheme()
                    )));
                }
                let path =
                    StorePath::from_url_path(url.path()).map_err(|e| usage(e.to_string()))?;
                if path.as_ref().is_empty() || url.path().ends_with('/') {
                    return Err(usage("the URL must name an object, not a prefix".into()));
                }
                let store = store_for(&url).map_err(usage)?;
                Ok(Target::Store {
                    url,
                    store,
                    path,
                    overwrite,
                })
            }
            Ok(url) if url.scheme() == "file" => url
                .to_file_path()
                .map_err(|_| usage("not a local path".into()))
                .and_then(|p| Self::local(p, spec, overwrite)),
            _ => Self::local(PathBuf::from(spec), spec, overwrite),
        }
    }

    fn local(path: PathBuf, spec: &str, overwrite: bool) -> Result<Target> {
        if path.is_dir() || spec.ends_with('/') {
            return Err(Error::Usage(format!(
                "--out {spec}: is a directory (expected a file name)"
            )));
        }
        match std::fs::symlink_metadata(&path) {
            Ok(_) if !overwrite => return Err(crate::staging::exists(&path)),
            Ok(m) if !m.file_type().is_file() => {
                return Err(Error::Usage(format!(
                    "--out {spec}: exists and is not a regular file; occlens replaces only a file"
                )))
            }
            _ => {}
        }
        crate::staging::unprotected(&path)?;
        if let Some(why) = crate::staging::missing_folder(&path) {
            return Err(Error::Usage(format!("--out {spec}: {why}")));
        }
        Ok(Target::Local { path, overwrite })
    }

    /// An error when the target lies inside the snapshot being read (known once it is open:
    /// a local path is also checked by [`Target::parse`], an object again at upload).
    pub fn unprotected(&self) -> Result<()> {
        match self {
            Target::Local { path, .. } => crate::staging::unprotected(path),
            Target::Store { url, .. } => crate::staging::unprotected_url("--out", url),
            Target::Stdout => Ok(()),
        }
    }

    /// The temporary local file to write first (removed when dropped, and on SIGINT/SIGTERM).
    pub fn temp(&self) -> Temp {
        match self {
            Target::Local { path, .. } => Temp::sibling_of(path, "export"),
            Target::Store { .. } | Target::Stdout => Temp::in_temp_dir("export"),
        }
    }

    pub fn display(&self) -> String {
        match self {
            Target::Local { path, .. } => path.display().to_string(),
            Target::Store { url, .. } => url.to_string(),
            Target::Stdout => "standard output".to_string(),
        }
    }

    /// Move the finished temporary file into place; returns its size in bytes.
    pub async fn commit(&self, tmp: Temp) -> Result<u64> {
        let bytes = std::fs::metadata(tmp.path())
            .map_err(|e| Error::io(tmp.path(), e))?
            .len();
        match self {
            Target::Local { path, overwrite } => {
                crate::staging::publish_file(tmp, path, *overwrite)?
            }
            Target::Store {
                url,
                store,
                path,
                overwrite,
            } => {
                crate::staging::unprotected_url("--out", url)?;
                if !overwrite && store.head(path).await.is_ok() {
                    return Err(Error::Usage(format!(
                        "--out {url}: the object exists; occlens does not replace it unless --overwrite is given"
                    )));
                }
                let result = upload(store.as_ref(), path, tmp.path()).await;
                drop(tmp);
                result.map_err(|e| {
                    Error::object_store(format!("upload to {url} failed: {e}")).because(e)
                })?;
            }
            Target::Stdout => {
                use std::io::Write as _;
                let stdout = |e| Error::io("standard output", e);
                let mut file =
                    std::fs::File::open(tmp.path()).map_err(|e| Error::io(tmp.path(), e))?;
                let mut out = std::io::stdout().lock();
                std::io::copy(&mut file, &mut out).map_err(stdout)?;
                out.flush().map_err(stdout)?;
            }
        }
        Ok(bytes)
    }
}

/// Stream the local file `tmp` to `path` as a multipart upload (visible only when complete).
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    path: &StorePath,
    tmp: &Path,
) -> std::result::Result<(), String> {
    let mut file = std::fs::File::open(tmp).map_err(|e| e.to_string())?;
    let upload = store.put_multipart(path).await.map_err(|e| e.to_string())?;
    let mut writer = WriteMultipart::new(upload);
    let mut buf = vec![0u8; 8 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        writer
            .wait_for_capacity(4)
            .await
            .map_err(|e| e.to_string())?;
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(|e| e.to_string())?;
    Ok(())
}
