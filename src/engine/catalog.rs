//! The SQL catalog: `queries/*.sql` compiled into the binary, the session that runs them, and
//! the named fragments of the fragment files (`FRAGMENT_FILES`: `queries/request.sql`, the
//! exports', the audit's and one per endpoint family).

use crate::engine::lazy;
use crate::error::{Error, Result};
use crate::functions::{arg_best, maxima, ordered_concat, render_udf, repeated_keys, udf};
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
use std::sync::Arc;

/// The view definitions, executed in this order when a snapshot is opened.
pub const VIEW_FILES: &[(&str, &str)] = &[
    ("01_taxa.sql", include_str!("../../queries/01_taxa.sql")),
    (
        "02_detections.sql",
        include_str!("../../queries/02_detections.sql"),
    ),
    (
        "03_predictions.sql",
        include_str!("../../queries/03_predictions.sql"),
    ),
    (
        "04_identifications.sql",
        include_str!("../../queries/04_identifications.sql"),
    ),
    (
        "05_occurrences.sql",
        include_str!("../../queries/05_occurrences.sql"),
    ),
    ("06_detail.sql", include_str!("../../queries/06_detail.sql")),
    (
        "07_algorithms.sql",
        include_str!("../../queries/07_algorithms.sql"),
    ),
    (
        "08_exports.sql",
        include_str!("../../queries/08_exports.sql"),
    ),
    ("09_dwca.sql", include_str!("../../queries/09_dwca.sql")),
    ("10_audit.sql", include_str!("../../queries/10_audit.sql")),
    ("11_facts.sql", include_str!("../../queries/11_facts.sql")),
];

/// The reference formulations (window functions) of the top-1 rules: a view `X_window` is the
/// reference of the fast view `X` (see queries/reference/01_predictions.sql).
pub const REFERENCE_FILES: &[(&str, &str)] = &[
    (
        "reference/01_predictions.sql",
        include_str!("../../queries/reference/01_predictions.sql"),
    ),
    (
        "reference/02_identifications.sql",
        include_str!("../../queries/reference/02_identifications.sql"),
    ),
    (
        "reference/03_audit.sql",
        include_str!("../../queries/reference/03_audit.sql"),
    ),
];

/// Which formulation of the top-1 rules answers: the fast views of `queries/` (arg_max
/// aggregates) or their window-function references of `queries/reference/` (slower; for
/// audits of occlens itself). Both give the same rows when ids are unique (tests/differential.rs);
/// where a snapshot repeats an id, which `occlens check` reports, they may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Semantics {
    #[default]
    Fast,
    Window,
}

/// The files of named fragments.
const FRAGMENT_FILES: &[&str] = &[
    include_str!("../../queries/request.sql"),
    include_str!("../../queries/dwca.sql"),
    include_str!("../../queries/taxa_list.sql"),
    include_str!("../../queries/audit.sql"),
    include_str!("../../queries/snapshot_project.sql"),
    include_str!("../../queries/check.sql"),
    include_str!("../../queries/endpoints.sql"),
    include_str!("../../queries/ml.sql"),
    include_str!("../../queries/tags.sql"),
    include_str!("../../queries/captures.sql"),
    include_str!("../../queries/collections.sql"),
    include_str!("../../queries/identifications.sql"),
    include_str!("../../queries/deployments.sql"),
    include_str!("../../queries/events.sql"),
    include_str!("../../queries/occurrence_stats.sql"),
    include_str!("../../queries/projects.sql"),
    include_str!("../../queries/status_summary.sql"),
    include_str!("../../queries/taxa.sql"),
    include_str!("../../queries/taxa_detail.sql"),
    include_str!("../../queries/taxa_lists.sql"),
];

pub use super::memory::{machine_memory, memory_limit, memory_limit_given, set_memory_limit};

pub use super::runtime::{config_from_env, runtime, spill_in_own_directory};

/// A new DataFusion session with occlens's functions registered, for the top-1 rules'
/// formulation `semantics`.
pub fn session(semantics: Semantics) -> Result<SessionContext> {
    let mut config = config_from_env()?.with_information_schema(true);
    super::tuning::apply(&mut config, super::tuning::TUNING)?;
    let mut ctx = SessionContext::new_with_config_rt(config, runtime()?);
    // `arg_max` calls with shared keys compare them once (src/engine/shared_keys.rs); on a
    // cluster too (the client optimizes the logical plan it sends).
    ctx.add_optimizer_rule(Arc::new(super::shared_keys::ShareKeys));
    // First (making a session remote rebuilds its default catalog).
    if let Some(remote) = REMOTE.get() {
        ctx = SessionContext::new_with_state(remote(ctx.state())?);
    } else {
        // Left joins stream their kept side when estimates are close
        // (src/engine/probe_preserved.rs); build sides start when their join asks for rows
        // (src/engine/deferred_build.rs); a scan's partitions read equal shares of rows
        // (src/engine/even_scans.rs); the best prediction's aggregation takes one step
        // (src/engine/one_step.rs).
        let rules = super::probe_preserved::rules_with_probe_preserved_side(
            ctx.state().physical_optimizers(),
        );
        let mut state = datafusion::execution::SessionStateBuilder::new_from_existing(ctx.state())
            .with_physical_optimizer_rules(rules)
            .with_physical_optimizer_rule(Arc::new(super::deferred_build::DeferBuildSides))
            .with_physical_optimizer_rule(Arc::new(super::even_scans::EvenScans))
            .with_physical_optimizer_rule(Arc::new(super::one_step::OneStep));
        // Row numbers of sorted input in one pass (src/engine/row_number.rs). The window
        // formulation, which audits occlens's, runs on DataFusion's window operator alone.
        if semantics == Semantics::Fast {
            state =
                state.with_physical_optimizer_rule(Arc::new(super::row_number::NumberSortedRows));
        }
        ctx = SessionContext::new_with_state(state.build());
    }
    if let Some(catalog) = ctx.catalog("datafusion") {
        // Tables as usual; the views of queries/ planned on first use (`lazy`).
        let _ = catalog.register_schema("public", Arc::new(lazy::Views::default()));
    }
    register_functions(&ctx);
    Ok(ctx)
}

/// Register occlens's SQL functions in `ctx` (`wall_clock` is registered per engine, for its
/// time zone, by `create_views`).
pub fn register_functions(ctx: &SessionContext) {
    udf::register(ctx);
    arg_best::register(ctx);
    maxima::register(ctx);
    ordered_concat::register(ctx);
    render_udf::register(ctx);
    repeated_keys::register(ctx);
}

/// Turns a new session into the client of a distributed engine (`occlens --cluster`, see
/// `crate::cluster`): its statements are planned here and run there.
pub type Remote = Box<
    dyn Fn(datafusion::execution::SessionState) -> Result<datafusion::execution::SessionState>
        + Send
        + Sync,
>;

static REMOTE: std::sync::OnceLock<Remote> = std::sync::OnceLock::new();

/// Make every session of this process remote (called once, by the command line).
pub fn set_remote(remote: Remote) {
    let _ = REMOTE.set(remote);
}

/// Whether sessions run their statements on a cluster.
pub fn is_remote() -> bool {
    REMOTE.get().is_some()
}

/// On a cluster, a session whose statements are planned in one partition, so that a job is
/// one stage without shuffles, and without dynamic filters (`one_stage`): range jobs,
/// `taxa_list_csv`, the `dwca` export, the cache build. The cluster's query planner runs
/// every statement that joins or computes a window that way too (`cluster::one_stage` says
/// why: Ballista 55 re-plans forever a shuffle of an empty join side or window input).
/// Locally, `ctx` itself.
pub fn one_stage_session(ctx: &SessionContext) -> Result<SessionContext> {
    if !is_remote() {
        return Ok(ctx.clone());
    }
    let mut state = ctx.state();
    one_stage(state.config_mut().options_mut())?;
    Ok(SessionContext::new_with_state(state))
}

/// The settings of a one-stage job on a cluster (`one_stage_session`): one partition, no
/// dynamic filters.
pub fn one_stage(options: &mut datafusion::config::ConfigOptions) -> datafusion::error::Result<()> {
    options.set("datafusion.execution.target_partitions", "1")?;
    // All of them: a scheduler applies the settings it is sent in any order, and this one
    // sets the join, top-k and aggregate ones after it.
    options.set(
        "datafusion.optimizer.enable_dynamic_filter_pushdown",
        "false",
    )?;
    Ok(())
}

/// The session for requests that touch few rows: `ctx`'s catalog and functions, with joins
/// that collect their small side whole (see `Engine::point`).
pub fn point_session(ctx: &SessionContext) -> SessionContext {
    let mut state = ctx.state();
    state.config_mut().options_mut().optimizer.repartition_joins = false;
    SessionContext::new_with_state(state)
}

/// Define every view of `queries/` in `ctx` (planned when a statement first names one, see
/// `lazy`); `wall_clock()` reads instants in `time_zone`. `registered`: views already
/// registered in `ctx` as tables (the cache), whose definitions are skipped.
/// The reference views `queries/reference/` are always defined; with `Semantics::Window` each
/// fast view `X` that has a reference `X_window` is defined as that reference instead.
pub async fn create_views(
    ctx: &SessionContext,
    time_zone: chrono_tz::Tz,
    registered: &[&str],
    semantics: Semantics,
) -> Result<()> {
    render_udf::register_wall_clock(ctx, time_zone);
    let views = views_schema(ctx)?;
    for (file, text) in VIEW_FILES.iter().chain(REFERENCE_FILES) {
        for sql in split_statements(text) {
            let (name, select) = view_statement(&sql).ok_or_else(|| {
                Error::Query(format!(
                    "queries/{file}: expected CREATE VIEW <name> AS <select>; found {}",
                    sql.lines().next().unwrap_or_default()
                ))
            })?;
            if !registered.contains(&name) {
                views.define(file, name, select);
            }
        }
    }
    if semantics == Semantics::Window {
        for (fast, reference) in reference_pairs() {
            if !registered.contains(&fast.as_str()) {
                views.define("reference", &fast, &format!("SELECT * FROM {reference}"));
            }
        }
    }
    views.set_state(ctx.state());
    Ok(())
}

/// Forget the views planned so far: each is planned again when next named, reading the
/// tables registered since under the names of views (a part of the cache just built).
pub fn replan_views(ctx: &SessionContext) -> Result<()> {
    views_schema(ctx)?.forget_planned();
    Ok(())
}

/// The names of the views of `queries/` and `queries/reference/`, in order.
pub fn view_names() -> Vec<String> {
    VIEW_FILES
        .iter()
        .chain(REFERENCE_FILES)
        .flat_map(|(_, text)| split_statements(text))
        .filter_map(|sql| view_statement(&sql).map(|(name, _)| name.to_string()))
        .collect()
}

/// Whether `definition` is the SELECT that `queries/` (or `queries/reference/`) defines view
/// `name` as, or, with `Semantics::Window`, the one taking it from its reference.
pub fn defines(name: &str, definition: &str) -> bool {
    definition == format!("SELECT * FROM {name}_window")
        || VIEW_FILES
            .iter()
            .chain(REFERENCE_FILES)
            .flat_map(|(_, text)| split_statements(text))
            .any(|sql| view_statement(&sql).is_some_and(|(n, s)| n == name && s == definition))
}

/// The views of `queries/reference/`: (name, SELECT), in order.
pub fn reference_views() -> Vec<(String, String)> {
    REFERENCE_FILES
        .iter()
        .flat_map(|(_, text)| split_statements(text))
        .filter_map(|sql| view_statement(&sql).map(|(n, s)| (n.to_string(), s.to_string())))
        .collect()
}

/// (fast view, its reference): every `X_window` of `queries/reference/` whose `X` is a view of
/// `queries/`.
pub fn reference_pairs() -> Vec<(String, String)> {
    let names = view_names();
    names
        .iter()
        .filter_map(|r| {
            let fast = r.strip_suffix("_window")?;
            names
                .iter()
                .any(|n| n == fast)
                .then(|| (fast.to_string(), r.clone()))
        })
        .collect()
}

/// `CREATE VIEW name AS select` → (name, select).
fn view_statement(sql: &str) -> Option<(&str, &str)> {
    let rest = sql.trim_start().strip_prefix("CREATE VIEW ")?;
    let (name, rest) = rest.split_once(char::is_whitespace)?;
    let select = rest.trim_start().strip_prefix("AS")?;
    Some((name, select.trim().trim_end_matches(';')))
}

/// The tables registered in `ctx` (the snapshot's, the cache's), with their providers.
pub async fn registered_tables(
    ctx: &SessionContext,
) -> Result<Vec<(String, Arc<dyn datafusion::catalog::TableProvider>)>> {
    Ok(views_schema(ctx)?.registered().await?)
}

/// The session's default schema, which `session` made a [`lazy::Views`].
fn views_schema(ctx: &SessionContext) -> Result<Arc<lazy::Views>> {
    let schema = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .ok_or_else(|| Error::Query("the session has no default schema".into()))?;
    let any: Arc<dyn std::any::Any + Send + Sync> = schema;
    any.downcast::<lazy::Views>()
        .map_err(|_| Error::Query("the default schema is not occlens's view schema".into()))
}

/// Split a file into statements at `;` line ends, dropping comment-only pieces.
fn split_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// A value bound into a fragment of `queries/`, rendered as SQL by its kind: a request's
/// values reach SQL only as integers, dates and escaped string literals.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// An integer literal.
    Int(i64),
    /// Integer literals separated by commas (`IN (${values})`).
    Ints(&'a [i64]),
    /// `DATE 'YYYY-MM-DD'`.
    Date(chrono::NaiveDate),
    /// A string literal, quoted, quotes doubled.
    Str(&'a str),
    /// A table, view or column name of occlens's own (letters, digits and `_` only).
    Name(&'a str),
    /// SQL occlens built from other fragments (a condition, a scope).
    Sql(&'a str),
}

impl Arg<'_> {
    fn render(&self) -> String {
        match self {
            Arg::Int(v) => v.to_string(),
            Arg::Ints(vs) => vs.iter().map(i64::to_string).collect::<Vec<_>>().join(", "),
            Arg::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            Arg::Str(s) => format!("'{}'", s.replace('\'', "''")),
            Arg::Name(n) => {
                assert!(
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{n:?} is not a table, view or column name"
                );
                n.to_string()
            }
            Arg::Sql(s) => s.to_string(),
        }
    }
}

/// The named fragments of every file of `FRAGMENT_FILES`.
pub struct Fragments(HashMap<String, String>);

impl Fragments {
    pub fn load() -> Fragments {
        let mut map = HashMap::new();
        for file in FRAGMENT_FILES {
            Self::parse(file, &mut map);
        }
        Fragments(map)
    }

    fn parse(text: &str, map: &mut HashMap<String, String>) {
        let mut name: Option<String> = None;
        let mut body = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if let Some(n) = trimmed.strip_prefix("-- name:") {
                if let Some(prev) = name.take() {
                    map.insert(prev, std::mem::take(&mut body).trim().to_string());
                }
                name = Some(n.trim().to_string());
                body.clear();
            } else if !trimmed.starts_with("--") && name.is_some() {
                body.push_str(line);
                body.push('\n');
            }
        }
        if let Some(prev) = name {
            map.insert(prev, body.trim().to_string());
        }
    }

    /// The fragment `name` with each `${key}` replaced by its value rendered as SQL, in one
    /// pass over the fragment's own text: a value is never scanned again (a request's text
    /// holding `${…}` stays text). A fragment name or a `${key}` left unbound is a bug of
    /// occlens: a panic naming both (the command line reports it as an internal error), never
    /// SQL with a hole.
    pub fn bind(&self, name: &str, params: &[(&str, Arg)]) -> String {
        let template = self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("queries/ has no fragment {name}"));
        let mut text = String::with_capacity(template.len());
        let mut rest = template.as_str();
        while let Some(at) = rest.find("${") {
            text.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let end = after
                .find('}')
                .unwrap_or_else(|| panic!("fragment {name}: unterminated ${{ at {after:?}"));
            let key = &after[..end];
            let value = params
                .iter()
                .find(|(k, _)| *k == key)
                .unwrap_or_else(|| panic!("fragment {name}: ${{{key}}} is not bound"));
            text.push_str(&value.1.render());
            rest = &after[end + 1..];
        }
        text.push_str(rest);
        text
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fragment_the_code_names_exists() {
        let f = Fragments::load();
        for n in [
            "visible.anonymous",
            "visible.user",
            "project",
            "defaults",
            "id",
            "taxon",
            "algorithm",
            "not_algorithm",
            "order.duration",
            "exists.taxon",
        ] {
            assert!(f.has(n), "{n}");
        }
        assert_eq!(f.bind("id", &[("id", Arg::Int(7))]), "o.id = 7");
    }

    #[test]
    fn arguments_render_by_kind() {
        let date = chrono::NaiveDate::from_ymd_opt(2023, 6, 1).unwrap();
        assert_eq!(Arg::Int(-3).render(), "-3");
        assert_eq!(Arg::Ints(&[1, 2]).render(), "1, 2");
        assert_eq!(Arg::Date(date).render(), "DATE '2023-06-01'");
        assert_eq!(Arg::Str("it's").render(), "'it''s'");
        assert_eq!(Arg::Name("main_taxon").render(), "main_taxon");
        assert!(std::panic::catch_unwind(|| Arg::Name("a; DROP").render()).is_err());
    }

    #[test]
    fn bound_values_are_never_scanned_again() {
        let f = Fragments::load();
        // A request's text holding `${…}` (a search string) stays a string literal.
        let sql = f.bind("event", &[("value", Arg::Str("${value}'${id}"))]);
        assert_eq!(sql, "o.event_id = '${value}''${id}'");
    }

    #[test]
    #[should_panic(expected = "fragment id: ${id} is not bound")]
    fn an_unbound_key_is_a_bug_not_sql() {
        Fragments::load().bind("id", &[]);
    }

    /// Every `.bind("name"` in src/ names a fragment of queries/; every
    /// `.bind(&format!("prefix.{…}")` a prefix some fragment has.
    #[test]
    fn every_fragment_name_in_src_exists() {
        let f = Fragments::load();
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![src];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices(".bind(") {
                let line = &text[text[..at].rfind('\n').map_or(0, |n| n + 1)..at];
                if line.trim_start().starts_with("//") {
                    continue;
                }
                let rest = text[at + 6..].trim_start();
                let (literal, dynamic) = match rest.strip_prefix("&format!(\"") {
                    Some(r) => (r, true),
                    None => match rest.strip_prefix('"') {
                        Some(r) => (r, false),
                        None => continue,
                    },
                };
                let name = &literal[..literal.find('"').unwrap()];
                let fragment_like = |c: char| c.is_ascii_alphanumeric() || "_.{}".contains(c);
                if !name.chars().all(fragment_like) {
                    continue; // this test's own text
                }
                let ok = if dynamic {
                    let prefix = &name[..name.find('{').unwrap_or(name.len())];
                    f.0.keys().any(|k| k.starts_with(prefix))
                } else {
                    f.has(name)
                };
                assert!(ok, "{}: no fragment {name}", path.display());
                checked += 1;
            }
        }
        assert!(checked > 25, "{checked}");
    }

    #[test]
    fn every_statement_of_queries_is_a_view() {
        let names = view_names();
        assert!(names.len() > 30, "{names:?}");
        for name in ["occurrence_list", "taxon_ancestry", "best_prediction"] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        let pairs: Vec<String> = reference_pairs().into_iter().map(|(f, _)| f).collect();
        for fast in [
            "best_prediction",
            "prediction_candidates",
            "best_prediction_s",
            "export_csv_choice",
            "best_identification",
            "cover_image",
            "audit_determination",
        ] {
            assert!(pairs.iter().any(|p| p == fast), "no reference for {fast}");
        }
        assert_eq!(
            view_statement("CREATE VIEW a AS\nSELECT 1;"),
            Some(("a", "SELECT 1"))
        );
    }

    #[test]
    fn statements_split_on_semicolons() {
        let s = split_statements("-- c\nCREATE VIEW a AS\nSELECT 1;\nCREATE VIEW b AS SELECT 2;\n");
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE VIEW a"));
    }
}
