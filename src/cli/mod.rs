//! `occlens`: a thin command line over the library (clap).

mod api;
mod args;
mod export;
mod sql;

use args::{Cli, Command};
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
    let config = Config {
        api_base: cli.api_base.clone(),
        media_url: cli.media_url.clone(),
        time_zone: cli.time_zone,
    };
    Engine::open(cli.snapshot.as_deref(), config).await
}

async fn run(cli: Cli) -> occlens::Result<ExitCode> {
    match &cli.command {
        Command::Generate(g) => {
            let builder = occlens::generate::synthetic(g.occurrences, g.seed);
            builder.write(&g.out)?;
            eprintln!(
                "occlens: wrote {} occurrences, {} detections, {} classifications to {}",
                builder.len("main_occurrence"),
                builder.len("main_detection"),
                builder.len("main_classification"),
                g.out.display()
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
        Command::Tables(t) => {
            let engine = open(&cli).await?;
            sql::tables(&engine, t).await
        }
    }
}
