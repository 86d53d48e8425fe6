//! What every answer computed from the snapshot's tables relies on: the key
//! `main_occurrence.id` NOT NULL and unique (`check.keys` of `queries/check.sql`), no NULL
//! in a NOT NULL column the views read (`check.nulls`), and every taxon's parents a list of
//! parents (`check.parents`). A snapshot that breaks any of them is
//! refused, with the same message whether the cache build or an answer finds it; `occlens
//! check` reports every broken rule, and `sql`, `tables`, `check` and `audit` still read it.

use crate::engine::catalog::{
    Arg::{Name, Sql},
    Fragments,
};
use crate::engine::rows::{to_rows, RowExt};
use crate::engine::{cache::Part, Engine};
use crate::error::{Error, Result};
use crate::snapshot::contract;
use datafusion::prelude::SessionContext;

/// The table and column of the key.
const TABLE: &str = "main_occurrence";
const COLUMN: &str = "id";

/// The error for `nulls` NULL ids and `repeats` ids repeating another row's, if any.
fn verdict(nulls: i64, repeats: i64) -> Result<()> {
    let why = if nulls > 0 {
        format!("{nulls} rows have a NULL id (the contract says NOT NULL)")
    } else if repeats > 0 {
        format!("{repeats} rows repeat an id of another row (ids must be unique)")
    } else {
        return Ok(());
    };
    Err(Error::Snapshot {
        location: TABLE.into(),
        message: format!("{why}; `occlens check` reports every broken rule"),
    })
}

/// Check the key, then the NOT NULL columns, then the taxa's parents, over `ctx`'s snapshot
/// tables. The three statements run at once (one is planned while another's scans run); a
/// broken rule is reported in that order whichever statement ends first, and a broken key
/// as soon as it is found (the other statements dropped): an export computed beside the
/// check (`occlens export`) is stopped before its joins multiply the repeated rows.
pub async fn check(ctx: &SessionContext) -> Result<()> {
    let started = std::time::Instant::now();
    let fragments = Fragments::load();
    let keys = keys(ctx, &fragments);
    let rest = async {
        let (nulls, parents) = tokio::join!(not_null(ctx, &fragments), parents(ctx, &fragments));
        nulls.and(parents)
    };
    tokio::pin!(keys, rest);
    let checked = tokio::select! {
        biased;
        k = &mut keys => match k {
            Ok(()) => rest.await,
            broken => broken,
        },
        r = &mut rest => keys.await.and(r),
    };
    crate::engine::statements::trace("(the key check: keys, NOT NULL columns, parents)", started);
    checked
}

/// `check.keys`: the key NOT NULL and unique.
async fn keys(ctx: &SessionContext, fragments: &Fragments) -> Result<()> {
    let sql = fragments.bind(
        "check.keys",
        &[("table", Name(TABLE)), ("column", Name(COLUMN))],
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let rows = to_rows(&batches)?;
    let row = rows.first();
    let count = |k: &str| row.and_then(|r| r.i64(k)).unwrap_or(0);
    verdict(count("nulls"), count("repeats"))
}

/// `check.parents`: every `main_taxon.parents_json` a list of parents.
async fn parents(ctx: &SessionContext, fragments: &Fragments) -> Result<()> {
    let batches = ctx
        .sql(&fragments.bind("check.parents", &[]))
        .await?
        .collect()
        .await?;
    let rows = to_rows(&batches)?;
    let Some(row) = rows.first().filter(|r| r.i64("bad").unwrap_or(0) > 0) else {
        return Ok(());
    };
    Err(Error::Snapshot {
        location: "main_taxon".into(),
        message: format!(
            "parents_json of {} rows is not a list of parents (objects with an integer id, text name and rank; taxon {} the first); `occlens check` reports every broken rule",
            row.i64("bad").unwrap_or(0),
            row.str("example").unwrap_or("?")
        ),
    })
}

/// Where `table`'s NOT NULL columns are counted: its files as stored (`<table>__stored`) when
/// occlens reads some of its columns through a conversion (their NULLs are the same, and a
/// filter on a converted column could not use the files' statistics), else the table; with
/// the contract's NOT NULL columns that the views read and the table holds.
async fn not_null_columns(
    ctx: &SessionContext,
    table: &contract::Table,
) -> Option<(String, Vec<&'static str>)> {
    let stored = crate::snapshot::types::stored_name(table.name);
    let name = match ctx.table_exist(stored.as_str()) {
        Ok(true) => stored,
        _ => table.name.to_string(),
    };
    let schema = ctx.table_provider(name.as_str()).await.ok()?.schema();
    let columns: Vec<&'static str> = table
        .columns
        .iter()
        .filter(|c| !c.nullable && c.used && schema.field_with_name(c.name).is_ok())
        .map(|c| c.name)
        .collect();
    (!columns.is_empty()).then_some((name, columns))
}

/// `check.nulls`: one statement counting every table's rows with a NULL in a NOT NULL column
/// (one job on a cluster); for the first table in the contract's order that has some, the
/// columns that hold them, named in the error.
async fn not_null(ctx: &SessionContext, fragments: &Fragments) -> Result<()> {
    let mut tables = Vec::new();
    for table in contract::TABLES {
        if let Some((name, columns)) = not_null_columns(ctx, table).await {
            tables.push((table.name, name, columns));
        }
    }
    if tables.is_empty() {
        return Ok(());
    }
    let counts = tables
        .iter()
        .map(|(label, name, columns)| {
            let condition = columns
                .iter()
                .map(|c| format!("\"{c}\" IS NULL"))
                .collect::<Vec<_>>()
                .join(" OR ");
            format!("(SELECT CAST(count(*) AS BIGINT) FROM \"{name}\" WHERE {condition}) AS \"{label}\"")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = fragments.bind("check.nulls", &[("counts", Sql(&counts))]);
    let batches = ctx.sql(&sql).await?.collect().await?;
    let rows = to_rows(&batches)?;
    let Some(row) = rows.first() else {
        return Ok(());
    };
    let Some((label, name, columns)) = tables
        .iter()
        .find(|(label, _, _)| row.i64(label).unwrap_or(0) > 0)
    else {
        return Ok(());
    };
    let mut found = Vec::new();
    for c in columns {
        let sql = fragments.bind(
            "check.not_null",
            &[("table", Name(name)), ("column", Name(c))],
        );
        let batches = ctx.sql(&sql).await?.collect().await?;
        let n = to_rows(&batches)?
            .first()
            .and_then(|r| r.i64("bad"))
            .unwrap_or(0);
        if n > 0 {
            found.push(format!("{c} ({n} rows)"));
        }
    }
    Err(Error::Snapshot {
        location: (*label).into(),
        message: format!(
            "NULL in {} (the contract says NOT NULL); `occlens check` reports every broken rule",
            found.join(", ")
        ),
    })
}

impl Engine {
    /// Check the key, the NOT NULL columns and the taxa's parents before answering from the
    /// snapshot's tables; nothing to do when a part of the cache built in ranges of
    /// occurrence ids is read (the lists, or the facts: its build checked this snapshot
    /// version).
    pub async fn check_keys(&self) -> Result<()> {
        let checked = |part: &Part| part.views().iter().any(|(_, _, ranged)| ranged.is_some());
        if self.cache.iter().any(|(part, _)| checked(part)) {
            return Ok(());
        }
        check(&self.ctx).await
    }
}

#[cfg(test)]
mod tests {
    use super::verdict;

    #[test]
    fn nulls_come_first_then_repeats() {
        assert!(verdict(0, 0).is_ok());
        let e = verdict(2, 3).unwrap_err().to_string();
        assert!(
            e.contains("main_occurrence") && e.contains("2 rows have a NULL id"),
            "{e}"
        );
        let e = verdict(0, 3).unwrap_err().to_string();
        assert!(e.contains("3 rows repeat an id of another row"), "{e}");
    }
}
