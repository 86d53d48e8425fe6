//! A JSON export's related rows computed from the snapshot cut to one range of its
//! occurrences.
//!
//! Every relation of a detail-shaped export (images, detections with their captures,
//! prediction candidates, the detections' classifications, identifications) is a view of
//! `queries/` whose rows for an occurrence come from the occurrence's own row, its detections
//! and their classifications. Run on the snapshot's tables, each relation's statement decodes
//! them again: a range's classifications three times (the candidates, their per-algorithm
//! maxima, the detections' classifications) and its detections five times. A [`Cut`] reads
//! the range's occurrences of the project, their detections and those detections'
//! classifications once each (`export.range_occurrences`, `export.range_detections`,
//! `export.range_classifications` of `queries/request.sql`) into memory, reserved in the
//! memory pool; the same views then run in a session where `main_occurrence`,
//! `main_detection` and `main_classification` hold those rows only, so their rows for the
//! range's occurrences are the same (a test compares every project's export both ways). The
//! range's occurrences themselves (`occurrence_list`, `export.range_base`) are computed there
//! too: an occurrence's list row, like its relations, comes from its own detections and
//! classifications.
//!
//! SF1, project 1 (DuckDB-written): `occurrences_api_json` 5.95 s → 5.37 s, 9.2 → 8.2 s of
//! user CPU; peak memory 0.52–0.57 → 0.62–0.67 GB (docs/performance.md).

use crate::engine::catalog::{self, Arg, Fragments, Semantics};
use crate::engine::statements::{record, trace};
use crate::engine::Engine;
use crate::error::Result;
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemoryCatalogProviderList, TableProvider,
};
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use std::sync::Arc;

/// The snapshot's tables a range's rows stand in for, each with the fragment reading them.
const CUT: [(&str, &str); 3] = [
    ("main_occurrence", "export.range_occurrences"),
    ("main_detection", "export.range_detections"),
    ("main_classification", "export.range_classifications"),
];

/// By default, at most this many rows (occurrences, detections and classifications) a range
/// for them to be cut: about 150 MB at SF1's proportions (200,000 occurrences). A range with
/// more (a project whose ids bunch together, or one of many occurrences: at most
/// `ranges::MAX_RANGES` ranges) is computed from the tables.
pub const MAX_ROWS: usize = 2_200_000;

/// How one export cuts the snapshot for each of its ranges.
#[derive(Clone)]
pub struct Cut {
    /// (table, its fragment, the columns the views read: quoted, comma-separated)
    reads: Vec<(&'static str, &'static str, String)>,
    /// The engine's tables (the snapshot's, the cache's), as registered.
    tables: Vec<(String, Arc<dyn TableProvider>)>,
    time_zone: chrono_tz::Tz,
    semantics: Semantics,
    /// At most this many rows a range (`Engine::export_cut_max`).
    max_rows: usize,
}

impl Cut {
    /// How `engine` is cut for the relations `views`; None when fewer than two of them are
    /// computed from the snapshot's tables here (the others are tables: the cache's files,
    /// already sorted by occurrence, which the cut session reads as they are), or on a cluster
    /// (its executors cannot read this process's memory).
    pub async fn new(engine: &Engine, views: &[&str]) -> Result<Option<Cut>> {
        if catalog::is_remote() {
            return Ok(None);
        }
        let tables = catalog::registered_tables(&engine.ctx).await?;
        let computed = views
            .iter()
            .filter(|v| !tables.iter().any(|(name, _)| name == *v))
            .count();
        if computed < 2 {
            return Ok(None);
        }
        let mut reads = Vec::new();
        for (table, fragment) in CUT {
            let Some((_, provider)) = tables.iter().find(|(name, _)| name == table) else {
                return Ok(None);
            };
            let contract = crate::snapshot::contract::table(table);
            let columns: Vec<String> = provider
                .schema()
                .fields()
                .iter()
                .filter(|f| {
                    contract
                        .and_then(|t| t.column(f.name()))
                        .is_some_and(|c| c.used)
                })
                .map(|f| format!("\"{}\"", f.name().replace('"', "\"\"")))
                .collect();
            reads.push((table, fragment, columns.join(", ")));
        }
        Ok(Some(Cut {
            reads,
            tables,
            time_zone: engine.config.time_zone,
            semantics: engine.config.semantics,
            max_rows: engine.export_cut_max,
        }))
    }

    /// The statements reading the cut tables' rows for `project`'s occurrences with ids in
    /// `from..=through`: (table, SQL).
    pub fn statements(
        &self,
        fragments: &Fragments,
        project: i64,
        from: i64,
        through: i64,
    ) -> Vec<(&'static str, String)> {
        self.reads
            .iter()
            .map(|(table, fragment, columns)| {
                let sql = fragments.bind(
                    fragment,
                    &[
                        ("columns", Arg::Sql(columns)),
                        ("project", Arg::Int(project)),
                        ("from", Arg::Int(from)),
                        ("through", Arg::Int(through)),
                    ],
                );
                record(&sql);
                (*table, sql)
            })
            .collect()
    }

    /// A session like `ctx` (its settings but half its partitions unless `alone`, functions,
    /// rules and memory pool) whose cut tables hold the rows `statements` read, each run in
    /// this session once the tables before it are cut; with the views of `queries/` over them. The rows are
    /// reserved in the memory pool (`--memory-limit`), batch by batch as they are read, for as
    /// long as the reservation returned with the session lives. None, the rows read so far
    /// released, when the range holds more than `max_rows` rows (of every statement) or the
    /// pool cannot hold them: the range's relations are then computed from the tables, where
    /// their sorts can spill.
    pub async fn session(
        &self,
        ctx: &SessionContext,
        statements: Vec<(&'static str, String)>,
        alone: bool,
    ) -> Result<Option<(SessionContext, MemoryReservation)>> {
        let held = MemoryConsumer::new("an export range's rows (engine::cut)")
            .register(&ctx.runtime_env().memory_pool);
        // Half the cores: the export shapes one range's objects on every core while the next
        // range is read here, so that its statements' repartitioning and merging buy little
        // (SF1, 2 cores, DuckDB-written, project 1's detail export: 0.5 s less CPU with one
        // partition than with two, the same text). The first range (`alone`) is read before
        // anything is shaped: with every core.
        let config = ctx.state().config().clone();
        let partitions = match alone {
            true => config.target_partitions(),
            false => (config.target_partitions() / 2).max(1),
        };
        let config = config.with_target_partitions(partitions);
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
            .with_config(config)
            .with_catalog_list(Arc::new(MemoryCatalogProviderList::new()))
            .build();
        let cut = SessionContext::new_with_state(state);
        let catalog = MemoryCatalogProvider::new();
        catalog.register_schema("public", Arc::new(crate::engine::lazy::Views::default()))?;
        cut.register_catalog("datafusion", Arc::new(catalog));
        for (name, table) in &self.tables {
            cut.register_table(name.as_str(), table.clone())?;
        }
        let partitions = cut.state().config().target_partitions().max(1);
        let mut rows = 0;
        for (table, sql) in statements {
            let started = std::time::Instant::now();
            let mut stream = cut.sql(&sql).await?.execute_stream().await?;
            let schema = stream.schema();
            // Dealt out in turn, so that every core scans a share.
            let (mut parts, mut k) = (vec![Vec::new(); partitions], 0);
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                let too_many = rows > self.max_rows;
                if too_many || held.try_grow(batch.get_array_memory_size()).is_err() {
                    return Ok(None);
                }
                parts[k % partitions].push(batch);
                k += 1;
            }
            trace(&sql, started);
            let read: Arc<dyn TableProvider> = Arc::new(MemTable::try_new(schema, parts)?);
            cut.deregister_table(table)?;
            cut.register_table(table, read)?;
        }
        catalog::create_views(&cut, self.time_zone, &[], self.semantics).await?;
        Ok(Some((cut, held)))
    }
}
