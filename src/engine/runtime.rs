//! The DataFusion runtime every session of this process shares: settings from the
//! environment, the memory pool of `--memory-limit`, the object stores, and the directory
//! spill files go to.

use super::memory::memory_limit;
use crate::error::{Error, Result};
use datafusion::execution::config::SessionConfig;
use std::sync::Arc;

/// DataFusion's settings from their DATAFUSION_* environment variables, as in datafusion-cli
/// (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS=4). A value DataFusion refuses is an error
/// naming the variable (DataFusion's own `from_env` drops every setting then).
pub fn config_from_env() -> Result<SessionConfig> {
    let mut options = datafusion::config::ConfigOptions::new();
    let keys: Vec<String> = options.entries().into_iter().map(|e| e.key).collect();
    for key in keys {
        let var = key.to_uppercase().replace('.', "_");
        let Some(value) = std::env::var_os(&var) else {
            continue;
        };
        let value = value
            .into_string()
            .map_err(|_| Error::Usage(format!("{var}: the value is not valid UTF-8")))?;
        options.set(&key, &value).map_err(|e| {
            let why = e
                .to_string()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            Error::Usage(format!(
                "{var}={value:?}: not a valid value for {key} ({why})"
            ))
        })?;
    }
    Ok(SessionConfig::from(options))
}

/// The runtime every session shares the rules of: a memory pool of `memory_limit()` bytes, so
/// that a view too big for it spills (sorts, aggregations) or fails with DataFusion's
/// "Resources exhausted" naming the biggest consumers, instead of the kernel killing occlens.
/// Object stores not registered by the snapshot are built from the environment on first use
/// (`Stores`), as a cluster's processes need.
pub fn runtime() -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
    let mut builder = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(crate::snapshot::location::Stores::default()));
    // Spill files under a directory of this process's that is removed when it ends (also on
    // SIGINT/SIGTERM, and by a later run's sweep when it was killed): DataFusion's own
    // temporary directory was left behind, empty, by every query that spilled.
    if let Some(dir) = spill_directory() {
        use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
        builder = builder.with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir])),
        );
    }
    if let Some(limit) = memory_limit() {
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(limit),
            std::num::NonZeroUsize::new(3).expect("non-zero"),
        );
        builder = builder.with_memory_pool(Arc::new(pool));
    }
    Ok(builder.build_arc()?)
}

/// Whether sessions spill under [`spill_directory`] (the command line, which removes its
/// temporaries when it ends: `staging::remove_live`).
static OWN_SPILL_DIRECTORY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Spill under a directory of this process's, removed when it ends (call before the first
/// session; for a process that calls `staging::remove_live` at its end, as the CLI does).
pub fn spill_in_own_directory() {
    OWN_SPILL_DIRECTORY.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// This process's directory for spill files (`$TMPDIR/.occlens-spill-<pid>-<nanos>.tmp`),
/// made on first use; None when not asked for or when it cannot be made (then DataFusion's
/// default applies).
fn spill_directory() -> Option<std::path::PathBuf> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    if !OWN_SPILL_DIRECTORY.load(std::sync::atomic::Ordering::SeqCst) {
        return None;
    }
    DIR.get_or_init(|| {
        let temp = crate::staging::Temp::in_temp_dir("spill");
        std::fs::create_dir(temp.path()).ok()?;
        let dir = temp.path().to_path_buf();
        temp.until_exit();
        Some(dir)
    })
    .clone()
}
