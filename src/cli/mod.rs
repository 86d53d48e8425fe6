//! `occlens`: a thin command line over the library (clap).

mod api;
mod args;
mod audit;
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
        Err(e) => {
            eprintln!("occlens: {e}");
            ExitCode::from(1)
        }
    }
}

async fn open(cli: &Cli) -> occlens::Result<Engine> {
    open_with_base(cli, "http://localhost:8000").await
}

/// Open the snapshot; hyperlinks use --api-base, else `default_base`.
async fn open_with_base(cli: &Cli, default_base: &str) -> occlens::Result<Engine> {
    let config = Config {
        api_base: cli
            .api_base
            .clone()
            .unwrap_or_else(|| default_base.to_string()),
        media_url: cli.media_url.clone(),
        time_zone: cli.time_zone,
    };
    Engine::open(cli.snapshot.as_deref(), config).await
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
            let engine = open(&cli).await?;
            api::api(&engine, &cli, a).await
        }
        Command::List(l) => {
            let engine = open(&cli).await?;
            api::single(&engine, &cli, &l.url(), l.pretty).await
        }
        Command::Detail(d) => {
            let engine = open(&cli).await?;
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
        Command::Tables(t) => {
            let engine = open(&cli).await?;
            sql::tables(&engine, t).await
        }
    }
}
