//! `occlens serve`: the occurrence endpoints of `occlens api` over HTTP, from one long-running
//! process that keeps the snapshot, its cache and its plans warm — a read replica of
//! Antenna's occurrence API.
//!
//! axum (on hyper and tokio) does the HTTP; this module decides what is answered: the bytes
//! `occlens api` gives for the same URL and requester, DRF's 401/404/405 bodies, and the
//! operational limits (requests in flight and queued, a per-request timeout, URL length), the
//! access log, `/_occlens/status` and `/metrics`. Read-only by construction: nothing here
//! writes except the cache of a new snapshot version.

mod handler;
mod metrics;
mod responses;
mod tokens;
mod versions;

pub use tokens::Tokens;
pub use versions::VersionSource;

use crate::api::request::Requester;
use crate::error::{Error, Result};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Scheme and host of hyperlinks; None: the server's own address.
    pub api_base: Option<String>,
    /// Who a request without an `Authorization: Token …` header is.
    pub default_requester: Requester,
    /// `--tokens` (`Tokens::none()` without it: every `Token …` header is then refused).
    pub tokens: Tokens,
    /// Check the snapshot for a new version this often (SIGHUP checks at once).
    pub reload_every: Option<Duration>,
    pub max_in_flight: usize,
    /// Requests waiting for a slot beyond which a request is refused with 503.
    pub max_queued: usize,
    pub timeout: Duration,
    pub max_url_bytes: usize,
    pub metrics: bool,
    pub cors_origins: Vec<String>,
    /// One access-log line per request on stderr.
    pub access_log: bool,
}

/// What every request shares.
pub struct Server {
    options: ServeOptions,
    versions: versions::Versions,
    slots: tokio::sync::Semaphore,
    queued: AtomicUsize,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    started: Instant,
    metrics: metrics::Metrics,
}

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a Server);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    fn enter(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self)
    }
}

/// Bind `options.listen`, open the snapshot (building its cache), announce the address on
/// stderr (`occlens: serving http://ADDR/`), and answer until `shutdown` resolves; then stop
/// accepting, finish the requests in flight and return.
pub async fn run(
    options: ServeOptions,
    mut source: VersionSource,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::Usage(format!("--listen {}: {e}", options.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("--listen {}: {e}", options.listen)))?;
    source.config.api_base = options
        .api_base
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    if options.api_base.is_none() && addr.ip().is_unspecified() {
        eprintln!(
            "occlens: warning: hyperlinks (next, previous, details) name http://{addr}, which other machines cannot reach; give --api-base with the address clients use"
        );
    }
    let versions = versions::Versions::open(source).await?;
    crate::api::request::ensure_known(
        &versions.current().engine,
        &options.default_requester,
        "--as",
    )
    .await?;
    let server = Arc::new(Server {
        slots: tokio::sync::Semaphore::new(options.max_in_flight.max(1)),
        options,
        versions,
        queued: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        started: Instant::now(),
        metrics: metrics::Metrics::default(),
    });
    let reloads = tokio::spawn(watch(server.clone()));
    let app = handler::router(server.clone())?;
    eprintln!(
        "occlens: serving http://{addr}/ (Ctrl-C or SIGTERM stops, after the requests in flight)"
    );
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    reloads.abort();
    // A version being opened when the server stopped leaves no partial cache entry behind.
    crate::staging::remove_live();
    served.map_err(|e| Error::Usage(format!("serving on {addr}: {e}")))?;
    eprintln!("occlens: stopped");
    Ok(())
}

/// Check for a new snapshot version every `--reload-every` and on SIGHUP.
async fn watch(server: Arc<Server>) {
    if !server.versions.reloadable() {
        return;
    }
    let every = server.options.reload_every;
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let tick = async {
            match every {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => drop(h.recv().await),
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        tokio::select! {
            _ = tick => {}
            _ = hangup => {}
        }
        server.versions.check().await;
    }
}
