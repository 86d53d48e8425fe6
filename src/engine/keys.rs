//! The key every answer computed from the snapshot's tables relies on: `main_occurrence.id`
//! NOT NULL and unique (`check.keys` of `queries/check.sql`). A snapshot that breaks it is
//! refused, with the same message whether the cache build or an answer finds it; `occlens
//! check` reports every broken rule, and `sql`, `tables`, `check` and `audit` still read it.

use crate::engine::catalog::{Arg::Name, Fragments};
use crate::engine::rows::{to_rows, RowExt};
use crate::engine::{cache::Part, Engine};
use crate::error::{Error, Result};
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

/// Check the key over `ctx`'s snapshot tables (`check.keys`).
pub async fn check(ctx: &SessionContext) -> Result<()> {
    let sql = Fragments::load().bind(
        "check.keys",
        &[("table", Name(TABLE)), ("column", Name(COLUMN))],
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let rows = to_rows(&batches)?;
    let row = rows.first();
    let count = |k: &str| row.and_then(|r| r.i64(k)).unwrap_or(0);
    verdict(count("nulls"), count("repeats"))
}

impl Engine {
    /// Check the key before answering from the snapshot's tables; nothing to do when the
    /// occurrence lists come from the cache (its build checked this snapshot version).
    pub async fn check_keys(&self) -> Result<()> {
        if self.cache.iter().any(|(part, _)| *part == Part::Lists) {
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
