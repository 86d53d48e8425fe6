//! `occlens check`: validate a whole snapshot beyond what opening it checks (the contract's
//! tables, columns and types): keys unique, NOT NULL columns without NULLs, the references the
//! views join on resolved, and every file the manifest lists present with its size and
//! SHA-256. The rules are the fragments of `queries/check.sql`.

use crate::error::{Error, Result};
use crate::snapshot::contract;
use crate::views::rows::{to_rows, RowExt};
use crate::views::Engine;
use futures::StreamExt;
use sha2::{Digest, Sha256};

/// One rule checked on one table (or file), and how many rows (or files) break it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `unique`, `not_null`, `foreign_key`, `manifest`.
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

async fn one(engine: &Engine, sql: &str) -> Result<(u64, Option<String>)> {
    let batches = engine.ctx.sql(sql).await?.collect().await?;
    let rows = to_rows(&batches)?;
    let row = rows.first();
    let bad = row.and_then(|r| r.i64("bad")).unwrap_or(0).max(0) as u64;
    let example = row.and_then(|r| r.str("example")).map(String::from);
    Ok((bad, example))
}

/// Run every check of `queries/check.sql` and of the manifest.
pub async fn check(engine: &Engine) -> Result<Vec<Finding>> {
    let f = engine.fragments();
    let mut out = Vec::new();
    for t in &engine.snapshot.tables {
        let Some(table) = contract::table(t.name) else {
            continue;
        };
        let present = |c: &str| t.schema.field_with_name(c).is_ok();
        if present("id") {
            let sql = f.bind("check.unique", &[("table", t.name), ("column", "id")]);
            let (bad, example) = one(engine, &sql).await?;
            out.push(Finding {
                rule: "unique",
                subject: format!("{}.id", t.name),
                bad,
                example,
            });
        }
        for c in table.columns.iter().filter(|c| !c.nullable && present(c.name)) {
            let sql = f.bind("check.not_null", &[("table", t.name), ("column", c.name)]);
            let (bad, example) = one(engine, &sql).await?;
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
            &[("table", child), ("column", column), ("parent", parent)],
        );
        let (bad, example) = one(engine, &sql).await?;
        out.push(Finding {
            rule: "foreign_key",
            subject: format!("{child}.{column} -> {parent}.id"),
            bad,
            example,
        });
    }
    out.extend(manifest_files(engine).await?);
    Ok(out)
}

/// Every file the manifest lists: present, of the listed size, with the listed SHA-256.
async fn manifest_files(engine: &Engine) -> Result<Vec<Finding>> {
    let Some(manifest) = &engine.snapshot.manifest else {
        return Ok(Vec::new());
    };
    let base = &engine.snapshot.base;
    let store_url = datafusion::execution::object_store::ObjectStoreUrl::parse(
        &base[..url::Position::BeforePath],
    )?;
    let store = engine.ctx.runtime_env().object_store(&store_url)?;
    let root = object_store::path::Path::from_url_path(base.path()).unwrap_or_default();
    let mut out = Vec::new();
    let files = manifest["tables"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["files"].as_array().into_iter().flatten());
    for file in files {
        let Some(rel) = file["path"].as_str() else {
            continue;
        };
        let problem = match verify_file(store.as_ref(), &root, rel, file).await {
            Ok(()) => None,
            Err(why) => Some(why),
        };
        out.push(Finding {
            rule: "manifest",
            subject: rel.to_string(),
            bad: u64::from(problem.is_some()),
            example: problem,
        });
    }
    Ok(out)
}

async fn verify_file(
    store: &dyn object_store::ObjectStore,
    root: &object_store::path::Path,
    rel: &str,
    expected: &serde_json::Value,
) -> std::result::Result<(), String> {
    use object_store::ObjectStoreExt;
    if rel.split('/').any(|p| p.is_empty() || p == "..") {
        return Err("not a path inside the snapshot".into());
    }
    let path = rel.split('/').fold(root.clone(), |p, part| p.join(part));
    let got = store.get(&path).await.map_err(|e| match e {
        object_store::Error::NotFound { .. } => "missing".to_string(),
        e => crate::error::one_line(&e.to_string()),
    })?;
    let size = got.meta.size;
    if let Some(bytes) = expected["bytes"].as_u64() {
        if bytes != size {
            return Err(format!("{size} bytes, the manifest says {bytes}"));
        }
    }
    let Some(sum) = expected["sha256"].as_str() else {
        return Ok(());
    };
    let mut h = Sha256::new();
    let mut stream = got.into_stream();
    while let Some(chunk) = stream.next().await {
        h.update(chunk.map_err(|e| e.to_string())?);
    }
    let found = format!("{:x}", h.finalize());
    if found == sum {
        Ok(())
    } else {
        Err(format!("SHA-256 {found}, the manifest says {sum}"))
    }
}

/// A one-line error for callers that want the first failure only.
pub fn first_failure(findings: &[Finding]) -> Option<Error> {
    findings.iter().find(|f| !f.ok()).map(|f| {
        Error::Usage(format!(
            "{} {}: {} bad{}",
            f.rule,
            f.subject,
            f.bad,
            f.example
                .as_ref()
                .map(|e| format!(" (e.g. {e})"))
                .unwrap_or_default()
        ))
    })
}
