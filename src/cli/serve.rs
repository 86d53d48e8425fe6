//! `occlens serve`: the arguments, and the snapshot options every command shares turned into
//! the server's source of versions.

use super::args::Cli;
use super::values::{parse_bytes, parse_bytes_or_zero, parse_timeout};
use occlens::serve::{ServeOptions, Tokens, VersionSource};
use occlens::Config;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Endpoints: GET /api/v2/occurrences/, /api/v2/occurrences/<id>/ and\n/api/v2/occurrences/algorithms/ (the status and bytes of `occlens api` for the same URL and\nrequester); GET /_occlens/status (snapshot version, tables, cache; uptime, requests, in\nflight); GET /metrics with --metrics (Prometheus text). Other paths: 404; other methods: 405.\n\nRequesters: --as for requests without a token (default anonymous); --tokens FILE maps DRF's\n\"Authorization: Token KEY\" to a requester, one `KEY anonymous|superuser[:id]|user:ID` per\nline (the file must be mode 0600); an unknown token is 401. Tokens are never logged.\n\nSnapshot versions: --reload-every N (and SIGHUP) checks the snapshot's files; a new version\nis opened and its cache built in the background, then answers every request that starts\nafter the swap (requests in flight finish on theirs). A version that fails to open is logged\nand the old one keeps serving.\n\nLimits: --max-in-flight requests at once, up to --max-queued more waiting (then 503 with\nRetry-After), --timeout per request (504), --max-url-bytes (414), --memory-limit for all\nqueries together; --max-connections open at once, each closed when it sends no request head\nwithin --header-timeout (idle keep-alive connections too). SIGTERM or Ctrl-C: stop accepting, finish the requests in flight, exit 0.\n\nExamples:\n  occlens --snapshot snap serve\n  occlens --snapshot s3://bucket/antenna serve --listen 0.0.0.0:8000 --api-base https://occ.example.org --reload-every 300\n  occlens --snapshot snap serve --tokens tokens.txt --metrics --cors-origin https://app.example.org"
)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed on stderr)
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: std::net::SocketAddr,
    /// DRF tokens: one `TOKEN anonymous|superuser[:id]|user:ID` per line (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<std::path::PathBuf>,
    /// Check the snapshot for a new version every SECONDS (SIGHUP checks at once)
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub reload_every: Option<std::time::Duration>,
    /// Requests answered at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_in_flight: u32,
    /// Requests waiting for a slot; one more is refused with 503 and Retry-After
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub max_queued: u32,
    /// Seconds a request may wait and run before 504 (more than 0, at most 86400)
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// Longest request target (path and query); a longer one is 414
    #[arg(long, value_name = "BYTES", default_value = "8K", value_parser = parse_bytes)]
    pub max_url_bytes: u64,
    /// Seconds a connection may take to send a request's head (a new connection, or an idle
    /// keep-alive one between requests); then it is closed
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = parse_timeout)]
    pub header_timeout: std::time::Duration,
    /// Connections open at once; more wait in the listen queue until one closes
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Serve Prometheus text at /metrics
    #[arg(long)]
    pub metrics: bool,
    /// An origin browsers may call from (repeatable; * for any)
    #[arg(long, value_name = "ORIGIN")]
    pub cors_origin: Vec<String>,
    /// No access-log line per request on stderr
    #[arg(long)]
    pub quiet: bool,
    /// What each snapshot version holds in memory: lists (what list pages read, and the
    /// snapshot's small tables), all (also a detail's related rows: faster details, about 3x
    /// the memory) or none (read every table from its files)
    #[arg(long, value_enum, default_value = "lists")]
    pub in_memory: occlens::engine::resident::Hold,
    /// At most this much held in memory per version; tables beyond it stay on their files
    #[arg(long, value_name = "BYTES", default_value = "4G", value_parser = parse_bytes)]
    pub in_memory_max: u64,
    /// Answers remembered per snapshot version, by path, query and requester (a repeated
    /// request is answered with the same bytes without computing them again; 0: none)
    #[arg(long, value_name = "BYTES", default_value = "128M", value_parser = parse_bytes_or_zero)]
    pub response_cache: u64,
}

pub async fn serve(cli: &Cli, args: &ServeArgs) -> occlens::Result<ExitCode> {
    let tokens = match args.tokens.as_deref() {
        Some(path) => Tokens::load(path)?,
        None => Tokens::none(),
    };
    let options = ServeOptions {
        listen: args.listen,
        api_base: super::api_base(cli)?,
        default_requester: cli.who.clone(),
        tokens,
        reload_every: args.reload_every,
        max_in_flight: args.max_in_flight as usize,
        max_queued: args.max_queued as usize,
        timeout: args.timeout,
        max_url_bytes: usize::try_from(args.max_url_bytes).unwrap_or(usize::MAX),
        metrics: args.metrics,
        cors_origins: args.cors_origin.clone(),
        access_log: !args.quiet,
        header_timeout: args.header_timeout,
        max_connections: args.max_connections as usize,
    };
    let source = VersionSource {
        snapshot: cli.snapshot.clone(),
        config: Config {
            api_base: String::new(), // the server's own address unless --api-base
            media_url: super::media_url(cli)?,
            time_zone: cli.time_zone,
            semantics: cli.semantics,
        },
        cache: occlens::engine::cache::Settings {
            mode: cli.cache.into(),
            dir: cli.cache_dir.clone(),
            range_rows: None,
            hold: args.in_memory,
            hold_max: args.in_memory_max,
            project: None,
            detail: None,
        },
        response_budget: usize::try_from(args.response_cache).unwrap_or(usize::MAX),
    };
    occlens::serve::run(options, source, shutdown()).await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM or SIGINT: from now on the server owns them (see `remove_temporaries_on_signal`);
/// the first one starts a graceful shutdown.
async fn shutdown() {
    super::SERVER_OWNS_SIGNALS.store(true, std::sync::atomic::Ordering::SeqCst);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!("occlens: shutting down; finishing the requests in flight");
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
