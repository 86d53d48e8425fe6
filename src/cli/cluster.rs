//! `occlens cluster scheduler|executor|standalone` and the global `--cluster`: the heavy
//! commands on an Apache DataFusion Ballista cluster (`occlens::cluster`).

use super::args::Cli;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "A cluster is one scheduler and any number of executors, each an occlens process (they all\nregister occlens's SQL functions). Then `occlens --cluster df://HOST:PORT` runs export (every\nformat), audit, sql and cache build there; api, list, detail, verify and serve stay local.\n\nExecutors read the snapshot themselves: give an object-store URL (s3://..., with the usual\nAWS_* variables on every process) or a path every machine sees. OCCLENS_LOG=debug (or\ninfo, warn, ...) on any of these processes prints Ballista's log records on stderr.\n\nExamples:\n  occlens cluster scheduler --bind 0.0.0.0 --port 50050\n  occlens --memory-limit 8G cluster executor --scheduler sched.example:50050 --bind 10.0.0.5\n  occlens --snapshot s3://bucket/antenna --cluster df://sched.example:50050 export --format parquet --project 1 --out p1.parquet\n  occlens --cluster standalone --snapshot snap audit"
)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub role: Role,
}

#[derive(Debug, clap::Subcommand)]
pub enum Role {
    /// Run a Ballista scheduler (until stopped)
    Scheduler {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// gRPC port clients and executors connect to
        #[arg(long, default_value_t = 50050)]
        port: u16,
    },
    /// Run a Ballista executor registered with a scheduler (until stopped); its memory for all
    /// tasks together is --memory-limit (spilling beyond it)
    Executor {
        /// The scheduler: HOST:PORT or df://HOST:PORT
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address to listen on and advertise to the scheduler and other executors
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Arrow Flight port (shuffle data and results)
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port (tasks)
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks at once [default: one per core]
        #[arg(long, default_value_t = 0)]
        vcores: usize,
        /// Shuffle and spill files [default: a new directory under the temporary directory]
        #[arg(long)]
        work_dir: Option<std::path::PathBuf>,
    },
    /// A scheduler and one executor in one process (for trying a cluster on one machine)
    Standalone {
        /// Address to listen on
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// The scheduler's gRPC port (the executor takes the next two)
        #[arg(long, default_value_t = 50050)]
        port: u16,
    },
}

/// Connect this process's sessions to `--cluster` (before any is made); refuse commands
/// that stay local.
#[cfg(not(feature = "cluster"))]
pub async fn connect(_: &Cli, _: &str) -> occlens::Result<()> {
    Err(without_feature())
}

#[cfg(not(feature = "cluster"))]
pub async fn cluster(_: &Cli, _: &ClusterArgs) -> occlens::Result<ExitCode> {
    Err(without_feature())
}

#[cfg(not(feature = "cluster"))]
fn without_feature() -> occlens::Error {
    occlens::Error::Usage(
        "this occlens was built without the `cluster` feature (cargo build --features cluster)"
            .into(),
    )
}

#[cfg(feature = "cluster")]
pub async fn connect(cli: &Cli, spec: &str) -> occlens::Result<()> {
    use super::args::Command;
    let allowed = match &cli.command {
        Command::Export(_) | Command::Audit(_) | Command::Sql(_) => true,
        Command::Cache(c) if c.action == super::args::CacheAction::Build => true,
        _ => false,
    };
    if !allowed {
        return Err(occlens::Error::Usage(
            "--cluster applies to export, audit, sql and cache build; requests (api, list, detail, verify, serve) and the other commands run locally".into(),
        ));
    }
    // Ballista's settings come from BALLISTA_* variables (src/cluster), but not this one.
    if std::env::var("BALLISTA_PLANNER_ADAPTIVE_ENABLED")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("false"))
    {
        return Err(occlens::Error::Usage(
            "--cluster: BALLISTA_PLANNER_ADAPTIVE_ENABLED=false is refused: Ballista 55's static planner returned 256 of a generated snapshot's 497 rows of `SELECT id FROM occurrence_list ORDER BY id`; unset it".into(),
        ));
    }
    if cli.snapshot.is_none() {
        return Err(occlens::Error::Usage(
            "--cluster needs --snapshot: an s3://, gs://, az:// or http(s):// URL, or a path every executor sees (the built-in demo lives in this process only)".into(),
        ));
    }
    occlens::cluster::log::install()?;
    if spec == "standalone" {
        occlens::cluster::standalone().await
    } else {
        occlens::cluster::connect(&occlens::cluster::Scheduler::parse(spec)?).await
    }
}

#[cfg(feature = "cluster")]
pub async fn cluster(cli: &Cli, args: &ClusterArgs) -> occlens::Result<ExitCode> {
    use occlens::cluster::processes;
    occlens::cluster::log::install()?;
    match &args.role {
        Role::Scheduler { bind, port } => processes::scheduler(bind, *port).await?,
        Role::Executor {
            scheduler,
            bind,
            port,
            grpc_port,
            vcores,
            work_dir,
        } => {
            let spec = if scheduler.contains("://") {
                scheduler.clone()
            } else {
                format!("df://{scheduler}")
            };
            processes::executor(processes::Executor {
                scheduler: occlens::cluster::Scheduler::parse(&spec)?,
                host: bind.clone(),
                port: *port,
                grpc_port: *grpc_port,
                vcores: *vcores,
                memory: cli.memory_limit.map(|m| m as u64),
                work_dir: work_dir.clone(),
            })
            .await?
        }
        Role::Standalone { bind, port } => {
            let scheduler = tokio::spawn(processes::scheduler_owned(bind.clone(), *port));
            let target = occlens::cluster::Scheduler {
                host: bind.clone(),
                port: *port,
            };
            occlens::cluster::wait_until_reachable(&target).await?;
            let executor = processes::executor(processes::Executor {
                scheduler: target,
                host: bind.clone(),
                port: port.saturating_add(1),
                grpc_port: port.saturating_add(2),
                vcores: 0,
                memory: cli.memory_limit.map(|m| m as u64),
                work_dir: None,
            });
            tokio::select! {
                r = executor => r?,
                r = scheduler => r.map_err(|e| occlens::Error::Query(format!("the scheduler: {e}")))??,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
