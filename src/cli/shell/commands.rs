//! The backslash commands of the shell and scripts, as in datafusion-cli: `\d`, `\d NAME`,
//! `\?`, `\timing`, `\format`, `\maxrows`, `\q`.

use super::{Flow, MaxRows, Session};
use crate::cli::table::TableFormat;
use clap::ValueEnum as _;
use datafusion::arrow::array::{ArrayRef, StringArray, UInt64Array};
use datafusion::arrow::record_batch::RecordBatch;
use occlens::engine::catalog::{view_names, REFERENCE_FILES, VIEW_FILES};
use occlens::{Error, Result};
use std::sync::Arc;

const HELP: &str = "\
Statements end with ';' and may span lines. Ctrl-C cancels the running statement (at the
prompt: clears the line); Ctrl-D quits.

  \\d                  tables (with row counts) and views
  \\d NAME             columns and types of a table or view; a view's SQL from queries/
  \\timing [on|off]    print the time each statement takes (on in the shell)
  \\format [FORMAT]    output format: table, csv, json, ndjson or markdown
  \\maxrows [N|inf]    rows the table format shows (40 in the shell)
  \\?                  this help
  \\q                  quit

Read-only unless occlens sql --allow-write. EXPLAIN [ANALYZE] shows a statement's plan.";

/// Run one backslash command line.
pub async fn run(session: &mut Session<'_>, line: &str) -> Result<Flow> {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let arg = words.next();
    if words.next().is_some() {
        return Err(Error::Usage(format!(
            "{line}: too many arguments; \\? lists the commands"
        )));
    }
    match (command, arg) {
        ("\\q" | "\\quit", None) => return Ok(Flow::Quit),
        ("\\?" | "\\h" | "\\help", None) => super::super::outln!("{HELP}")?,
        ("\\d", None) => list(session).await?,
        ("\\d", Some(name)) => describe(session, name).await?,
        ("\\timing", arg) => {
            session.timing = match arg {
                None => !session.timing,
                Some("on") => true,
                Some("off") => false,
                Some(a) => return Err(Error::Usage(format!("\\timing {a}: expected on or off"))),
            };
            eprintln!("Timing is {}.", if session.timing { "on" } else { "off" });
        }
        ("\\format", None) => {
            let name = session
                .format
                .to_possible_value()
                .map(|v| v.get_name().to_string());
            super::super::outln!("Output format is {}.", name.unwrap_or_default())?;
        }
        ("\\format", Some(f)) => {
            session.format = TableFormat::from_str(f, true).map_err(|_| {
                Error::Usage(format!(
                    "\\format {f}: expected table, csv, json, ndjson or markdown"
                ))
            })?;
        }
        ("\\maxrows", None) => match session.maxrows {
            Some(n) => super::super::outln!("The table format shows at most {n} rows.")?,
            None => super::super::outln!("The table format shows every row.")?,
        },
        ("\\maxrows", Some(n)) => {
            // Named as typed (`\maxrows -1: expected …`), as --maxrows's error names the flag.
            session.maxrows = n
                .parse::<MaxRows>()
                .map_err(|e| Error::Usage(format!("\\maxrows {e}")))?
                .0;
        }
        _ => {
            return Err(Error::Usage(format!(
                "{line}: unknown command; \\? lists the commands"
            )))
        }
    }
    Ok(Flow::Continue)
}

/// `\d`: the snapshot's tables with their row counts, the views of queries/, and whatever
/// else the session defines (CREATE … with --allow-write).
async fn list(session: &Session<'_>) -> Result<()> {
    let engine = session.engine;
    let ctx = &engine.ctx;
    let schema = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .ok_or_else(|| Error::Query("no default schema".into()))?;
    let views = view_names();
    let mut names: Vec<String> = engine
        .snapshot
        .tables
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.extend(views.iter().cloned());
    let mut others: Vec<String> = schema
        .table_names()
        .into_iter()
        .filter(|n| !names.contains(n))
        .collect();
    others.sort();
    names.extend(others);
    let mut kinds = Vec::new();
    let mut rows = Vec::new();
    for name in &names {
        let is_view =
            views.contains(name) && !engine.snapshot.tables.iter().any(|t| t.name == name);
        let kind = if is_view {
            "view"
        } else {
            match schema.table(name).await? {
                Some(t) if t.table_type() == datafusion::datasource::TableType::View => "view",
                _ => "table",
            }
        };
        // Counted for tables only: DataFusion answers count(*) from Parquet metadata.
        rows.push(if kind == "table" {
            count(session, name).await?
        } else {
            None
        });
        kinds.push(kind);
    }
    let batch = RecordBatch::try_from_iter([
        (
            "table_name",
            Arc::new(StringArray::from_iter_values(&names)) as ArrayRef,
        ),
        (
            "table_type",
            Arc::new(StringArray::from_iter_values(kinds)) as ArrayRef,
        ),
        ("rows", Arc::new(UInt64Array::from(rows)) as ArrayRef),
    ])?;
    session.print_all(&[batch])
}

/// The rows of table `name`.
async fn count(session: &Session<'_>, name: &str) -> Result<Option<u64>> {
    let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
    let batches = session.engine.ctx.sql(&sql).await?.collect().await?;
    Ok(batches.first().filter(|b| b.num_rows() > 0).and_then(|b| {
        b.column(0)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .map(|a| a.value(0) as u64)
    }))
}

/// `\d NAME`: the columns of a table or view; for a view of queries/, its definition.
async fn describe(session: &Session<'_>, name: &str) -> Result<()> {
    let df = session.engine.ctx.table(name).await?;
    let fields = df.schema().fields();
    let batch = RecordBatch::try_from_iter([
        (
            "column_name",
            Arc::new(StringArray::from_iter_values(
                fields.iter().map(|f| f.name().as_str()),
            )) as ArrayRef,
        ),
        (
            "data_type",
            Arc::new(StringArray::from_iter_values(
                fields.iter().map(|f| f.data_type().to_string()),
            )) as ArrayRef,
        ),
        (
            "is_nullable",
            Arc::new(StringArray::from_iter_values(fields.iter().map(|f| {
                if f.is_nullable() {
                    "YES"
                } else {
                    "NO"
                }
            }))) as ArrayRef,
        ),
    ])?;
    session.print_all(&[batch])?;
    // Unquoted names are folded to lower case, as DataFusion folds them.
    let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.to_string(),
        None => name.to_lowercase(),
    };
    let is_table = session
        .engine
        .snapshot
        .tables
        .iter()
        .any(|t| t.name == name);
    if let Some((file, sql)) = view_sql(&name).filter(|_| !is_table) {
        super::super::outln!("\nView {name}, defined in queries/{file}:\n{sql}")?;
    }
    Ok(())
}

/// The `CREATE VIEW name AS …;` statement of queries/ that defines `name`, with the comment
/// lines right above it.
fn view_sql(name: &str) -> Option<(&'static str, String)> {
    for (file, text) in VIEW_FILES.iter().chain(REFERENCE_FILES) {
        let lines: Vec<&str> = text.lines().collect();
        let defines = |l: &&str| {
            l.trim_start()
                .strip_prefix("CREATE VIEW ")
                .and_then(|r| r.split_whitespace().next())
                == Some(name)
        };
        let Some(at) = lines.iter().position(defines) else {
            continue;
        };
        let mut begin = at;
        while begin > 0 && lines[begin - 1].trim_start().starts_with("--") {
            begin -= 1;
        }
        let end = (at..lines.len())
            .find(|&i| {
                let l = lines[i].trim();
                l.ends_with(';') && !l.starts_with("--")
            })
            .unwrap_or(lines.len() - 1);
        return Some((file, lines[begin..=end].join("\n")));
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn view_sql_is_found_with_its_comments() {
        let (file, sql) = super::view_sql("occurrence_list").unwrap();
        assert_eq!(file, "05_occurrences.sql");
        assert!(sql.starts_with("-- "), "{sql}");
        assert!(sql.contains("CREATE VIEW occurrence_list AS"), "{sql}");
        assert!(sql.trim_end().ends_with(';'), "{sql}");
        assert!(super::view_sql("nope").is_none());
    }
}
