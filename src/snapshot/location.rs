//! Where a snapshot lives: a local directory, an object-store prefix, or the demo snapshot
//! compiled into the binary. Each becomes an `ObjectStore` plus a base URL.

use crate::error::{Error, Result};
use object_store::{memory::InMemory, path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;
use url::Url;

/// The Parquet files of `data/demo/`, embedded at build time (see `build.rs`).
static DEMO_FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/demo_files.rs"));

pub struct Location {
    /// What the user typed (or `demo`), for messages: secrets redacted ([`crate::redact`]).
    pub display: String,
    /// Base URL of the snapshot, always ending in `/`.
    pub base: Url,
    /// Store to register for `base`'s scheme and host; `None` for local files (`Stores`
    /// serves `file://` with [`LocalFiles`](super::file_reads::LocalFiles)).
    pub store: Option<Arc<dyn ObjectStore>>,
}

impl Location {
    /// Resolve `--snapshot`; `None` means the embedded demo snapshot.
    pub async fn resolve(spec: Option<&str>) -> Result<Location> {
        match spec {
            None => Self::demo().await,
            Some(s) => Self::parse(s),
        }
    }

    async fn demo() -> Result<Location> {
        if DEMO_FILES.is_empty() {
            return Err(Error::Snapshot {
                location: "demo".into(),
                message: "this binary was built without data/demo; pass --snapshot DIR".into(),
            });
        }
        let store = InMemory::new();
        for (name, bytes) in DEMO_FILES {
            let payload = PutPayload::from_static(bytes);
            store
                .put(&Path::from(*name), payload)
                .await
                .map_err(|e| Error::Snapshot {
                    location: "demo".into(),
                    message: e.to_string(),
                })?;
        }
        Ok(Location {
            display: "demo (data/demo, built in)".into(),
            base: Url::parse("memory://demo/").expect("static url"),
            store: Some(Arc::new(store)),
        })
    }

    pub(super) fn parse(spec: &str) -> Result<Location> {
        let err = |message: String| Error::Snapshot {
            location: crate::redact::redact(spec),
            message: crate::redact::redact(&message),
        };
        let parsed = Url::parse(spec);
        let url = match parsed {
            Ok(u) if u.scheme().len() > 1 => u,
            // A plain path (or a Windows drive letter, which parses as a one-letter scheme).
            _ => {
                let path = std::path::Path::new(spec);
                let missing = not_a_directory(path);
                // `SCHEME://…` that is no URL (a port out of range, a broken host) and no
                // directory either: the URL is what is wrong, not a missing directory.
                if let (Some(_), Err(e), Some((scheme, _))) =
                    (&missing, &parsed, spec.split_once("://"))
                {
                    if scheme.len() > 1
                        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                        && scheme
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
                    {
                        return Err(err(format!(
                            "not a valid URL ({e}); expected a directory, or file://, s3://, gs://, az://, http(s):// followed by a host and a path"
                        )));
                    }
                }
                missing.map_or(Ok(()), |why| Err(err(why)))?;
                let abs = path.canonicalize().map_err(|e| err(e.to_string()))?;
                Url::from_directory_path(&abs).map_err(|_| err("not a usable path".into()))?
            }
        };
        let mut base = url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let store = match url.scheme() {
            "file" => {
                let p = url
                    .to_file_path()
                    .map_err(|_| err("not a local path".into()))?;
                not_a_directory(&p).map_or(Ok(()), |why| Err(err(why)))?;
                None
            }
            _ => Some(store_for(&url).map_err(err)?),
        };
        Ok(Location {
            display: crate::redact::redact(spec),
            base,
            store,
        })
    }

    /// The object-store path of the snapshot's base (what follows the bucket/host).
    pub fn base_path(&self) -> Path {
        Path::from_url_path(self.base.path()).unwrap_or_default()
    }

    /// The URL that identifies the store for registration (scheme + host).
    pub fn store_url(&self) -> Url {
        let mut u = self.base.clone();
        u.set_path("/");
        u
    }
}

/// Why `path` cannot be a snapshot directory, if it cannot.
fn not_a_directory(path: &std::path::Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some("not a directory".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("no such directory".into()),
        Err(e) => Some(format!("cannot be read: {e}")),
    }
}

/// The object store serving `url` (s3, gs, az, http(s)), configured from the environment the
/// way each cloud's own tools are (AWS_*, GOOGLE_*, AZURE_* variables).
pub fn store_for(url: &Url) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    let bucket = || {
        url.host_str()
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                format!(
                    "{}:// URL needs a bucket, e.g. {}://bucket/prefix",
                    url.scheme(),
                    url.scheme()
                )
            })
    };
    let e = |e: object_store::Error| e.to_string();
    Ok(match url.scheme() {
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket()?)
                .build()
                .map_err(e)?,
        ),
        "gs" => Arc::new(
            object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(bucket()?)
                .build()
                .map_err(e)?,
        ),
        "az" | "abfs" | "abfss" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(bucket()?)
                .build()
                .map_err(e)?,
        ),
        "http" | "https" => {
            let mut root = url.clone();
            root.set_path("/");
            root.set_query(None);
            // Plain http:// is refused unless allowed. A server that does not answer is an
            // error after a few quick retries (object_store's default retries for 3 minutes).
            let retry = object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(30),
                ..Default::default()
            };
            Arc::new(
                object_store::http::HttpBuilder::new()
                    .with_url(root.as_str())
                    .with_client_options(object_store::ClientOptions::new().with_allow_http(true))
                    .with_retry(retry)
                    .build()
                    .map_err(e)?,
            )
        }
        other => {
            return Err(format!(
                "unsupported scheme {other}:// (expected a path, file://, s3://, gs://, az://, http(s)://)"
            ))
        }
    })
}

/// A session's object stores: the local file system, the stores registered explicitly, and any
/// other s3/gs/az/http(s) bucket built from the environment on first use (`store_for`). The
/// processes of a cluster (scheduler, executors) read snapshots through it: a plan names a
/// URL, each process opens the store with its own credentials variables.
#[derive(Debug)]
pub struct Stores {
    known: datafusion::execution::object_store::DefaultObjectStoreRegistry,
}

impl Default for Stores {
    /// Local files read with small reads in place (`file_reads`).
    fn default() -> Stores {
        use datafusion::execution::object_store::ObjectStoreRegistry as _;
        let known = datafusion::execution::object_store::DefaultObjectStoreRegistry::new();
        let local = Url::parse("file://").expect("a URL");
        known.register_store(&local, Arc::new(super::file_reads::LocalFiles::default()));
        Stores { known }
    }
}

impl datafusion::execution::object_store::ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let mut root = url.clone();
        root.set_path("/");
        root.set_query(None);
        let store = store_for(&root).map_err(|why| {
            datafusion::error::DataFusionError::Configuration(format!(
                "{}: {why}",
                crate::redact::redact(root.as_str())
            ))
        })?;
        self.known.register_store(&root, store.clone());
        Ok(store)
    }
}
