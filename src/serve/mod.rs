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
mod stalling;
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
    /// A connection that sends no complete request head within this (a new connection, or
    /// an idle keep-alive one) is closed.
    pub header_timeout: Duration,
    /// Connections open at once; more wait in the listen queue until one closes.
    pub max_connections: usize,
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
    let limits = Connections {
        header_timeout: server.options.header_timeout,
        write_stall: server.options.timeout,
        max: server.options.max_connections.max(1),
    };
    accept(listener, app, limits, shutdown).await;
    reloads.abort();
    // A version being opened when the server stopped leaves no partial cache entry behind.
    crate::staging::remove_live();
    eprintln!("occlens: stopped");
    Ok(())
}

/// What a connection may take.
struct Connections {
    /// To send a request's head (also between requests).
    header_timeout: Duration,
    /// To read what the server writes (a client that stops reading is dropped).
    write_stall: Duration,
    /// Open at once.
    max: usize,
}

/// Serve `app` on the connections of `listener` until `shutdown` resolves, then stop
/// accepting, let each connection finish its request in flight, and return when all are
/// closed (or after twice the write-stall limit). At most `limits.max` are open at once (a
/// permit each); a connection without a complete request head within `header_timeout` (slow,
/// or idle between requests), or whose client reads nothing for `write_stall`, is closed.
async fn accept(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Connections,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // A client that sends its request and then closes its side (`nc -N`) is answered.
        .half_close(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors, a connection reset before it was accepted: go on
                // (after a pause, so that a full descriptor table is not a busy loop).
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = stalling::Stalling::new(stream, limits.write_stall);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(hyper_util::rt::TokioIo::new(io), service);
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let mut stopped = false;
            loop {
                tokio::select! {
                    _ = connection.as_mut() => break,
                    changed = stopping.changed(), if !stopped => {
                        stopped = true;
                        if changed.is_ok() {
                            connection.as_mut().graceful_shutdown();
                        }
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection closed (all permits back), or the deadline.
    let all = u32::try_from(limits.max).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(2 * limits.write_stall, permits.acquire_many(all)).await;
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
