//! Running the occurrence list and detail: a fixed number of set-based queries per response,
//! whatever the page size (the analogue of Antenna's query-count regression tests).

use crate::engine::rows::RowExt;
use crate::engine::statements::{batches, rows};
use crate::engine::typed::{OccurrenceRow, ViewRow};
use crate::error::Result;
use datafusion::prelude::SessionContext;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One page of `occurrence_list` rows and the total count.
pub struct Page {
    pub count: usize,
    pub rows: Vec<OccurrenceRow>,
}

/// `select` (a SELECT with no WHERE) restricted to the rows whose `col` is one of `ids` (and
/// that meet `scope`, a condition, when it is not empty), in `order` (a list of output
/// columns; empty: any order).
///
/// Each condition is `col BETWEEN min AND max AND col IN (…)`: the range lets Parquet
/// statistics skip what the (sorted) files hold outside it. A few ids are asked in branches
/// of at most 20 (UNION ALL): DataFusion's pruning turns IN lists of at most 20 values into
/// per-value ranges, so the page index then skips every page holding none of them, and it
/// would merge several lists of one statement into one longer list that prunes by its range
/// only. Many ids (exports' batches) are one branch: they touch most pages anyway.
pub fn select_ids(
    select: &str,
    scope: &str,
    col: &str,
    ids: impl IntoIterator<Item = i64>,
    order: &str,
) -> String {
    let ids: Vec<i64> = ids
        .into_iter()
        .collect::<BTreeSet<i64>>()
        .into_iter()
        .collect();
    let order = if order.is_empty() {
        String::new()
    } else {
        format!(" ORDER BY {order}")
    };
    if ids.is_empty() {
        return format!("{select} WHERE FALSE{order}");
    }
    let scope = match scope {
        "" => String::new(),
        c => format!("{c} AND "),
    };
    let per_branch = if ids.len() <= 200 { 20 } else { ids.len() };
    let branches: Vec<String> = ids
        .chunks(per_branch)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            format!(
                "{select} WHERE {scope}{col} BETWEEN {} AND {} AND {col} IN ({})",
                chunk[0],
                chunk[chunk.len() - 1],
                list.join(", ")
            )
        })
        .collect();
    if branches.len() == 1 {
        format!("{}{order}", branches[0])
    } else {
        format!(
            "SELECT * FROM ({}) AS ids{order}",
            branches.join(" UNION ALL ")
        )
    }
}

/// How many rows of `keys` (`occurrence_keys` or the cached `occurrence_list`) the request's
/// conditions select.
pub fn count_sql(keys: &str, where_clause: &str) -> String {
    format!("SELECT count(*) AS count FROM {keys} o WHERE {where_clause}")
}

/// The SQL choosing a page's ids: the request's conditions and order over `keys`.
///
/// The count rides beside it as its own statement. `count(*) OVER ()` in this statement would
/// read the matching keys once instead of twice, but DataFusion 55 moves the `LIMIT` below
/// the window when the file's order already is the page's (a project's page by id over the
/// cached `occurrence_list`): the count was the page's size (session 73).
pub fn page_sql(
    keys: &str,
    where_clause: &str,
    order_by: &str,
    limit: usize,
    offset: usize,
) -> String {
    format!(
        "SELECT o.id FROM {keys} o WHERE {where_clause} ORDER BY {order_by} LIMIT {limit} OFFSET {offset}"
    )
}

/// The `occurrence_list` rows of `ids` (in no particular order), all of `project` when it is
/// known: the file is sorted by project, then id, so an id alone matches a page of every
/// project, and the project's condition leaves one.
pub fn rows_sql(ids: &[i64], project: Option<i64>) -> String {
    select_ids(
        &format!("SELECT {} FROM occurrence_list o", list_columns()),
        &project.map_or(String::new(), |p| format!("o.project_id = {p}")),
        "o.id",
        ids.iter().copied(),
        "",
    )
}

/// The `occurrence_list` rows of `ids`, in the order of `ids` (all of `project` when known).
pub async fn rows_of(
    ctx: &SessionContext,
    ids: &[i64],
    project: Option<i64>,
) -> Result<Vec<OccurrenceRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let columns: Vec<&str> = OccurrenceRow::COLUMNS.iter().map(|(c, _)| *c).collect();
    let view = "occurrence_list";
    let rows = match crate::engine::lookup::rows(ctx, view, "id", ids, Some(&columns), &[]).await? {
        Some(batch) => OccurrenceRow::decode_all(&[batch], view)?,
        None => list_rows(ctx, &rows_sql(ids, project)).await?,
    };
    let mut by_id: HashMap<i64, OccurrenceRow> =
        rows.into_iter().filter_map(|r| Some((r.id?, r))).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The `occurrence_list` row of `id` read through the cached file's bloom filters of `id` (a
/// detail without filter parameters: its requester's visibility is checked apart):
/// `Some(None)` when there is none; None when the file is not keyed so, or holds the id more
/// than once (a statement reads it).
pub async fn row_by_id(ctx: &SessionContext, id: i64) -> Result<Option<Option<OccurrenceRow>>> {
    let started = std::time::Instant::now();
    let columns: Vec<&str> = OccurrenceRow::COLUMNS.iter().map(|(c, _)| *c).collect();
    let view = "occurrence_list";
    let ctx = ctx.clone();
    let read = move || crate::engine::keyed::row_by_bloom(&ctx, view, "id", id, &columns);
    let Some(batch) = crate::engine::lookup::blocking(read).await?? else {
        return Ok(None);
    };
    let mut rows: Vec<OccurrenceRow> = OccurrenceRow::decode_all(&[batch], view)?
        .into_iter()
        .filter(|r| r.id == Some(id))
        .collect();
    if rows.len() > 1 {
        // Repeated ids (which the key check refuses): the statement decides which is shown.
        return Ok(None);
    }
    let row = rows.pop();
    if std::env::var_os("OCCLENS_TRACE").is_some() {
        eprintln!(
            "occlens: {:>7.1} ms  lookup: {view}: {} rows by id (bloom filters)",
            started.elapsed().as_secs_f64() * 1e3,
            usize::from(row.is_some())
        );
    }
    Ok(Some(row))
}

/// The `occurrence_list` row the conditions select (a detail: they name its id), in one
/// statement.
pub async fn first_row(ctx: &SessionContext, where_clause: &str) -> Result<Option<OccurrenceRow>> {
    let sql = format!(
        "SELECT {} FROM occurrence_list o WHERE {where_clause} LIMIT 1",
        list_columns()
    );
    Ok(list_rows(ctx, &sql).await?.into_iter().next())
}

/// The columns of `occurrence_list` a list or detail item shows (`OccurrenceRow`'s): a
/// response decodes those and no other.
fn list_columns() -> String {
    let columns: Vec<String> = OccurrenceRow::COLUMNS
        .iter()
        .map(|(c, _)| format!("o.{c}"))
        .collect();
    columns.join(", ")
}

/// The typed rows of `sql`, a selection of `occurrence_list`'s columns.
async fn list_rows(ctx: &SessionContext, sql: &str) -> Result<Vec<OccurrenceRow>> {
    OccurrenceRow::decode_all(&batches(ctx, sql).await?, "occurrence_list")
}

/// From this offset on, a page is cut from the whole ordered id list of its conditions (one
/// sort of the matching keys, which also gives the count) instead of a `LIMIT … OFFSET …`
/// statement: DataFusion's top-k keeps offset + limit rows in a heap, slower than one sort once
/// it holds most of them (offset 150000 of 200k matching rows on SF1: 187 ms against 97 ms).
pub const DEEP_OFFSET: usize = 20_000;

/// Where a page's ids come from.
#[derive(Clone, Copy)]
pub struct PageSource<'a> {
    /// A server version's remembered ordered id lists.
    pub memo: Option<&'a crate::engine::memo::Memo>,
    /// The offset from which a page is cut from the whole ordered id list.
    pub deep_offset: usize,
    /// The project every row of the conditions is of (a list request's `project_id`): the
    /// page's rows are then read from that project's pages only (see `rows_sql`).
    pub project: Option<i64>,
}

impl<'a> PageSource<'a> {
    /// Pages from `memo` when there is one, else deep pages ([`DEEP_OFFSET`]) from one sort.
    pub fn new(memo: Option<&'a crate::engine::memo::Memo>) -> Self {
        PageSource {
            memo,
            deep_offset: DEEP_OFFSET,
            project: None,
        }
    }
}

/// The count of the rows `where_clause` selects and the ids of a page of them, in its order.
/// With a memo (a server's version), the whole ordered id list of `where_clause` and
/// `order_by` is computed once, remembered, and every page and count of it cut from it;
/// without one, a page at an offset of at least `source.deep_offset` is cut from that list
/// computed for it alone, and a shallower one is [`page_sql`] beside [`count_sql`].
pub async fn page_ids(
    ctx: &SessionContext,
    source: PageSource<'_>,
    keys: &str,
    where_clause: &str,
    order_by: &str,
    limit: usize,
    offset: usize,
) -> Result<(usize, Vec<i64>)> {
    let whole = match source.memo {
        Some(memo) => {
            let key = format!("{keys}\n{where_clause}\n{order_by}");
            Some(match memo.get(&key) {
                Some(ids) => ids,
                None => {
                    // The count and every page at once: one sort of the matching keys.
                    let ids = Arc::new(ordered_ids(ctx, keys, where_clause, order_by).await?);
                    memo.put(key, ids.clone());
                    ids
                }
            })
        }
        None if offset >= source.deep_offset => Some(Arc::new(
            ordered_ids(ctx, keys, where_clause, order_by).await?,
        )),
        None => None,
    };
    if let Some(ids) = whole {
        let page: Vec<i64> = ids.iter().skip(offset).take(limit).copied().collect();
        return Ok((ids.len(), page));
    }
    // The count and the page's ids are independent: run them together (a page is a few small
    // statements, so their latencies add up unless they overlap).
    let (count_sql, page_sql) = (
        count_sql(keys, where_clause),
        page_sql(keys, where_clause, order_by, limit, offset),
    );
    let (count, ids) = futures::try_join!(rows(ctx, &count_sql), rows(ctx, &page_sql))?;
    let count = count.first().and_then(|r| r.i64("count")).unwrap_or(0) as usize;
    let ids = ids.iter().filter_map(|r| r.i64("id")).collect();
    Ok((count, ids))
}

/// The whole ordered id list a page is cut from (no LIMIT), read straight from its column.
pub async fn ordered_ids(
    ctx: &SessionContext,
    keys: &str,
    where_clause: &str,
    order_by: &str,
) -> Result<Vec<i64>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let sql = format!("SELECT o.id FROM {keys} o WHERE {where_clause} ORDER BY {order_by}");
    let mut ids = Vec::new();
    for b in batches(ctx, &sql).await? {
        let column = b.column(0);
        let column = column.as_primitive_opt::<Int64Type>().ok_or_else(|| {
            crate::error::Error::Query(format!(
                "{keys}.id: expected Int64, found {}",
                column.data_type()
            ))
        })?;
        ids.extend(column.iter().flatten());
    }
    Ok(ids)
}
