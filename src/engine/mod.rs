//! The engine: a snapshot opened once (session, catalog of `queries/` views, the cache of
//! derived tables, dimension tables) answering any number of requests, exports and audits,
//! with rows decoded from Arrow.

pub mod audit;
pub mod cache;
pub mod catalog;
pub mod cut;
pub mod deferred_build;
pub mod dims;
pub mod even_parquet;
pub mod even_scans;
pub mod exports;
pub mod in_order;
pub mod keyed;
pub mod keys;
pub mod lazy;
pub mod lookup;
pub mod memo;
pub mod memory;
pub mod occurrences;
pub mod one_step;
pub mod probe_preserved;
pub mod range_jobs;
pub mod ranges;
pub mod related;
pub mod resident;
pub mod row_number;
pub mod rows;
pub mod runtime;
pub mod shared_keys;
pub mod statements;
pub mod tuning;
pub mod typed;
pub mod user_sql;

use crate::error::Result;
use crate::snapshot::{location::Location, Snapshot};
use catalog::Fragments;
use datafusion::prelude::SessionContext;
use dims::Dims;

/// Output settings that change rendered values, not which rows are selected.
#[derive(Debug, Clone)]
pub struct Config {
    /// Scheme and host of hyperlinks (`http://localhost:8000`).
    pub api_base: String,
    /// Base of media URLs (`/media/`).
    pub media_url: String,
    pub time_zone: chrono_tz::Tz,
    /// Which formulation of the top-1 rules answers (the rows are the same; `Window` is
    /// slower and never reads or writes the cache).
    pub semantics: catalog::Semantics,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_base: "http://localhost:8000".into(),
            media_url: "/media/".into(),
            time_zone: chrono_tz::America::New_York,
            semantics: catalog::Semantics::Fast,
        }
    }
}

/// The memo's budget: 128 MB of ids (16M ids; one list up to 4M).
const MEMO_BYTES: usize = 128 << 20;

pub struct Engine {
    pub ctx: SessionContext,
    /// The same catalog, planned for requests that touch few rows (api, list, detail): joins
    /// build a hash table of the small side in one piece, whose dynamic filter (a range and the
    /// key set) then prunes the big side's Parquet pages; the default partitioned joins would
    /// split it per hash partition into a filter no statistics can use.
    pub point: SessionContext,
    /// The parts of the cache this engine reads, each with its entry directory (see `cache`).
    pub cache: Vec<(cache::Part, std::path::PathBuf)>,
    /// Those entries held (see `cache::EntryLock`): no process removes them while this engine
    /// reads them.
    pub cache_locks: Vec<cache::EntryLock>,
    /// Why the cache is not used although it was asked for (for the command line to print).
    pub cache_warning: Option<String>,
    /// Some(P) when the lists part read is project P's entry (`cache::PROJECT_SCOPED`): the
    /// engine then answers only the occurrence list of P (`api::respond` refuses the rest).
    pub lists_project: Option<i64>,
    /// Some(O) when that entry was read for the detail of occurrence O (of project P): the
    /// engine then answers that detail only.
    pub lists_detail: Option<i64>,
    /// With `--cache refresh`: the parts whose entries were kept instead of rebuilt, and why
    /// (one line each, also among the warnings).
    pub cache_not_rebuilt: Vec<(cache::Part, String)>,
    /// Where the cache is, to list the projects' entries when asked (None: the window
    /// formulation, which never reads the cache).
    cache_settings: Option<cache::Settings>,
    pub snapshot: Snapshot,
    /// Loaded in the background from the moment the snapshot is open (a response's first
    /// statements run meanwhile); `dims()` waits for them.
    dims: tokio::sync::OnceCell<Dims>,
    dims_loading: std::sync::Mutex<Option<tokio::task::JoinHandle<Result<Dims>>>>,
    pub config: Config,
    fragments: Fragments,
    /// Ordered id lists of list requests, remembered for this version (resident engines).
    pub memo: Option<memo::Memo>,
    /// Bytes of the tables held in memory (resident engines).
    pub resident_bytes: Option<usize>,
    /// Rows (occurrences, detections, classifications) whose related rows a JSON export reads
    /// in one range (see `related::RelatedStreams`): fewer hold less memory and scan the
    /// snapshot more often.
    pub export_range_rows: i64,
    /// At most this many rows a range for a JSON export to cut them (see `cut`).
    pub export_cut_max: usize,
}

impl Engine {
    /// Open `snapshot` (None: the built-in demo), register its tables and the views; no cache.
    pub async fn open(snapshot: Option<&str>, config: Config) -> Result<Engine> {
        let off = cache::Settings {
            mode: cache::Mode::Off,
            ..Default::default()
        };
        Self::open_cached(snapshot, config, &off, &[], &|_| {}).await
    }

    /// Open `snapshot` reading the parts of its cache that are present when `settings` allow;
    /// a part of `build` that is absent (every part with --cache refresh or `cache build`) is
    /// computed and stored first (`progress` gets the rows written).
    pub async fn open_cached(
        snapshot: Option<&str>,
        config: Config,
        settings: &cache::Settings,
        build: &[cache::Part],
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Engine> {
        let started = std::time::Instant::now();
        let trace = |what: &str| {
            if std::env::var_os("OCCLENS_TRACE").is_some() {
                eprintln!(
                    "occlens: {:>7.1} ms  (open) {what}",
                    started.elapsed().as_secs_f64() * 1e3
                );
            }
        };
        let location = Location::resolve(snapshot).await?;
        match location.base.to_file_path() {
            Ok(dir) => crate::staging::protect(&dir),
            Err(_) => crate::staging::protect_url(&location.base),
        }
        // The window formulation never reads the cache (built from the fast views), and runs
        // on DataFusion's window operators alone.
        let window = config.semantics == catalog::Semantics::Window;
        let mut ctx = catalog::session(config.semantics)?;
        let mut snapshot = Snapshot::open(&ctx, &location, config.time_zone).await?;
        if catalog::is_remote() {
            // Executors read with DataFusion's reader, which has no such conversions.
            let converted: Vec<String> = snapshot
                .tables
                .iter()
                .filter(|t| !t.reader_only.is_empty())
                .map(|t| format!("{} ({})", t.name, t.reader_only.join(", ")))
                .collect();
            if !converted.is_empty() {
                return Err(crate::error::Error::Usage(format!(
                    "--cluster: {} can be read by a local occlens only (stored as integers of a wider type or as double, jsonb as a nested type, timestamps without a time zone, or with different types in different part files); run without --cluster, or store them with the contract's types",
                    converted.join("; ")
                )));
            }
        }
        let (mut cached, mut warnings) = (Vec::new(), Vec::<String>::new());
        let mut not_rebuilt = Vec::new();
        let mut locks = Vec::new();
        let must = matches!(settings.mode, cache::Mode::Refresh | cache::Mode::Build);
        let mut missing = Vec::new();
        // A project's entry of the lists part looked for (see `cache::PROJECT_SCOPED`).
        let mut scoped = None;
        // The detail whose occurrence's project that entry is (`cache::Settings::detail`).
        let mut scoped_detail = None;
        for part in cache::Part::ALL {
            let Some(mut dir) =
                cache::directory(settings, &snapshot, config.time_zone, part).filter(|_| !window)
            else {
                continue;
            };
            // One list request of a project: the whole lists part when it is built, else
            // that project's entry.
            let one_request = part == cache::Part::Lists && settings.mode == cache::Mode::Auto;
            let mut project = settings.project.filter(|_| one_request);
            // One detail: its occurrence's project's entry, as for a list of that project (its
            // project looked up only when the whole part is not built).
            if let Some(id) = settings.detail.filter(|_| one_request && project.is_none()) {
                let whole = cache::inspect(&dir, part, None, false);
                if !matches!(whole, cache::Entry::Ready(_)) {
                    match occurrence_project(&ctx, id).await? {
                        OccurrenceProject::One(p) => {
                            project = Some(p);
                            scoped_detail = Some(id);
                        }
                        // Not in the snapshot: a 404, answered from its tables, no entry of the
                        // lists built (a damaged whole part said so, as when a project's entry
                        // is read).
                        OccurrenceProject::Absent => {
                            if let cache::Entry::Damaged(why) = whole {
                                warnings.push(format!(
                                    "the lists part of the cache ({}) is damaged ({why}); answering from the snapshot's tables (--cache refresh rebuilds it)",
                                    dir.display()
                                ));
                            }
                            continue;
                        }
                        // No project, or rows of several: the whole part, as for any request.
                        OccurrenceProject::Other => {}
                    }
                }
            }
            if let Some(p) = project {
                let lock = cache::hold(&dir);
                match cache::inspect(&dir, part, None, false) {
                    cache::Entry::Ready(d) if lock.is_some() => {
                        cached.push((part, d));
                        locks.extend(lock);
                        continue;
                    }
                    cache::Entry::Damaged(why) => warnings.push(format!(
                        "the lists part of the cache ({}) is damaged ({why}); reading project {p}'s lists (--cache refresh rebuilds it)",
                        dir.display()
                    )),
                    _ => {}
                }
                dir = cache::scoped_directory(settings, &snapshot, config.time_zone, part, Some(p))
                    .expect("a directory for the part, so for its project");
                // A project the snapshot does not hold: its list is a 404, answered from the
                // snapshot's tables without building an entry of the lists.
                if cache::present(&dir, part, Some(p)).is_none() && !project_exists(&ctx, p).await?
                {
                    continue;
                }
                scoped = Some((p, dir.clone()));
            }
            if settings.mode == cache::Mode::Refresh {
                let kept = match cache::remove(&dir) {
                    cache::Removal::InUse => Some("another occlens process reads it"),
                    // A symlink, a stray file in it, a directory occlens cannot remove: never
                    // removed (occlens removes only what it wrote).
                    cache::Removal::NotOurs if dir.symlink_metadata().is_ok() => Some(
                        "it holds what occlens did not write (a symlink, another file); remove it yourself to rebuild it",
                    ),
                    _ => None,
                };
                if let Some(why) = kept {
                    let line = format!(
                        "the {} part of the cache ({}) was kept, not rebuilt: {why}",
                        part.name(),
                        dir.display()
                    );
                    warnings.push(line.clone());
                    not_rebuilt.push((part, line));
                }
            }
            let wanted = must || build.contains(&part);
            // Held before it is inspected: no other process removes it from then on.
            let lock = cache::hold(&dir);
            match cache::inspect(&dir, part, project, false) {
                cache::Entry::Ready(d) if lock.is_some() => {
                    cached.push((part, d));
                    locks.extend(lock);
                }
                // Complete only after it was looked for (another process's build): as absent.
                cache::Entry::Ready(_) | cache::Entry::Absent if wanted => {
                    missing.push((part, dir, project))
                }
                cache::Entry::Ready(_) | cache::Entry::Absent => {}
                cache::Entry::Damaged(why) => {
                    drop(lock);
                    let name = part.name();
                    if settings.mode == cache::Mode::Auto && !wanted {
                        warnings.push(format!(
                            "the {name} part of the cache ({}) is damaged ({why}); answering from the snapshot's tables (--cache refresh rebuilds it)",
                            dir.display()
                        ));
                    } else {
                        warnings.push(format!(
                            "the {name} part of the cache ({}) is damaged ({why}); rebuilding it",
                            dir.display()
                        ));
                        cache::remove_entry(&dir);
                        missing.push((part, dir, project));
                    }
                }
            }
        }
        if !missing.is_empty() {
            // The taxa part (first in `Part::ALL`), built or found, is read by the builds after
            // it: its files carry row counts, from which the facts' joins with
            // `default_filter_taxa` hash that small side instead of every occurrence (SF1: the
            // facts' views 0.3 s and 0.26 s faster).
            for (part, dir) in cached.iter().filter(|(p, _)| *p == cache::Part::Taxa) {
                cache::register(&ctx, dir, *part).await?;
            }
            catalog::create_views(&ctx, config.time_zone, &[], config.semantics).await?;
            // Said once: a directory that cannot be written fails every part alike.
            let mut unwritable = false;
            for (part, dir, project) in missing {
                let built = cache::build(&ctx, &dir, part, project, settings.range_rows, progress);
                match built.await {
                    Ok(built) => match cache::hold(&built) {
                        Some(lock) => {
                            // The whole lists part is read from now on: the projects' entries
                            // of this version are not (those another process reads stay).
                            if part == cache::Part::Lists && project.is_none() {
                                let tz = config.time_zone;
                                for (_, dir) in cache::project_entries(settings, &snapshot, tz) {
                                    cache::remove(&dir);
                                }
                            }
                            if part == cache::Part::Taxa {
                                cache::register(&ctx, &built, part).await?;
                                catalog::replan_views(&ctx)?;
                            }
                            cached.push((part, built));
                            locks.push(lock);
                        }
                        None => warnings.push(format!(
                            "the {} part of the cache ({}) was removed by another process as it was built; answering from the snapshot's tables",
                            part.name(),
                            built.display()
                        )),
                    },
                    // The cache is an optimisation: with --cache auto, a cache directory that
                    // cannot be written (or lies inside the snapshot, where occlens never
                    // writes) means answering from the snapshot (with a warning); the other
                    // parts are still built and read (one whose entry's name is in the way
                    // fails alone).
                    Err(e @ (crate::error::Error::Io { .. } | crate::error::Error::Usage(_)))
                        if settings.mode == cache::Mode::Auto =>
                    {
                        if !unwritable {
                            warnings.push(format!(
                                "cannot write the cache ({e}); answering from the snapshot's tables"
                            ));
                        }
                        unwritable = true;
                    }
                    Err(e) => return Err(e),
                }
            }
            ctx = catalog::session(config.semantics)?;
            snapshot = Snapshot::open(&ctx, &location, config.time_zone).await?;
        }
        cached.sort_by_key(|(part, _)| cache::Part::ALL.iter().position(|p| p == part));
        let cache_settings = (!window).then(|| settings.clone());
        // Read only when it was found or built (not when answering from the snapshot).
        let lists_project = scoped
            .filter(|(_, d)| cached.iter().any(|(_, c)| c == d))
            .map(|(p, _)| p);
        let lists_detail = scoped_detail.filter(|_| lists_project.is_some());
        let cache_warning = (!warnings.is_empty()).then(|| warnings.join("; "));
        trace("snapshot tables registered");
        // The dimension tables are the snapshot's: read on the other core while the cache's
        // tables are registered and the views created and checked (one core's work).
        let loading = {
            let ctx = ctx.clone();
            tokio::spawn(async move { Dims::load(&ctx).await })
        };
        let registrations = cached
            .iter()
            .map(|(part, dir)| cache::register(&ctx, dir, *part));
        futures::future::try_join_all(registrations).await?;
        let skip: Vec<&str> = cached
            .iter()
            .flat_map(|(part, _)| part.views().iter().map(|(v, _, _)| *v))
            .collect();
        if !cached.is_empty() {
            // Requests read their rows by occurrence from the pages of the files sorted by
            // it (not `occurrence_list`, sorted by project first: a page's ids would match
            // pages of every project, where a statement decodes the other columns of the
            // matching rows only).
            // A detail's row is read by id from `occurrence_list` through its bloom filters.
            let keyed: Vec<(&str, std::path::PathBuf, &str, bool)> = cached
                .iter()
                .flat_map(|(part, dir)| {
                    part.views().iter().filter_map(move |(view, order, _)| {
                        let file = dir.join(format!("{view}.parquet"));
                        match cache::lookup_key(order) {
                            Some(key) => Some((*view, file, key, false)),
                            None if *view == cache::LIST_VIEW => Some((*view, file, "id", true)),
                            None => None,
                        }
                    })
                })
                .collect();
            keyed::attach(&ctx, &keyed);
            trace("cache tables registered");
        }
        let mut resident_bytes = None;
        if settings.hold != resident::Hold::None {
            let bytes = resident::hold_for_requests(
                &ctx,
                &snapshot,
                &skip,
                settings.hold,
                settings.hold_max,
            )
            .await?;
            trace(&format!("{} MB held in memory", bytes >> 20));
            resident_bytes = Some(bytes);
        }
        catalog::create_views(&ctx, config.time_zone, &skip, config.semantics).await?;
        trace("views created");
        typed::check(&ctx).await?;
        trace("typed views checked");
        let point = catalog::point_session(&ctx);
        let fragments = Fragments::load();
        Ok(Engine {
            ctx,
            point,
            cache: cached,
            cache_locks: locks,
            cache_warning,
            lists_project,
            lists_detail,
            cache_not_rebuilt: not_rebuilt,
            cache_settings,
            snapshot,
            dims: tokio::sync::OnceCell::new(),
            dims_loading: std::sync::Mutex::new(Some(loading)),
            config,
            fragments,
            memo: (settings.hold != resident::Hold::None).then(|| memo::Memo::new(MEMO_BYTES)),
            resident_bytes,
            export_range_rows: ranges::RANGE_ROWS,
            export_cut_max: cut::MAX_ROWS,
        })
    }

    /// This snapshot version's entries of projects' lists in the cache directory, read by
    /// this engine or not (for `occlens cache` and `occlens check`; listed when asked).
    pub fn project_entries(&self) -> Vec<(i64, std::path::PathBuf)> {
        match &self.cache_settings {
            Some(settings) => {
                cache::project_entries(settings, &self.snapshot, self.config.time_zone)
            }
            None => Vec::new(),
        }
    }

    /// The entry directory of `part` when this engine reads it.
    pub fn cached(&self, part: cache::Part) -> Option<&std::path::Path> {
        self.cache
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, d)| d.as_path())
    }

    /// The view pages choose their ids from: the cached `occurrence_list` when there is one
    /// (it holds every key column), else `occurrence_keys` (which skips the per-occurrence
    /// predictions, identifications and cover images no condition or ordering reads).
    pub fn keys_view(&self) -> &'static str {
        if self.cached(cache::Part::Lists).is_some() {
            cache::LIST_VIEW
        } else {
            "occurrence_keys"
        }
    }

    /// The dimension tables (taxa, algorithms, events, deployments, users, projects).
    pub async fn dims(&self) -> Result<&Dims> {
        self.dims
            .get_or_try_init(|| async {
                let loading = self.dims_loading.lock().expect("not poisoned").take();
                match loading {
                    Some(task) => task.await.map_err(|e| {
                        crate::error::Error::Query(format!("loading the dimension tables: {e}"))
                    })?,
                    None => Dims::load(&self.ctx).await,
                }
            })
            .await
    }

    pub fn fragments(&self) -> &Fragments {
        &self.fragments
    }

    /// An engine reading one project's entry of the lists part (`cache::PROJECT_SCOPED`)
    /// holds that project's occurrences only: it answers the request it was opened for (that
    /// project's list, or the detail of `lists_detail`), never another from part of the rows.
    /// `detail`: the request's occurrence when it is a detail; `project`: its project filter.
    pub(crate) fn check_scope(
        &self,
        detail: Option<i64>,
        project: Option<i64>,
        path: &str,
    ) -> Result<()> {
        let Some(p) = self.lists_project else {
            return Ok(());
        };
        let opened_for = match self.lists_detail {
            Some(id) => detail == Some(id),
            None => detail.is_none() && project == Some(p),
        };
        if opened_for {
            return Ok(());
        }
        Err(crate::error::Error::Internal(format!(
            "an engine opened for project {p}'s occurrence list cannot answer {}",
            crate::redact::redact(path)
        )))
    }
}

/// The project of an occurrence, as `main_occurrence` holds it.
enum OccurrenceProject {
    One(i64),
    Absent,
    /// NULL, or rows of the id in several projects (a broken key, refused later).
    Other,
}

async fn occurrence_project(ctx: &SessionContext, id: i64) -> Result<OccurrenceProject> {
    let sql = format!("SELECT DISTINCT project_id FROM main_occurrence WHERE id = {id} LIMIT 2");
    let rows = crate::engine::rows::to_rows(&ctx.sql(&sql).await?.collect().await?)?;
    // (An unreadable main_occurrence fails here as the whole part's build would, naming it.)
    Ok(match rows.as_slice() {
        [] => OccurrenceProject::Absent,
        [row] => match row.get("project_id").and_then(|v| v.as_i64()) {
            Some(p) => OccurrenceProject::One(p),
            None => OccurrenceProject::Other,
        },
        _ => OccurrenceProject::Other,
    })
}

/// Whether `main_project` holds project `id`.
async fn project_exists(ctx: &SessionContext, id: i64) -> Result<bool> {
    let sql = format!("SELECT count(*) AS n FROM main_project WHERE id = {id}");
    let rows = crate::engine::rows::to_rows(&ctx.sql(&sql).await?.collect().await?)?;
    Ok(rows
        .first()
        .and_then(|r| r.get("n"))
        .and_then(|v| v.as_i64())
        > Some(0))
}
