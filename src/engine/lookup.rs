//! Rows by key from a table held in memory (`resident`) or from the cache's keyed Parquet
//! files (`keyed`), without planning a statement.
//!
//! A request's rows by id (a page's occurrences, their identifications, a detail's related
//! rows) are a few probes of a resident table's index, where a statement costs 1.5–3 ms of
//! parsing and planning — most of a served page's time. `rows` gives exactly what
//! `SELECT columns FROM table WHERE column IN (keys) ORDER BY order` gives (ascending, NULLs
//! last, as SQL's default); a table that is neither held in memory nor keyed (or whose index
//! would select most of it) is left to that statement (`None`). Nothing is computed here: the rows are the
//! views' (queries/), as the cache and `resident` stored them.

use crate::engine::resident::{take_rows, Resident};
use crate::error::{Error, Result};
use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::compute::{filter_record_batch, lexsort_to_indices, take_record_batch};
use datafusion::arrow::compute::{SortColumn, SortOptions};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{col, lit, SessionContext};
use std::collections::HashSet;

/// The rows of the resident `table` whose `column` is one of `keys`, with `columns` (None:
/// all, in the table's order), ordered by `order`; None when `table` is not held in memory or
/// its index cannot select the rows.
pub async fn rows(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    keys: &[i64],
    columns: Option<&[&str]>,
    order: &[&str],
) -> Result<Option<RecordBatch>> {
    let started = std::time::Instant::now();
    let keys: HashSet<i64> = keys.iter().copied().collect();
    let batch = match resident(ctx, table, column, &keys).await? {
        Some(batch) => batch,
        None if keys.len() > crate::engine::keyed::MAX_KEYS
            || !crate::engine::keyed::serves(ctx, table, column, false) =>
        {
            return Ok(None)
        }
        None => {
            let list: Vec<i64> = keys.iter().copied().collect();
            let (ctx, t, c) = (ctx.clone(), table.to_string(), column.to_string());
            // On a thread of the blocking pool: a response's lookups (a detail's five
            // relations) read their files at once.
            let read = move || crate::engine::keyed::pages(&ctx, &t, &c, &list);
            match blocking(read).await?? {
                Some(batch) => batch,
                None => return Ok(None),
            }
        }
    };
    if batch.column_by_name(column).map(|a| a.data_type()) != Some(&DataType::Int64) {
        return Ok(None);
    }
    // The index's rows are a superset: keep those whose key is asked for.
    let key = batch
        .column_by_name(column)
        .expect("checked above")
        .as_primitive::<Int64Type>();
    let mask: BooleanArray = key
        .iter()
        .map(|k| Some(k.is_some_and(|k| keys.contains(&k))))
        .collect();
    let mut batch = filter_record_batch(&batch, &mask)?;
    if let Some(columns) = columns {
        let indices = columns
            .iter()
            .map(|c| {
                batch.schema().index_of(c).map_err(|_| {
                    Error::Query(format!(
                        "{table}: no column {c} in the table held in memory"
                    ))
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        batch = batch.project(&indices)?;
    }
    if !order.is_empty() && batch.num_rows() > 1 {
        let sort = order
            .iter()
            .map(|c| {
                let values = batch
                    .column_by_name(c)
                    .cloned()
                    .ok_or_else(|| Error::Query(format!("{table}: no column {c} to order by")))?;
                Ok(SortColumn {
                    values,
                    options: Some(SortOptions {
                        descending: false,
                        nulls_first: false,
                    }),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        batch = take_record_batch(&batch, &lexsort_to_indices(&sort, None)?)?;
    }
    if std::env::var_os("OCCLENS_TRACE").is_some() {
        eprintln!(
            "occlens: {:>7.1} ms  lookup: {table}: {} rows by {column}",
            started.elapsed().as_secs_f64() * 1e3,
            batch.num_rows()
        );
    }
    Ok(Some(batch))
}

/// `read` (file reads and decoding) on a thread of tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(read: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Error::Internal(format!("a keyed read: {e}")))
}

/// The rows of the resident `table` the index on `column` finds for `keys` (a superset);
/// None when `table` is not held in memory or the index would select most of it.
async fn resident(
    ctx: &SessionContext,
    table: &str,
    column: &str,
    keys: &HashSet<i64>,
) -> Result<Option<RecordBatch>> {
    let Ok(provider) = ctx.table_provider(table).await else {
        return Ok(None);
    };
    let Some(resident) = provider.as_ref().downcast_ref::<Resident>() else {
        return Ok(None);
    };
    let all = resident.batch();
    if all.column_by_name(column).map(|a| a.data_type()) != Some(&DataType::Int64) {
        return Ok(None);
    }
    if keys.is_empty() {
        return Ok(Some(all.slice(0, 0)));
    }
    let wanted = col(column).in_list(keys.iter().map(|k| lit(*k)).collect(), false);
    Ok(match resident.candidates(&[wanted]) {
        Some(found) => Some(take_rows(all, found)?),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::rows;
    use crate::engine::resident::hold;
    use datafusion::arrow::array::{Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;

    /// A table of 1000 rows, 10 per key, out of order, with NULLs in an order column.
    fn table() -> RecordBatch {
        let n = 1000i64;
        let key: Int64Array = (0..n).map(|i| Some((i * 37) % 100)).collect();
        let pos: Int64Array = (0..n)
            .map(|i| (i % 7 != 3).then_some((i * 13) % 10))
            .collect();
        let name: StringArray = (0..n).map(|i| Some(format!("r{i}"))).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("occurrence_id", key.data_type().clone(), false),
            Field::new("position", pos.data_type().clone(), true),
            Field::new("name", name.data_type().clone(), false),
        ]));
        RecordBatch::try_new(schema, vec![Arc::new(key), Arc::new(pos), Arc::new(name)]).unwrap()
    }

    #[tokio::test]
    async fn the_rows_and_order_of_the_statement() {
        let ctx = SessionContext::new();
        ctx.register_batch("t", table()).unwrap();
        let sql = "SELECT * FROM t WHERE occurrence_id IN (5, 17, 17, 99) \
                   ORDER BY occurrence_id, position, name";
        let expected = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        // Not held in memory: left to the statement.
        let keys = [17, 5, 99, 17];
        let order = ["occurrence_id", "position", "name"];
        assert!(rows(&ctx, "t", "occurrence_id", &keys, None, &order)
            .await
            .unwrap()
            .is_none());
        hold(&ctx, "t", &["occurrence_id"], u64::MAX).await.unwrap();
        let got = rows(&ctx, "t", "occurrence_id", &keys, None, &order)
            .await
            .unwrap()
            .expect("held");
        assert_eq!(got.num_rows(), 30);
        let text = |b: &[RecordBatch]| pretty_format_batches(b).unwrap().to_string();
        assert_eq!(text(&[got]), text(&expected));
        // A projection, and no keys at all.
        let some = rows(&ctx, "t", "occurrence_id", &[5], Some(&["name"]), &["name"])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(some.num_columns(), 1);
        assert_eq!(some.num_rows(), 10);
        let none = rows(&ctx, "t", "occurrence_id", &[], None, &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(none.num_rows(), 0);
        // An unknown column is an error naming it.
        let e = rows(&ctx, "t", "occurrence_id", &[5], Some(&["nope"]), &[])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
