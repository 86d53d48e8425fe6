//! `occlens`: a thin command line over the library (clap).

/// `println!` that returns an error instead of panicking when stdout is closed.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(|e| occlens::Error::Io {
            path: "stdout".into(),
            source: e,
        })
    }};
}
pub(crate) use outln;

mod api;
mod args;
mod audit;
mod cache;
mod export;
mod snapshot;
mod sql;
mod verify;

use args::{Cli, Command, Shape};
use clap::Parser;
use occlens::{Config, Engine};
use std::process::ExitCode;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("occlens: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // Like ripgrep and coreutils under `| head`: stop quietly when stdout is closed.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("occlens: {e}");
            ExitCode::from(1)
        }
    }
}

/// Open the snapshot for a command that reads the cache of derived tables when present.
async fn open(cli: &Cli) -> occlens::Result<Engine> {
    open_with_base(cli, "http://localhost:8000", false).await
}

/// Open the snapshot for a command that answers requests: the cache is built when missing.
async fn open_answering(cli: &Cli) -> occlens::Result<Engine> {
    open_with_base(cli, "http://localhost:8000", true).await
}

/// Open the snapshot; hyperlinks use --api-base, else `default_base`; `build`: compute and
/// store the cache of derived tables when it is missing (and --cache allows).
async fn open_with_base(cli: &Cli, default_base: &str, build: bool) -> occlens::Result<Engine> {
    open_with_mode(cli, default_base, build, None).await
}

/// `open_with_base` with the cache mode `mode` instead of --cache's.
async fn open_with_mode(
    cli: &Cli,
    default_base: &str,
    build: bool,
    mode: Option<occlens::views::cache::Mode>,
) -> occlens::Result<Engine> {
    let config = Config {
        api_base: cli
            .api_base
            .clone()
            .unwrap_or_else(|| default_base.to_string()),
        media_url: cli.media_url.clone(),
        time_zone: cli.time_zone,
    };
    let settings = occlens::views::cache::Settings {
        mode: mode.unwrap_or(cli.cache.into()),
        dir: cli.cache_dir.clone(),
        range_rows: None,
    };
    // A spinner while the cache is built (the rows arrive at the end: the file is sorted).
    let spinner = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} caching occurrence_list of this snapshot (once per snapshot version): {pos} rows",
        )
        .expect("valid template"),
    );
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
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
        eprintln!("occlens: warning: {w}");
    }
    engine
}

async fn run(cli: Cli) -> occlens::Result<ExitCode> {
    match &cli.command {
        Command::Generate(g) => {
            let started = std::time::Instant::now();
            let s = match g.shape {
                Shape::Realistic => {
                    let bar = indicatif::ProgressBar::new(g.occurrences as u64).with_style(
                        indicatif::ProgressStyle::with_template(
                            "{bar:30} {pos}/{len} occurrences ({per_sec}, {eta})",
                        )
                        .expect("valid template"),
                    );
                    let s = occlens::generate::scale(&g.out, g.occurrences, g.seed, &|n| {
                        bar.set_position(n)
                    });
                    bar.finish_and_clear();
                    let s = s?;
                    (s.occurrences, s.detections, s.classifications)
                }
                Shape::EdgeCases => {
                    let builder = occlens::generate::synthetic(g.occurrences, g.seed);
                    builder.write(&g.out)?;
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
            let engine = open_answering(&cli).await?;
            api::api(&engine, &cli, a).await
        }
        Command::List(l) => {
            let engine = open_answering(&cli).await?;
            api::single(&engine, &cli, &l.url(), l.pretty).await
        }
        Command::Detail(d) => {
            let engine = open_answering(&cli).await?;
            api::single(&engine, &cli, &d.url(), d.pretty).await
        }
        Command::Sql(s) => {
            let engine = open(&cli).await?;
            sql::sql(&engine, s).await
        }
        Command::Export(x) => {
            let engine = open(&cli).await?;
            export::export(&engine, x, &cli.who).await
        }
        Command::ValidateDwca(v) => export::validate_dwca(v),
        Command::Snapshot(s) => snapshot::snapshot(s).await,
        Command::Audit(a) => {
            let engine = open(&cli).await?;
            audit::audit(&engine, a).await
        }
        Command::Verify(v) => Ok(verify::verify(&cli, v).await),
        Command::Cache(c) => cache::cache(&cli, c).await,
        Command::Tables(t) => {
            let engine = open(&cli).await?;
            sql::tables(&engine, t).await
        }
    }
}
