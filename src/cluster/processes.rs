//! The processes of a cluster: Ballista's scheduler and executor with occlens's functions,
//! codecs and object stores (`occlens cluster scheduler|executor`), and both in this process
//! (`--cluster standalone`).

use super::codec::{LogicalCodec, PhysicalCodec};
use super::local_files::ExecutorFiles;
use super::{session_state, with_codecs, Scheduler};
use crate::error::{Error, Result};
use crate::staging::Temp;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaCodec;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::object_store::ObjectStoreRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use std::path::PathBuf;
use std::sync::Arc;

fn config_producer() -> ConfigProducer {
    Arc::new(|| with_codecs(SessionConfig::new_with_ballista()))
}

fn codec() -> BallistaCodec {
    BallistaCodec::new(
        Arc::new(LogicalCodec::default()),
        Arc::new(PhysicalCodec::default()),
    )
}

/// Executors' sessions: object stores from the environment, spill files under `work_dir`;
/// local files read through `ExecutorFiles`, whose errors name the executor (`HOST:PORT`).
fn runtime_producer(work_dir: String, executor: String) -> RuntimeProducer {
    Arc::new(move |_| {
        let stores = crate::snapshot::location::Stores::default();
        let files = url::Url::parse("file://").expect("a URL");
        stores.register_store(&files, Arc::new(ExecutorFiles::new(executor.clone())));
        RuntimeEnvBuilder::new()
            .with_temp_file_path(work_dir.clone())
            .with_object_store_registry(Arc::new(stores))
            .build_arc()
    })
}

fn functions() -> Result<BallistaFunctionRegistry> {
    let state = session_state(config_producer()())?;
    Ok(BallistaFunctionRegistry::from(&state))
}

fn ballista(what: &str) -> impl Fn(ballista_core::error::BallistaError) -> Error + '_ {
    move |e| Error::Query(format!("{what}: {e}"))
}

/// Run a scheduler on `host:port` until the process is stopped.
pub async fn scheduler(host: &str, port: u16) -> Result<()> {
    let address = tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::Usage(format!("--bind {host}: not an address of this machine")))?;
    let config = SchedulerConfig {
        bind_host: host.to_string(),
        bind_port: port,
        external_host: host.to_string(),
        // An executor that stops heartbeating (every 5 s) is dropped after 20 s (Ballista's
        // default waits 180 s).
        executor_timeout_seconds: 20,
        expire_dead_executor_interval_seconds: 5,
        no_executors_grace_period_seconds: 20,
        override_session_builder: Some(Arc::new(session_state)),
        override_config_producer: Some(config_producer()),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ballista("starting the scheduler"))?;
    eprintln!("occlens: Ballista scheduler listening on {address}");
    ballista_scheduler::scheduler_process::start_server(cluster, address, Arc::new(config))
        .await
        .map_err(ballista("the scheduler"))
}

/// `scheduler` for a task of its own.
pub async fn scheduler_owned(host: String, port: u16) -> Result<()> {
    scheduler(&host, port).await
}

/// An executor's settings (`occlens cluster executor`).
pub struct Executor {
    pub scheduler: Scheduler,
    /// Address it listens on and advertises (other executors fetch shuffle data from it).
    pub host: String,
    /// Arrow Flight port (shuffle data and results).
    pub port: u16,
    /// gRPC port (tasks pushed by the scheduler).
    pub grpc_port: u16,
    /// Concurrent tasks (0: one per core).
    pub vcores: usize,
    /// Memory of all its tasks together; None: Ballista's default share of the machine.
    pub memory: Option<u64>,
    /// Shuffle and spill files [default: a directory under the system's temporary directory].
    pub work_dir: Option<PathBuf>,
}

/// Run an executor registered with `executor.scheduler` until the process is stopped.
pub async fn executor(executor: Executor) -> Result<()> {
    // The default work directory is this process's own temporary: removed when the executor
    // stops (or on SIGINT/SIGTERM), and by the next occlens run's sweep if it was killed.
    // A `--work-dir` of the user's is used as it is and nothing in it is ever removed
    // (Ballista's shuffle cleaner, which deletes every subdirectory of its work directory on
    // shutdown and old ones on a timer, runs only in a directory of occlens's own).
    let (work_dir, owned) = match executor.work_dir {
        Some(d) => {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
            (d, None)
        }
        None => {
            let temp = Temp::in_temp_dir("executor");
            std::fs::create_dir(temp.path()).map_err(|e| Error::io(temp.path(), e))?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let work_dir = work_dir.to_string_lossy().into_owned();
    // In its own directory, a long-running executor removes finished jobs' shuffle files after
    // an hour (checked every 5 minutes), and all of them when it stops.
    let clean_every = if owned.is_some() { 300 } else { 0 };
    let config = ExecutorProcessConfig {
        bind_host: executor.host.clone(),
        external_host: Some(executor.host.clone()),
        port: executor.port,
        grpc_port: executor.grpc_port,
        scheduler_host: executor.scheduler.host.clone(),
        scheduler_port: executor.scheduler.port,
        scheduler_connect_timeout_seconds: 10,
        vcores: executor.vcores,
        work_dir: Some(work_dir.clone()),
        memory_pool_size: executor.memory,
        executor_heartbeat_interval_seconds: 5,
        job_data_clean_up_interval_seconds: clean_every,
        job_data_ttl_seconds: 3600,
        override_function_registry: Some(Arc::new(functions()?)),
        override_runtime_producer: Some(runtime_producer(
            work_dir,
            format!("{}:{}", executor.host, executor.port),
        )),
        override_config_producer: Some(config_producer()),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..Default::default()
    };
    eprintln!(
        "occlens: Ballista executor on {}:{} for the scheduler {}",
        executor.host,
        executor.port,
        executor.scheduler.url()
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(ballista("the executor"))
}

/// A scheduler and one executor in this process; the scheduler's gRPC URL.
pub async fn standalone() -> Result<String> {
    let builder: ballista_scheduler::scheduler_server::SessionBuilder = Arc::new(session_state);
    let address = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        builder,
        config_producer(),
        codec(),
    )
    .await
    .map_err(ballista("starting the in-process scheduler"))?;
    let url = format!("http://localhost:{}", address.port());
    // Ballista's jobs write their results and spill files here: removed when this process's
    // temporaries are (at exit, on SIGINT/SIGTERM, or by a later run's sweep).
    let temp = Temp::in_temp_dir("standalone");
    std::fs::create_dir(temp.path()).map_err(|e| Error::io(temp.path(), e))?;
    let work_dir = temp.path().to_path_buf();
    temp.until_exit();
    let vcores = std::thread::available_parallelism().map_or(2, |n| n.get());
    super::standalone::executor(
        &url,
        vcores,
        &work_dir,
        config_producer(),
        runtime_producer(
            work_dir.to_string_lossy().into_owned(),
            "in this process".into(),
        ),
        codec(),
        functions()?,
    )
    .await?;
    Ok(url)
}
