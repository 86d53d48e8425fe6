//! `occlens`: a thin command line over the library (clap).

/// `println!` that returns an error instead of panicking when stdout is closed.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| occlens::Error::io("stdout", e))
    }};
}
pub(crate) use outln;

mod api;
mod args;
mod audit;
mod cache;
mod cluster;
mod export;
mod malloc;
mod memory_guard;
mod serve;
mod shell;
mod signals;
mod snapshot;
mod sql;
mod table;
mod time_limit;
mod values;
mod verify;

use args::{Cli, Command, GenerateShape};
use clap::Parser as _;
use occlens::api::request::{ensure_known, Requester};
use occlens::engine::cache::Part;
use occlens::{Config, Engine};
use signals::remove_temporaries_on_signal;
pub use signals::{SERVER_OWNS_SIGNALS, SHELL_OWNS_SIGINT};
use std::process::ExitCode;

pub fn main() -> ExitCode {
    occlens::engine::statements::process_started();
    malloc::arenas();
    // Planning deeply nested SQL recurses (an expression of thousands of terms): a big stack
    // for the thread that plans (and for the runtime's workers) instead of the default 8 MiB.
    match std::thread::Builder::new()
        .name("main".into())
        .stack_size(512 << 20)
        .spawn(occlens_main)
    {
        Ok(handle) => {
            let code = handle.join().unwrap_or(ExitCode::from(1));
            occlens::engine::statements::mark("main thread joined");
            occlens::staging::finish_journal();
            code
        }
        Err(_) => {
            let code = occlens_main();
            occlens::staging::finish_journal();
            code
        }
    }
}

fn occlens_main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if matches!(
        cli.command,
        Command::Api(_) | Command::List(_) | Command::Detail(_)
    ) {
        malloc::for_requests();
    }
    register_secrets(&cli);
    std::panic::set_hook(Box::new(report_panic));
    if let Some(bytes) = cli.memory_limit {
        occlens::engine::catalog::set_memory_limit(bytes);
    }
    occlens::engine::catalog::spill_in_own_directory();
    if !matches!(cli.command, Command::Serve(_) | Command::Cluster(_)) {
        memory_guard::watch();
        match (&cli.command, cli.time_limit) {
            // The interactive shell bounds each statement.
            (Command::Sql(s), _) if shell::interactive(s) => {}
            (_, Some(limit)) => time_limit::watch(limit),
            (_, None) => {}
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(64 << 20)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("occlens: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    occlens::engine::statements::mark("runtime started");
    // A server reloads on SIGHUP (`serve`) or keeps running (`cluster`): never ended by it.
    let hup_ends = !matches!(cli.command, Command::Serve(_) | Command::Cluster(_));
    runtime.spawn(remove_temporaries_on_signal(hup_ends));
    // A panic is a bug, but never a crash: the hook printed one line; exit 1.
    let result =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(run(cli))))
        {
            Ok(result) => result,
            Err(_) => {
                occlens::staging::remove_live();
                return ExitCode::from(1);
            }
        };
    occlens::engine::statements::mark("command done");
    // What is left of this process's temporaries (e.g. an in-process executor's files).
    occlens::staging::remove_live();
    occlens::engine::statements::mark("exiting");
    drop(runtime);
    occlens::engine::statements::mark("runtime dropped");
    let panic = PANIC.lock().ok().and_then(|mut p| p.take());
    match result {
        Ok(code) => code,
        // Like ripgrep and coreutils under `| head`: stop quietly when stdout is closed.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            match panic {
                Some(p) => eprintln!("occlens: {}", panic_message(&p)),
                // One line whatever the error quotes (a path with a newline, a reader's
                // multi-line message).
                None => eprintln!(
                    "occlens: {}",
                    occlens::redact::redact(&occlens::error::one_line(&e.to_string()))
                ),
            }
            ExitCode::from(1)
        }
    }
}

/// Every secret the arguments hold, registered before anything may quote it back (see
/// `occlens::redact`): passwords and secret query parameters of --snapshot, --api-url,
/// --api-base, --from and --out, PGPASSWORD, --token.
fn register_secrets(cli: &Cli) {
    use occlens::redact::{register_secret, register_secrets_in};
    let mut texts: Vec<&str> = Vec::new();
    texts.extend(cli.snapshot.as_deref());
    texts.extend(cli.api_base.as_deref());
    match &cli.command {
        Command::Snapshot(s) => {
            texts.push(&s.from);
            texts.push(&s.out);
        }
        Command::Verify(v) => {
            texts.extend(v.api_url.as_deref());
            if let Some(t) = &v.token {
                register_secret(t);
            }
        }
        Command::Export(x) => texts.push(&x.out),
        _ => {}
    }
    for t in texts {
        register_secrets_in(t);
    }
    if let Ok(p) = std::env::var("PGPASSWORD") {
        register_secret(&p);
    }
}

/// `--help` and `--version` as clap prints them; a usage error as one line on stderr (clap's
/// message, its possible values and suggestion joined), exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Written, or a closed pipe (`occlens --help | head`); a full disk is an error.
        match e.print() {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("occlens: stdout: {err}");
                return ExitCode::from(1);
            }
            _ => return ExitCode::from(if e.use_stderr() { 2 } else { 0 }),
        }
    }
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    // "…were not provided:" then the arguments: a colon is followed by a space, not "; ".
    let line = parts.iter().fold(String::new(), |mut line, part| {
        if !line.is_empty() {
            line += if line.ends_with(':') { " " } else { "; " };
        }
        line + part
    });
    eprintln!("occlens: {}", occlens::redact::redact(&line));
    ExitCode::from(2)
}

/// The first panic of a worker thread (DataFusion turns it into an error, which main reports
/// as one line naming the panic instead of the error that wraps it).
static PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// One line on stderr for a panic on the main thread; a worker's panic is kept for main.
fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let message = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into());
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    let line = message.lines().map(str::trim).collect::<Vec<_>>().join(" ") + &at;
    if std::thread::current().name() == Some("main") {
        occlens::staging::remove_live();
        eprintln!("occlens: {}", panic_message(&line));
    } else if let Ok(mut p) = PANIC.lock() {
        p.get_or_insert(line);
    }
}

/// The one line printed for a panic: what it means where it has a known cause (a limit of
/// Arrow's a query ran into), else an internal error to report.
fn panic_message(line: &str) -> String {
    let line = occlens::redact::redact(line);
    if line.contains("offset overflow") {
        // A known limit, not a bug: the panic's source location (a path in a dependency's
        // source) says nothing to the user.
        let what = line.rsplit_once(" at ").map_or(line.as_str(), |(m, _)| m);
        return format!(
            "a text or list column of the result holds more than 2 GiB in one batch (Arrow's 32-bit offsets): select fewer or shorter values ({what})"
        );
    }
    format!("internal error: {line}; please report it")
}

/// The hyperlinks' scheme and host when --api-base is not given (Antenna's development server).
pub(crate) const LOCAL_BASE: &str = "http://localhost:8000";

/// Open the snapshot for a command that reads the cache of derived tables when present.
async fn open(cli: &Cli) -> occlens::Result<Engine> {
    open_with_base(cli, LOCAL_BASE, &[]).await
}

/// Open the snapshot for a command that answers requests: the parts of the cache they read
/// (`build`) are built when missing.
async fn open_answering(cli: &Cli, build: &[Part]) -> occlens::Result<Engine> {
    let engine = open_with_mode(cli, LOCAL_BASE, build, None, None).await?;
    answering(engine, &cli.who, build).await
}

/// An opened engine that answers as `who`: its keys checked, and `who` a requester the
/// snapshot holds (`open_with_mode` checked it already, before any cache was built, when
/// `build` is not empty).
async fn answering(engine: Engine, who: &Requester, build: &[Part]) -> occlens::Result<Engine> {
    engine.check_keys().await?;
    if build.is_empty() {
        ensure_known(&engine, who, "--as").await?;
    }
    Ok(engine)
}

/// [`open_answering`] for the one request `url`: an occurrence list of a project, or an
/// occurrence's detail, reads that project's entry of the lists part when the whole part is
/// not built (`cache::PROJECT_SCOPED`).
/// Hyperlinks use --api-base, else `default_base`.
async fn open_answering_one(cli: &Cli, url: &str, default_base: &str) -> occlens::Result<Engine> {
    let build = occlens::api::route::cache_parts(url);
    let engine = open_with_mode(cli, default_base, build, None, Some(url)).await?;
    answering(engine, &cli.who, build).await
}

/// Open the snapshot; hyperlinks use --api-base, else `default_base`; `build`: compute and
/// store these parts of the cache of derived tables when missing (and --cache allows).
async fn open_with_base(cli: &Cli, default_base: &str, build: &[Part]) -> occlens::Result<Engine> {
    open_with_mode(cli, default_base, build, None, None).await
}

/// `--api-base`, checked: an http(s) URL with a host and at most a path (its query or
/// fragment would sit in the middle of every hyperlink written), without its userinfo
/// (hyperlinks never carry credentials: they are written into bodies and exports).
pub(crate) fn api_base(cli: &Cli) -> occlens::Result<Option<String>> {
    let Some(base) = cli.api_base.as_deref() else {
        return Ok(None);
    };
    // Empty: links relative to the host (`/api/v2/…`), as before.
    if base.is_empty() {
        return Ok(Some(String::new()));
    }
    // Shown without its query or fragment (a secret may sit there), redacted.
    let shown = occlens::redact::redact(base.split(['?', '#']).next().unwrap_or_default());
    let bad = |why: &str| {
        occlens::Error::Usage(format!(
            "--api-base {shown}: {why}; expected http(s)://HOST[:PORT][/PATH]"
        ))
    };
    let url = url::Url::parse(base).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("not an http(s) URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            "a query or fragment would end up inside every hyperlink",
        ));
    }
    Ok(Some(occlens::redact::strip_userinfo(base)))
}

/// `--media-url`, checked as Django checks MEDIA_URL (empty, or ending with `/`): a path
/// (`/media/`) or an http(s) URL with a host, without a query or fragment (every media URL is
/// the base followed by a file's path, so a query would sit in the middle of each one and be
/// copied into every body and export), without its userinfo.
pub(crate) fn media_url(cli: &Cli) -> occlens::Result<String> {
    let base = cli.media_url.as_str();
    if base.is_empty() {
        return Ok(String::new());
    }
    // Shown without its userinfo, query or fragment (a secret may sit there), one line.
    let shown = occlens::redact::strip_userinfo(base);
    let shown: String = occlens::redact::redact(shown.split(['?', '#']).next().unwrap_or_default())
        .chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    let bad = |why: &str| {
        occlens::Error::Usage(format!(
            "--media-url {shown}: {why}; expected /PATH/ or http(s)://HOST[:PORT]/PATH/"
        ))
    };
    if base.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("holds a space or a control character"));
    }
    if base.contains(['?', '#']) {
        return Err(bad(
            "a query or fragment would end up inside every media URL",
        ));
    }
    if !base.starts_with('/') {
        let url = url::Url::parse(base).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("neither a path nor an http(s) URL with a host"));
        }
    }
    if !base.ends_with('/') {
        return Err(bad("must end with / (as Django's MEDIA_URL)"));
    }
    Ok(occlens::redact::strip_userinfo(base))
}

/// `open_with_base` with the cache mode `mode` instead of --cache's; `one`: the one request
/// the engine answers, whose project's entry of the lists part it may read instead of the
/// whole part (a list of a project, an occurrence's detail).
async fn open_with_mode(
    cli: &Cli,
    default_base: &str,
    build: &[Part],
    mode: Option<occlens::engine::cache::Mode>,
    one: Option<&str>,
) -> occlens::Result<Engine> {
    let config = Config {
        api_base: api_base(cli)?.unwrap_or_else(|| default_base.to_string()),
        media_url: media_url(cli)?,
        time_zone: cli.time_zone,
        semantics: cli.semantics,
    };
    // A requester the snapshot does not hold is refused before any part of the cache is
    // built for it (a plain open: the snapshot's tables, no cache).
    if !build.is_empty() && cli.who.user_id().is_some() {
        let plain = Engine::open(cli.snapshot.as_deref(), config.clone()).await?;
        ensure_known(&plain, &cli.who, "--as").await?;
    }
    // On a cluster, executors read the snapshot, not this machine's cache (they may not see it).
    let mode = match mode {
        None if occlens::engine::catalog::is_remote() => Some(occlens::engine::cache::Mode::Off),
        m => m,
    };
    let settings = occlens::engine::cache::Settings {
        mode: mode.unwrap_or(cli.cache.into()),
        dir: cli.cache_dir.clone(),
        range_rows: None,
        project: one.and_then(occlens::api::request::list_project),
        detail: one.and_then(occlens::api::request::detail_id),
        ..Default::default()
    };
    // A spinner while the cache is built (the rows arrive at the end: the file is sorted).
    let spinner = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} caching the derived tables of this snapshot (once per snapshot version): {pos} rows",
        )
        .expect("valid template"),
    );
    // Only a command that may build the cache shows it (a shell or a query that only reads
    // the cache would flash it for nothing).
    let may_build = !build.is_empty()
        || matches!(
            settings.mode,
            occlens::engine::cache::Mode::Refresh | occlens::engine::cache::Mode::Build
        );
    if may_build {
        spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    } else {
        spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let engine = Engine::open_cached(cli.snapshot.as_deref(), config, &settings, build, &|n| {
        spinner.set_position(n)
    })
    .await;
    spinner.finish_and_clear();
    if let Ok(Engine {
        cache_warning: Some(w),
        ..
    }) = &engine
    {
        eprintln!("occlens: warning: {}", occlens::redact::redact(w));
    }
    engine
}

async fn run(cli: Cli) -> occlens::Result<ExitCode> {
    if let Some(spec) = &cli.cluster {
        cluster::connect(&cli, spec).await?;
    }
    match &cli.command {
        Command::Generate(g) => {
            let started = std::time::Instant::now();
            let s = match g.shape {
                GenerateShape::Realistic => {
                    let bar = indicatif::ProgressBar::new(g.occurrences).with_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:30} {pos}/{len} occurrences ({per_sec}, {eta})",
                        )
                        .expect("valid template"),
                    );
                    let s = occlens::generate::publish(&g.out, &g.source(), |dir| {
                        occlens::generate::realistic(dir, g.occurrences as usize, g.seed, &|n| {
                            bar.set_position(n)
                        })
                    });
                    bar.finish_and_clear();
                    let s = s?;
                    (s.occurrences, s.detections, s.classifications)
                }
                GenerateShape::EdgeCases => {
                    // Built in memory, about 15 KB per occurrence (80,000: 1.2 GB).
                    if g.occurrences > 200_000 {
                        return Err(occlens::Error::Usage(format!(
                            "--occurrences {}: the edge-cases shape is built in memory (about 15 KB per occurrence); at most 200000 (--shape realistic streams any number)",
                            g.occurrences
                        )));
                    }
                    let builder = occlens::generate::edge_cases(g.occurrences as usize, g.seed);
                    occlens::generate::publish(&g.out, &g.source(), |dir| builder.write(dir))?;
                    let n = |t| builder.len(t) as u64;
                    (
                        n("main_occurrence"),
                        n("main_detection"),
                        n("main_classification"),
                    )
                }
            };
            eprintln!(
                "occlens: wrote {} occurrences, {} detections, {} classifications to {} in {:.1} s",
                s.0,
                s.1,
                s.2,
                g.out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Api(a) => {
            // One request: the parts its endpoint reads; a batch: taxa, lists and facts.
            if let Some(url) = &a.url {
                // An absolute URL: its path and query, hyperlinks on its origin.
                let (path, origin) = api::path_and_origin(url);
                let base = origin.as_deref().unwrap_or(LOCAL_BASE);
                let engine = open_answering_one(&cli, &path, base).await?;
                return api::single(&engine, &cli, &path, a.pretty).await;
            }
            let engine = open_answering(&cli, &[Part::Taxa, Part::Lists, Part::Facts]).await?;
            api::api(&engine, &cli, a).await
        }
        Command::List(l) => {
            let url = l.url();
            let engine = open_answering_one(&cli, &url, LOCAL_BASE).await?;
            api::single(&engine, &cli, &url, l.pretty).await
        }
        Command::Detail(d) => {
            let url = d.url();
            let engine = open_answering_one(&cli, &url, LOCAL_BASE).await?;
            api::single(&engine, &cli, &url, d.pretty).await
        }
        Command::Sql(s) => {
            let engine = open(&cli).await?;
            sql::sql(&engine, s, cli.time_limit).await
        }
        Command::Completions(c) => {
            use clap::CommandFactory as _;
            use std::io::Write as _;
            let mut script = Vec::new();
            clap_complete::generate(c.shell, &mut Cli::command(), "occlens", &mut script);
            std::io::stdout()
                .lock()
                .write_all(&script)
                .map_err(|e| occlens::Error::io("stdout", e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(x) => {
            // --out is checked before the snapshot is opened: an existing file fails at once.
            let target = occlens::exports::target::Target::parse(&x.out, x.overwrite)?;
            occlens::exports::check_columns(x.format, x.columns.as_deref())?;
            // Options another format takes: refused, never ignored.
            let format = clap::ValueEnum::to_possible_value(&x.format)
                .map_or_else(String::new, |v| v.get_name().to_string());
            for (given, option, takes) in [
                (
                    x.shape.is_some(),
                    "--shape",
                    occlens::exports::Format::Ndjson,
                ),
                (
                    x.packaged_at.is_some(),
                    "--packaged-at",
                    occlens::exports::Format::Dwca,
                ),
            ] {
                if given && x.format != takes {
                    let takes = clap::ValueEnum::to_possible_value(&takes)
                        .map_or_else(String::new, |v| v.get_name().to_string());
                    return Err(occlens::Error::Usage(format!(
                        "{option}: only --format {takes} takes it (not {format})"
                    )));
                }
            }
            if matches!(target, occlens::exports::target::Target::Stdout)
                && x.format.is_binary()
                && std::io::IsTerminal::is_terminal(&std::io::stdout())
            {
                return Err(occlens::Error::Usage(format!(
                    "--out -: standard output is a terminal and {} is a binary format (redirect it, or give a file name)",
                    clap::ValueEnum::to_possible_value(&x.format)
                        .map_or_else(String::new, |v| v.get_name().to_string())
                )));
            }
            let engine = open(&cli).await?;
            // Now that the snapshot is known: an object inside it is refused before any work.
            target.unprotected()?;
            let checks = || async {
                engine.check_keys().await?;
                ensure_known(&engine, &cli.who, "--as").await
            };
            if cli.cluster.is_some() {
                // Ballista does not cancel a job whose client stops reading: on a cluster no
                // job is submitted before the checks pass.
                checks().await?;
                return export::export(&engine, x, &cli.who, target, || async { Ok(()) }).await;
            }
            // Locally the snapshot's keys and the requester are checked while the export is
            // computed: its file is moved into place only when both checks pass.
            export::export(&engine, x, &cli.who, target, checks).await
        }
        Command::ValidateDwca(v) => export::validate_dwca(v),
        Command::Snapshot(s) => snapshot::snapshot(s).await,
        Command::Audit(a) => {
            let engine = open(&cli).await?;
            audit::audit(&engine, a).await
        }
        Command::Verify(v) => Ok(verify::verify(&cli, v).await),
        Command::Serve(s) => serve::serve(&cli, s).await,
        Command::Cluster(c) => cluster::cluster(&cli, c).await,
        Command::Cache(c) => cache::cache(&cli, c).await,
        Command::Tables(t) => {
            let engine = open(&cli).await?;
            sql::tables(&engine, t).await
        }
        Command::Check(c) => {
            let engine = open(&cli).await?;
            sql::check(&engine, c).await
        }
    }
}
