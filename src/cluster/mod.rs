//! Running the heavy statements (exports, audits, `sql`) on an Apache
//! DataFusion Ballista cluster: the same `queries/`, planned by this process and executed by a
//! scheduler and its executors, whose results stream back here to the same writers.
//!
//! Every process of a cluster registers occlens's functions (Ballista resolves them by name)
//! and reads snapshots through `snapshot::location::Stores` (object stores from each process's
//! environment); `codec` carries the one function state, `wall_clock`'s time zone.

pub mod codec;
pub mod local_files;
pub mod log;
pub mod one_stage;
pub mod processes;
pub mod standalone;

use crate::engine::catalog;
use crate::error::{Error, Result};
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::planner::BallistaQueryPlanner;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::LogicalPlanNode;
use std::sync::Arc;
use std::time::Duration;

/// Ballista's default scheduler port.
pub const DEFAULT_PORT: u16 = 50050;

/// A scheduler address from `--cluster df://HOST[:PORT]` (Ballista's URL form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduler {
    pub host: String,
    pub port: u16,
}

impl Scheduler {
    pub fn parse(spec: &str) -> Result<Scheduler> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "--cluster {spec}: {why} (expected df://HOST:PORT, e.g. df://localhost:{DEFAULT_PORT}, or standalone)"
            ))
        };
        let url = url::Url::parse(spec).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "df" {
            return Err(bad(&format!("unknown scheme {}://", url.scheme())));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        if !url.path().trim_matches('/').is_empty() || url.query().is_some() {
            return Err(bad("a scheduler URL has no path or query"));
        }
        Ok(Scheduler {
            host: host.trim_matches(|c| c == '[' || c == ']').to_string(),
            port: url.port().unwrap_or(DEFAULT_PORT),
        })
    }

    pub fn url(&self) -> String {
        format!("df://{}:{}", self.host, self.port)
    }
}

/// A session of a cluster's process (scheduler or executor): DataFusion's and Ballista's
/// functions, occlens's functions, and object stores opened from the environment.
pub fn session_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    let runtime = catalog::runtime()
        .map_err(|e| datafusion::error::DataFusionError::Configuration(e.to_string()))?;
    let state = SessionStateBuilder::new_from_existing(state)
        .with_runtime_env(runtime)
        .build();
    let ctx = SessionContext::new_with_state(state);
    catalog::register_functions(&ctx);
    // Replaced, with its zone, by the one in each plan (`codec`).
    crate::functions::render_udf::register_wall_clock(&ctx, chrono_tz::UTC);
    Ok(ctx.state())
}

/// Occlens's codecs in a session's configuration (client, scheduler and executors agree).
pub fn with_codecs(config: SessionConfig) -> SessionConfig {
    config
        .with_ballista_logical_extension_codec(Arc::new(codec::LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()))
}

/// Make every session of this process a client of the scheduler at `scheduler` (checked
/// reachable first: an unreachable scheduler is a one-line error within seconds).
pub async fn connect(scheduler: &Scheduler) -> Result<()> {
    reachable(scheduler).await?;
    remote(format!("http://{}:{}", scheduler.host, scheduler.port));
    Ok(())
}

/// Start a scheduler and an executor in this process and make every session their client.
pub async fn standalone() -> Result<()> {
    let scheduler = processes::standalone().await?;
    remote(scheduler);
    Ok(())
}

fn remote(scheduler_url: String) {
    catalog::set_remote(Box::new(move |state: SessionState| {
        // No broadcast joins: with them, jobs of some views' joins (default_filter_taxa,
        // detection_hours) never finished. No run-time switch of a hash join to a sort-merge
        // join when a build partition passes 64 MiB (Ballista's adaptive planner): at 10M
        // occurrences, with it, the full list view's LEFT JOIN of cover images lost matches
        // in 7 of 10 runs (wrong checksums); without it, 3 of 3 runs were right.
        let mut config = state.config().clone();
        // DataFusion's thresholds for collected join sides, not occlens's local ones.
        crate::engine::tuning::apply(&mut config, crate::engine::tuning::CLUSTER)?;
        let mut config = with_codecs(config)
            .with_ballista_job_name("occlens")
            .with_ballista_broadcast_join_threshold_bytes(0)
            .with_ballista_broadcast_join_threshold_rows(0)
            .with_ballista_hash_join_max_build_partition_bytes(0);
        // Ballista's settings from the environment, as DataFusion's: `ballista.a.b` from
        // BALLISTA_A_B (e.g. BALLISTA_SHUFFLE_COMPRESSION_CODEC=none).
        for (key, entry) in ballista_core::config::BallistaConfig::valid_entries() {
            let var = key.to_uppercase().replace('.', "_");
            if let Ok(value) = std::env::var(&var) {
                check_setting(&var, &value, entry.data_type())?;
                config.options_mut().set(key, &value)?;
            }
        }
        // Ballista's planner, with the statements that join or window as one stage.
        let ballista = BallistaQueryPlanner::<LogicalPlanNode>::with_extension(
            scheduler_url.clone(),
            config.ballista_config(),
            config.ballista_logical_extension_codec(),
        );
        let config = config.with_ballista_query_planner(Arc::new(one_stage::OneStagePlanner::new(
            Arc::new(ballista),
        )));
        let state = SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .build();
        Ok(state.upgrade_for_ballista(scheduler_url.clone())?)
    }));
}

/// `value` of the variable `var` is one Ballista can read as `kind` (its getters unwrap the
/// parse of a setting: `0` for a boolean is a panic waiting for the code that reads it).
fn check_setting(
    var: &str,
    value: &str,
    kind: &datafusion::arrow::datatypes::DataType,
) -> datafusion::error::Result<()> {
    use datafusion::arrow::datatypes::DataType;
    let (ok, expected) = match kind {
        DataType::Boolean => (value == "true" || value == "false", "true or false"),
        DataType::UInt16 => (value.parse::<u16>().is_ok(), "an integer of 0 to 65535"),
        DataType::UInt32 => (value.parse::<u32>().is_ok(), "a non-negative integer"),
        DataType::UInt64 => (value.parse::<u64>().is_ok(), "a non-negative integer"),
        DataType::Float64 => (value.parse::<f64>().is_ok(), "a number"),
        _ => (true, ""),
    };
    if ok {
        Ok(())
    } else {
        Err(datafusion::error::DataFusionError::Configuration(format!(
            "{var}={value}: expected {expected}"
        )))
    }
}

/// Wait (up to 20 s) until the scheduler accepts connections.
pub async fn wait_until_reachable(scheduler: &Scheduler) -> Result<()> {
    let address = format!("{}:{}", scheduler.host, scheduler.port);
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(&address).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reachable(scheduler).await
}

/// Whether a TCP connection to the scheduler opens within a few seconds.
async fn reachable(scheduler: &Scheduler) -> Result<()> {
    let address = format!("{}:{}", scheduler.host, scheduler.port);
    let why = match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 s".to_string(),
    };
    Err(Error::Usage(format!(
        "cannot reach the Ballista scheduler at {}: {why} (start one with `occlens cluster scheduler`)",
        crate::redact::redact(&scheduler.url())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_urls() {
        assert_eq!(
            Scheduler::parse("df://example.org:50051").unwrap(),
            Scheduler {
                host: "example.org".into(),
                port: 50051
            }
        );
        assert_eq!(
            Scheduler::parse("df://localhost").unwrap().port,
            DEFAULT_PORT
        );
        for bad in ["http://h:1", "df://", "df://h:1/x", "localhost:50050"] {
            let e = Scheduler::parse(bad).unwrap_err().to_string();
            assert!(e.contains("expected df://HOST:PORT"), "{bad}: {e}");
        }
    }
}
