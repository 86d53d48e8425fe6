//! The executor of `--cluster standalone`, in this process, working in a directory of this
//! process's temporaries.
//!
//! Ballista's `new_standalone_executor_from_builder` names a work directory with
//! `TempDir::new()` and drops the `TempDir` at once: the directory is re-created by the first
//! job and never removed. Every job's results stay there (3.2 GB for one
//! `occurrences_api_json` export of SF1's project 1, session 67), one `$TMPDIR/.tmpXXXXXX` per
//! command. This is the same executor (its registration, Flight service and poll loop, as
//! Ballista 55 builds them) with occlens's directory, removed at exit like every temporary.

use crate::error::{Error, Result};
use arrow_flight::flight_service_server::FlightServiceServer;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::ExecutorRegistration;
use ballista_core::serde::scheduler::{
    ExecutorOperatingSystemSpecification, ExecutorSpecification,
};
use ballista_core::serde::BallistaCodec;
use ballista_core::utils::{create_grpc_server, GrpcServerConfig};
use ballista_core::{ConfigProducer, RuntimeProducer, BALLISTA_PROTOCOL_VERSION};
use ballista_executor::execution_loop;
use ballista_executor::executor::Executor;
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::health::ExecutorHealth;
use ballista_executor::metrics::LoggingMetricsCollector;
use std::path::Path;
use std::sync::Arc;

/// Start an executor of `vcores` task slots for the scheduler at `scheduler_url`, serving its
/// results on a free port of localhost and writing them under `work_dir`.
pub async fn executor(
    scheduler_url: &str,
    vcores: usize,
    work_dir: &Path,
    config_producer: ConfigProducer,
    runtime_producer: RuntimeProducer,
    codec: BallistaCodec,
    functions: BallistaFunctionRegistry,
) -> Result<()> {
    let scheduler = SchedulerGrpcClient::connect(scheduler_url.to_string())
        .await
        .map_err(|e| Error::Query(format!("connecting to the in-process scheduler: {e}")))?;
    let bound = |e| Error::io("the in-process executor's port on localhost", e);
    let listener = tokio::net::TcpListener::bind("localhost:0")
        .await
        .map_err(bound)?;
    let address = listener.local_addr().map_err(bound)?;
    let registration = ExecutorRegistration {
        id: ballista_core::ids::new_instance_id(),
        host: Some("localhost".to_string()),
        port: address.port() as u32,
        // Unused by an executor that polls its scheduler (Ballista's standalone value).
        grpc_port: 50020,
        specification: Some(
            ExecutorSpecification::default()
                .with_vcores(vcores as u32)
                .into(),
        ),
        os_info: Some(ExecutorOperatingSystemSpecification::default().into()),
        ballista_protocol_version: BALLISTA_PROTOCOL_VERSION,
    };
    let max_message_size = config_producer().ballista_grpc_client_max_message_size();
    let work_dir = work_dir.to_string_lossy().into_owned();
    let executor = Arc::new(Executor::with_default_execution_engine(
        registration,
        &work_dir,
        runtime_producer,
        config_producer,
        Arc::new(functions),
        Arc::new(LoggingMetricsCollector::default()),
        vcores,
    ));
    let flight = FlightServiceServer::new(BallistaFlightService::new(work_dir))
        .max_decoding_message_size(max_message_size)
        .max_encoding_message_size(max_message_size);
    tokio::spawn(
        create_grpc_server(&GrpcServerConfig::default())
            .add_service(flight)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    tokio::spawn(execution_loop::poll_loop(
        scheduler,
        executor,
        codec,
        None,
        None,
        ExecutorHealth::new(),
    ));
    Ok(())
}
