//! occlens's defaults for DataFusion settings, applied to every session; a cluster's sessions
//! put two back to DataFusion's ([`CLUSTER`], in src/cluster/mod.rs).

/// occlens's defaults for DataFusion settings (each yields to its DATAFUSION_* variable). On
/// the SF1 full list view they cut time and memory by about 40% against DataFusion's
/// defaults when they were chosen; docs/performance.md has the measurements.
pub const TUNING: &[(&str, &str)] = &[
    // The top-1 aggregates group by occurrence (and algorithm): nearly every row is its own
    // group within a batch, so a partial aggregation before the shuffle only copies rows.
    // Skip it early (DataFusion's default gives up on it only above 80% distinct groups).
    (
        "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
        "0.1",
    ),
    // Larger batches amortise the per-batch work of the many-group aggregations.
    ("datafusion.execution.batch_size", "16384"),
    // A join side of up to 4M rows (64 MB when its size is known) is collected into one hash
    // table shared by every partition instead of both sides being repartitioned: at SF1 the
    // list view's joins (1M occurrences, 2.5M detections) then skip a repartition of their
    // inputs, the classifications' 7.4M rows among them (2.25–2.54 s → 2.11–2.40 s on three
    // layouts). Bigger sides (SF10) stay partitioned. A cluster keeps DataFusion's defaults
    // (src/cluster/mod.rs).
    (
        "datafusion.optimizer.hash_join_single_partition_threshold",
        "67108864",
    ),
    (
        "datafusion.optimizer.hash_join_single_partition_threshold_rows",
        "4194304",
    ),
    // Apply filters while decoding Parquet, dynamic join filters included: an export's or a
    // detail's occurrence ids then cut the detection and classification scans to their rows
    // (project 1's CSV export at SF1: 3.55 s → 2.70 s; a detail 0.87 s → 0.55 s).
    ("datafusion.execution.parquet.pushdown_filters", "true"),
    // Read Parquet strings as Utf8, not Utf8View: DataFusion 55 counts a view array's shared
    // data buffers once per batch that points into them, so the sort of the SF1 cache build
    // "held" 15.6 GB at 1 GB resident and failed under the memory pool in 2 of 4 runs
    // (0 of 4 with this setting, same time and memory).
    (
        "datafusion.execution.parquet.schema_force_view_types",
        "false",
    ),
    // INT96 timestamps (Spark's default) are UTC instants: read them as such, in
    // microseconds, not as zone-less times (which a snapshot reads as wall-clock times of
    // --timezone; src/snapshot/types.rs).
    ("datafusion.execution.parquet.coerce_int96", "us"),
    ("datafusion.execution.parquet.coerce_int96_tz", "UTC"),
];

/// On a cluster, DataFusion's own thresholds for collected join sides instead of TUNING's:
/// a collected side is read whole by every task there.
pub const CLUSTER: &[(&str, &str)] = &[
    (
        "datafusion.optimizer.hash_join_single_partition_threshold",
        "1048576",
    ),
    (
        "datafusion.optimizer.hash_join_single_partition_threshold_rows",
        "131072",
    ),
];

/// Set each of `settings` in `config`, unless its DATAFUSION_* variable is set (the
/// variable's value, read by `catalog::config_from_env`, wins).
pub fn apply(
    config: &mut datafusion::prelude::SessionConfig,
    settings: &[(&str, &str)],
) -> datafusion::error::Result<()> {
    for (key, value) in settings {
        if std::env::var_os(key.to_uppercase().replace('.', "_")).is_none() {
            config.options_mut().set(key, value)?;
        }
    }
    Ok(())
}
