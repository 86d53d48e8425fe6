//! `occlens check`: validate a whole snapshot beyond what opening it checks (the contract's
//! tables, columns and types): keys unique, jsonb columns JSON, NOT NULL columns without
//! NULLs, the references the views join on resolved, every file the manifest lists present
//! with its SHA-256 and row count, and every page of every file decodable. The rules are the
//! fragments of `queries/check.sql`.

use crate::engine::catalog::Arg::Name;
use crate::engine::rows::{to_rows, RowExt};
use crate::engine::Engine;
use crate::error::Result;
use crate::snapshot::contract;

/// One rule checked on one table (or file), and how many rows (or files) break it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `unique`, `json`, `not_null`, `foreign_key`, `instants`, `integers`,
    /// `manifest_sha256`, `manifest_rows`, `manifest_files`, `decode_pages`, `cache_sha256`.
    pub rule: &'static str,
    /// `table.column` (or `table.column -> parent.id`, or the file's path).
    pub subject: String,
    pub bad: u64,
    /// One offending value, or what is wrong with a file.
    pub example: Option<String>,
}

impl Finding {
    pub fn ok(&self) -> bool {
        self.bad == 0
    }
}

/// One rule's statement run: how many rows break it and one example; and whether it could
/// not run, which is then one bad row with the reader's error (secrets removed) as the
/// example, so that a column the reader refuses is a finding naming it, not the end of
/// `check`.
async fn one(engine: &Engine, sql: &str) -> (u64, Option<String>, bool) {
    // DataFusion's own message: occlens's advice to run `check` (the `Error::Query` hint)
    // does not belong in check's report.
    let failed = |text: String| {
        let text = crate::error::one_line(&text);
        (1, Some(crate::redact::redact(&text)), true)
    };
    let run = async { engine.ctx.sql(sql).await?.collect().await };
    let batches = match run.await {
        Ok(batches) => batches,
        Err(e) => return failed(e.to_string()),
    };
    match to_rows(&batches) {
        Ok(rows) => {
            let row = rows.first();
            let bad = row.and_then(|r| r.i64("bad")).unwrap_or(0).max(0) as u64;
            let example = row.and_then(|r| r.str("example")).map(String::from);
            (bad, example, false)
        }
        Err(e) => failed(e.to_string()),
    }
}

/// Run every check of `queries/check.sql` and of the manifest.
pub async fn check(engine: &Engine) -> Result<Vec<Finding>> {
    // Every byte first: the files the manifest lists against their SHA-256, then every page
    // decoded. A damaged page otherwise surfaces only when a query reaches it, naming no file:
    // with one, the row rules (which would fail on it) are not run.
    let snapshot = &engine.snapshot;
    let mut bytes = Vec::new();
    for (rule, problems) in [
        ("manifest_sha256", snapshot.verify_checksums().await?),
        ("manifest_rows", snapshot.verify_row_counts().await?),
        ("manifest_files", snapshot.unlisted_files().await?),
        ("decode_pages", snapshot.decode_files().await),
    ] {
        bytes.push(Finding {
            rule,
            subject: if rule == "decode_pages" {
                "every file".into()
            } else {
                "_snapshot.json".into()
            },
            bad: problems.len() as u64,
            example: problems.into_iter().next(),
        });
    }
    let damaged = bytes.iter().any(|b| b.rule == "decode_pages" && !b.ok());
    // Then every timestamp and integer column read: one that cannot be (its instants overflow
    // microseconds, a value does not fit its type) fails every row rule that reads it, naming
    // nothing.
    let (instants, unreadable) = match damaged {
        true => (Vec::new(), false),
        false => readable(engine).await,
    };
    let mut out = match damaged || unreadable {
        true => Vec::new(),
        false => rows(engine).await?,
    };
    out.extend(instants);
    out.extend(bytes);
    // The cache entry this snapshot's answers come from, against its marker's checksums.
    let project_entries = engine.project_entries();
    let projects = project_entries
        .iter()
        .map(|(p, dir)| (crate::engine::cache::Part::Lists, Some(*p), dir));
    let entries = engine.cache.iter().map(|(part, dir)| (*part, None, dir));
    for (part, project, dir) in entries.chain(projects) {
        let why = match crate::engine::cache::inspect(dir, part, project, true) {
            crate::engine::cache::Entry::Damaged(why) => {
                Some(format!("{why} (--cache refresh rebuilds it)"))
            }
            _ => None,
        };
        out.push(Finding {
            rule: "cache_sha256",
            subject: dir.display().to_string(),
            bad: u64::from(why.is_some()),
            example: why,
        });
    }
    Ok(out)
}

/// `check.instants` on every timestamp column of the contract, `check.integers` on every
/// integer column (stored as another type, or as different types by a table's parts): a
/// column whose values cannot be read is a finding naming it, with the reader's error. Also
/// whether some column could not be read (the row rules, which may read it, are then not
/// run).
async fn readable(engine: &Engine) -> (Vec<Finding>, bool) {
    use contract::Kind;
    let f = engine.fragments();
    let (mut out, mut unreadable) = (Vec::new(), false);
    for t in &engine.snapshot.tables {
        let Some(table) = contract::table(t.name) else {
            continue;
        };
        let columns = table.columns.iter().filter_map(|c| {
            let rule = match c.kind {
                Kind::Ts => "instants",
                Kind::I32 | Kind::I64 => "integers",
                _ => return None,
            };
            t.schema
                .field_with_name(c.name)
                .is_ok()
                .then_some((c, rule))
        });
        for (c, rule) in columns {
            let sql = f.bind(
                &format!("check.{rule}"),
                &[("table", Name(t.name)), ("column", Name(c.name))],
            );
            let (bad, example, failed) = one(engine, &sql).await;
            unreadable |= failed;
            // What the statement read when nothing is wrong is no example.
            let example = example.filter(|_| bad > 0);
            out.push(Finding {
                rule,
                subject: format!("{}.{}", t.name, c.name),
                bad,
                example,
            });
        }
    }
    (out, unreadable)
}

/// The row rules of `queries/check.sql`: keys, jsonb columns, taxa's parents, NOT NULL
/// columns, references.
async fn rows(engine: &Engine) -> Result<Vec<Finding>> {
    let f = engine.fragments();
    let mut out = Vec::new();
    for t in &engine.snapshot.tables {
        let Some(table) = contract::table(t.name) else {
            continue;
        };
        let present = |c: &str| t.schema.field_with_name(c).is_ok();
        if present("id") {
            let sql = f.bind(
                "check.unique",
                &[("table", Name(t.name)), ("column", Name("id"))],
            );
            let (bad, example, _) = one(engine, &sql).await;
            out.push(Finding {
                rule: "unique",
                subject: format!("{}.id", t.name),
                bad,
                example,
            });
        }
        for c in table
            .columns
            .iter()
            .filter(|c| c.kind == contract::Kind::Json && present(c.name))
        {
            let sql = f.bind(
                "check.json",
                &[("table", Name(t.name)), ("column", Name(c.name))],
            );
            let (bad, example, _) = one(engine, &sql).await;
            out.push(Finding {
                rule: "json",
                subject: format!("{}.{}", t.name, c.name),
                bad,
                example,
            });
        }
        if t.name == "main_taxon" && present("parents_json") {
            let (bad, example, _) = one(engine, &f.bind("check.parents", &[])).await;
            out.push(Finding {
                rule: "parents",
                subject: "main_taxon.parents_json".into(),
                bad,
                example,
            });
        }
        for c in table
            .columns
            .iter()
            .filter(|c| !c.nullable && present(c.name))
        {
            let sql = f.bind(
                "check.not_null",
                &[("table", Name(t.name)), ("column", Name(c.name))],
            );
            let (bad, example, _) = one(engine, &sql).await;
            out.push(Finding {
                rule: "not_null",
                subject: format!("{}.{}", t.name, c.name),
                bad,
                example,
            });
        }
    }
    let references = engine
        .ctx
        .sql(&f.bind("check.references", &[]))
        .await?
        .collect()
        .await?;
    for r in to_rows(&references)? {
        let (Some(child), Some(column), Some(parent)) =
            (r.str("child"), r.str("child_column"), r.str("parent"))
        else {
            continue;
        };
        let sql = f.bind(
            "check.foreign_key",
            &[
                ("table", Name(child)),
                ("column", Name(column)),
                ("parent", Name(parent)),
            ],
        );
        let (bad, example, _) = one(engine, &sql).await;
        out.push(Finding {
            rule: "foreign_key",
            subject: format!("{child}.{column} -> {parent}.id"),
            bad,
            example,
        });
    }
    Ok(out)
}
