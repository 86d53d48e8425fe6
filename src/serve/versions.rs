//! Snapshot versions under a running server: the version answering now, and the check that
//! opens a new one (its cache built) in the background and swaps it in atomically. Requests
//! hold an `Arc` of the version they started on, so a swap never changes an answer midway;
//! a version that fails to open is logged and the old one keeps serving.

use super::responses::Responses;
use crate::engine::{cache, catalog, Config, Engine};
use crate::error::Result;
use crate::snapshot::{location::Location, Snapshot};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

/// One opened snapshot version.
pub struct Version {
    pub engine: Engine,
    /// The snapshot's files (names, sizes, times, etags) as the cache keys them.
    pub fingerprint: String,
    pub opened: SystemTime,
    pub number: u64,
    /// Answers already given on this version.
    pub responses: Responses,
}

/// Where versions come from: the snapshot and the settings every version is opened with.
pub struct VersionSource {
    pub snapshot: Option<String>,
    pub config: Config,
    pub cache: cache::Settings,
    /// Bytes of answers each version remembers (`--response-cache`).
    pub response_budget: usize,
}

pub struct Versions {
    source: VersionSource,
    current: RwLock<Arc<Version>>,
    /// One check at a time (a timer tick and a SIGHUP may coincide); when the last one began.
    checking: tokio::sync::Mutex<Option<std::time::Instant>>,
    pub last_error: Mutex<Option<String>>,
}

impl VersionSource {
    async fn open(&self) -> Result<Engine> {
        let snapshot = self.snapshot.as_deref();
        let engine = Engine::open_cached(
            snapshot,
            self.config.clone(),
            &self.cache,
            &cache::Part::ALL,
            &|_| {},
        )
        .await?;
        if let Some(w) = &engine.cache_warning {
            eprintln!("occlens: {}", crate::redact::redact(w));
        }
        engine.check_keys().await?;
        Ok(engine)
    }

    /// The fingerprint of the snapshot as it is now (listing and footers only).
    async fn fingerprint(&self) -> Result<String> {
        let location = Location::resolve(self.snapshot.as_deref()).await?;
        let snapshot = Snapshot::open(
            &catalog::session(self.config.semantics)?,
            &location,
            self.config.time_zone,
        )
        .await?;
        Ok(cache::fingerprint(&snapshot, self.config.time_zone))
    }
}

impl Versions {
    /// Open the first version.
    pub async fn open(source: VersionSource) -> Result<Versions> {
        let engine = source.open().await?;
        let fingerprint = cache::fingerprint(&engine.snapshot, source.config.time_zone);
        let first = Version {
            engine,
            fingerprint,
            opened: SystemTime::now(),
            number: 1,
            responses: Responses::new(source.response_budget),
        };
        Ok(Versions {
            source,
            current: RwLock::new(Arc::new(first)),
            checking: tokio::sync::Mutex::new(None),
            last_error: Mutex::new(None),
        })
    }

    /// The version that answers a request starting now.
    pub fn current(&self) -> Arc<Version> {
        self.current.read().expect("not poisoned").clone()
    }

    /// Whether the snapshot can change under us (the built-in demo cannot).
    pub fn reloadable(&self) -> bool {
        self.current().engine.snapshot.base.scheme() != "memory"
    }

    /// After a request failed: `check`, unless a check began less than a second ago (a flood
    /// of failing requests lists the snapshot once a second, not once each). True when swapped.
    pub async fn check_after_failure(&self) -> bool {
        let recent = self
            .checking
            .lock()
            .await
            .is_some_and(|t| t.elapsed() < std::time::Duration::from_secs(1));
        !recent && self.check().await
    }

    /// Open the snapshot again when its files changed, then swap. True when swapped.
    pub async fn check(&self) -> bool {
        let mut last = self.checking.lock().await;
        *last = Some(std::time::Instant::now());
        let old = self.current();
        let result = async {
            let now = self.source.fingerprint().await?;
            if now == old.fingerprint {
                return Ok(None);
            }
            let engine = self.source.open().await?;
            // The files may have changed again while opening: key the version by what it read.
            let fingerprint = cache::fingerprint(&engine.snapshot, self.source.config.time_zone);
            Ok::<_, crate::Error>(Some(Version {
                engine,
                fingerprint,
                opened: SystemTime::now(),
                number: old.number + 1,
                responses: Responses::new(self.source.response_budget),
            }))
        }
        .await;
        match result {
            Ok(None) => false,
            Ok(Some(version)) => {
                let number = version.number;
                *self.current.write().expect("not poisoned") = Arc::new(version);
                *self.last_error.lock().expect("not poisoned") = None;
                eprintln!("occlens: snapshot version {number} now answers");
                true
            }
            Err(e) => {
                let e = crate::redact::redact(&e.to_string());
                eprintln!("occlens: the new snapshot version cannot be opened ({e}); version {} keeps answering", old.number);
                *self.last_error.lock().expect("not poisoned") = Some(e);
                false
            }
        }
    }
}
