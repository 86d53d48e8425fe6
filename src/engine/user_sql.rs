//! SQL typed by a user (`occlens sql`): read-only unless asked. DataFusion's `SQLOptions`
//! refuse DDL (CREATE …), DML (INSERT …, COPY … TO) and statements before anything runs;
//! `allow_write` opts in to COPY … TO a path the user names and to DDL. INSERT/UPDATE/DELETE
//! are refused either way: the snapshot's tables are never written. A COPY to one local file
//! (or folder) writes a hidden temporary beside it, renamed into place when the statement
//! completes; a COPY to a URL (`s3://`, `http://`, …) is refused, and so is EXPLAIN ANALYZE of a
//! COPY or an INSERT (it would run them).

use crate::error::{Error, Result};
use datafusion::common::tree_node::TreeNode;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{LogicalPlan, ResetVariable, SetVariable, Statement};
use datafusion::prelude::SessionContext;

/// A planned statement, and for a COPY to one local file the temporary it writes.
pub struct UserSql {
    pub df: DataFrame,
    pub copy: Option<CopyTarget>,
    /// On a cluster, the statement cut into range jobs (`range_jobs`), when it can be.
    jobs: Option<crate::engine::range_jobs::RangeJobs>,
}

impl UserSql {
    /// The plan to run: the range jobs' rows in order, or the statement's own plan.
    pub async fn physical_plan(
        &mut self,
    ) -> Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        match self.jobs.take() {
            Some(jobs) => jobs.physical_plan().await,
            None => Ok(self.df.clone().create_physical_plan().await?),
        }
    }
}

/// Where a COPY writes (`temp`) and the file it becomes (`dest`) once complete.
pub struct CopyTarget {
    temp: crate::staging::Temp,
    dest: std::path::PathBuf,
    folder: bool,
}

impl CopyTarget {
    /// The statement completed: the temporary becomes `dest` (never over a file created
    /// meanwhile). Dropped instead (an error, a cancel), the temporary is removed.
    pub fn publish(self) -> Result<()> {
        if !self.folder {
            return crate::staging::publish_file(self.temp, &self.dest, false);
        }
        // A statement that wrote no file leaves no folder: nothing to publish.
        if !self.temp.path().exists() {
            return Ok(());
        }
        crate::staging::publish_new_dir(self.temp, &self.dest)
    }
}

/// The most operators (`+ - * / % || = < > …`, AND, OR) one statement may hold: a chain of a
/// million `1+1+…` overflowed even the planner's 512 MiB stack (an abort), and planning time
/// grows with the square of a chain's length (release build, 2026-12-05: 2,000 terms 3.5 s,
/// 4,000 terms 14 s, 8,000 terms 55 s; 2,000 `id = … OR` terms, 4,000 operators, 1 s).
const MAX_OPERATORS: usize = 4_000;

/// Refuse a statement longer than [`MAX_OPERATORS`] before it is parsed into a tree (the
/// tokenizer reads the text in one pass; a text it cannot read is left to the parser's
/// message).
fn operators_within_bound(sql: &str) -> Result<()> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(());
    };
    let operators = tokens
        .iter()
        .filter(|t| match t {
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret
            | Token::ShiftLeft
            | Token::ShiftRight => true,
            Token::Word(w) => matches!(w.keyword, Keyword::AND | Keyword::OR),
            _ => false,
        })
        .count();
    if operators > MAX_OPERATORS {
        return Err(Error::Usage(format!(
            "the statement holds {operators} operators; occlens plans at most {MAX_OPERATORS} in one statement (a longer chain of terms outgrows the planner's stack): write a long list as IN (…) or a VALUES table"
        )));
    }
    Ok(())
}

/// Plan `sql` under the read-only rules, ready to run.
pub async fn user_sql(ctx: &SessionContext, sql: &str, allow_write: bool) -> Result<UserSql> {
    let options = SQLOptions::new()
        .with_allow_ddl(allow_write)
        .with_allow_dml(allow_write)
        .with_allow_statements(true);
    operators_within_bound(sql)?;
    let state = ctx.state();
    let plan = match state.create_logical_plan(sql).await {
        Ok(plan) => plan,
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = options.verify_plan(&plan) {
        let what = Error::from(e);
        return Err(Error::Usage(format!(
            "{}; occlens sql is read-only unless --allow-write is given",
            what.to_string().trim_start_matches("query failed: ")
        )));
    }
    // The runtime's settings (the memory pool's size, the spill directory and its bound) are
    // the command line's (--memory-limit, TMPDIR): a statement does not lift them.
    let set = match &plan {
        LogicalPlan::Statement(Statement::SetVariable(SetVariable { variable, .. })) => {
            Some(("SET", variable))
        }
        LogicalPlan::Statement(Statement::ResetVariable(ResetVariable { variable })) => {
            Some(("RESET", variable))
        }
        _ => None,
    };
    if let Some((verb, variable)) = set {
        if variable.eq_ignore_ascii_case("ballista.planner.adaptive.enabled") {
            return Err(Error::Usage(format!(
                "{verb} {variable}: refused: on a cluster occlens runs Ballista's adaptive planner only (its static planner lost rows of an ORDER BY)"
            )));
        }
        if variable
            .to_ascii_lowercase()
            .starts_with("datafusion.runtime.")
        {
            return Err(Error::Usage(format!(
                "{verb} {variable}: occlens sets the runtime's limits from its command line (--memory-limit, TMPDIR), not from a statement"
            )));
        }
    }
    // EXPLAIN ANALYZE runs the statement it explains: a COPY or an INSERT under it would
    // write without the checks below (they look at the statement itself).
    if matches!(plan, LogicalPlan::Analyze(_))
        && plan
            .exists(|p| Ok(matches!(p, LogicalPlan::Copy(_) | LogicalPlan::Dml(_))))
            .unwrap_or(true)
    {
        return Err(Error::Usage(
            "EXPLAIN ANALYZE of a COPY or an INSERT would run it unchecked; run the COPY itself (EXPLAIN without ANALYZE shows its plan)".into(),
        ));
    }
    let mut target = None;
    if let LogicalPlan::Copy(copy) = &plan {
        // COPY … TO a new local file only: never over an existing one, never into the snapshot.
        let url = &copy.output_url;
        // An object store's or a web server's object could not be checked and written in one
        // step (DataFusion's COPY replaces whatever is there, the snapshot's own files
        // included): COPY writes local files only.
        // DataFusion reads any `word:…` as a URL (`file:x.csv` is `/x.csv`), so a target
        // such as `list-10:30.csv` is refused rather than checked as one file and written
        // as another.
        let path = match url::Url::parse(url) {
            Ok(u) if u.scheme() == "file" && url.starts_with("file://") => {
                u.to_file_path().map_err(|_| {
                    Error::Usage(format!("COPY … TO '{url}': not a local path"))
                })?
            }
            Ok(u) if u.scheme().len() > 1 && !url.contains("://") => {
                return Err(Error::Usage(format!(
                    "COPY … TO '{}': read as a {}: URL; name a local path (./{0}) or a file:// URL",
                    crate::redact::redact(url),
                    u.scheme()
                )))
            }
            Ok(u) if u.scheme().len() > 1 => {
                return Err(Error::Usage(format!(
                    "COPY … TO '{}': occlens's COPY writes local files only, never {}:// objects (it could replace an existing one); write a local file, or use occlens export --out for an object store",
                    crate::redact::redact(url),
                    u.scheme()
                )))
            }
            _ => std::path::PathBuf::from(url),
        };
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(Error::Usage(format!(
                "COPY … TO '{url}': exists; occlens does not replace files (remove it first or choose another name)"
            )));
        }
        crate::staging::unprotected_as("COPY … TO", &path)?;
        // Its folder must be there (a file in its place failed in DataFusion's "Internal
        // error … finalizing writes").
        if let Some(why) = crate::staging::missing_folder(&path) {
            return Err(Error::Usage(format!(
                "COPY … TO '{}': {why}",
                crate::redact::redact(url)
            )));
        }
        // Written to a hidden sibling first, so that a statement that fails midway leaves
        // nothing under the name: one file (an extension, no partitions), or a folder of
        // files (no extension, a trailing `/`, or partitions), which DataFusion writes when
        // the URL ends with `/`.
        let one_file =
            copy.partition_by.is_empty() && path.extension().is_some() && !url.ends_with('/');
        let temp = crate::staging::Temp::sibling_of(&path, "copy");
        let mut staged = copy.clone();
        staged.output_url = temp.path().to_string_lossy().to_string();
        if !one_file {
            staged.output_url.push('/');
        }
        target = Some((
            LogicalPlan::Copy(staged),
            CopyTarget {
                temp,
                dest: path,
                folder: !one_file,
            },
        ));
    }
    let (plan, copy) = match target {
        Some((staged, copy)) => (staged, Some(copy)),
        None => (plan, None),
    };
    if let LogicalPlan::Dml(dml) = &plan {
        return Err(Error::Usage(format!(
            "{} into {}: occlens never writes into a snapshot (use COPY (SELECT …) TO 'file' with --allow-write)",
            dml.op, dml.table_name
        )));
    }
    // On a cluster a row-wise statement over an occurrence view runs as range jobs
    // (`range_jobs`); any other that joins or windows runs as one stage (`cluster::one_stage`).
    let remote = crate::engine::catalog::is_remote();
    let jobs = match remote && copy.is_none() {
        true => crate::engine::range_jobs::split(ctx, &plan, "TRUE").await?,
        false => None,
    };
    let df = ctx.execute_logical_plan(plan).await?;
    Ok(UserSql { df, copy, jobs })
}
