//! Running the occurrence list and detail: a fixed number of set-based queries per response,
//! whatever the page size (the analogue of Antenna's query-count regression tests).

use crate::engine::rows::{to_rows, Row, RowExt};
use crate::error::Result;
use datafusion::prelude::SessionContext;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// One page of `occurrence_list` rows and the total count.
pub struct Page {
    pub count: usize,
    pub rows: Vec<Row>,
}

/// Everything the JSON of a set of occurrences needs beyond their `occurrence_list` rows.
#[derive(Default)]
pub struct Related {
    /// occurrence id -> identifications in output order
    pub identifications: HashMap<i64, Vec<Row>>,
    /// classification id -> `classification_detail` row
    pub classifications: HashMap<i64, Row>,
    pub detail: Option<DetailRelated>,
}

#[derive(Default)]
pub struct DetailRelated {
    /// occurrence id -> detail image paths in output order
    pub images: HashMap<i64, Vec<String>>,
    /// occurrence id -> detections in output order
    pub detections: HashMap<i64, Vec<Row>>,
    /// detection id -> classification ids in output order
    pub detection_classifications: HashMap<i64, Vec<i64>>,
    /// occurrence id -> prediction (classification) ids in output order
    pub predictions: HashMap<i64, Vec<i64>>,
    /// capture id -> capture row
    pub captures: HashMap<i64, Row>,
}

tokio::task_local! {
    /// The statements a task runs, recorded while it runs inside `STATEMENTS.scope(…)` (the
    /// plan tests count a response's statements and the row groups they scan).
    pub static STATEMENTS: std::sync::Arc<std::sync::Mutex<Vec<String>>>;
}

/// Record `sql` when the running task records its statements.
pub fn record(sql: &str) {
    let _ = STATEMENTS.try_with(|s| {
        if let Ok(mut s) = s.lock() {
            s.push(sql.to_string());
        }
    });
}

pub async fn rows(ctx: &SessionContext, sql: impl AsRef<str>) -> Result<Vec<Row>> {
    to_rows(&batches(ctx, sql.as_ref()).await?)
}

/// `sql`'s row count and its rows `offset..offset + limit` (a page of a list ordered in SQL):
/// only the page's rows are decoded.
pub async fn rows_page(
    ctx: &SessionContext,
    sql: &str,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<Row>)> {
    let all = batches(ctx, sql).await?;
    let count = all.iter().map(|b| b.num_rows()).sum();
    let (mut skip, mut take, mut kept) = (offset, limit, Vec::new());
    for b in &all {
        if take == 0 {
            break;
        }
        if skip >= b.num_rows() {
            skip -= b.num_rows();
            continue;
        }
        let len = (b.num_rows() - skip).min(take);
        kept.push(b.slice(skip, len));
        (skip, take) = (0, take - len);
    }
    Ok((count, to_rows(&kept)?))
}

async fn batches(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>> {
    record(sql);
    let started = std::time::Instant::now();
    let batches = ctx.sql(sql).await?.collect().await?;
    if std::env::var_os("OCCLENS_TRACE").is_some() {
        // Each statement a response runs and its time, on stderr (OCCLENS_TRACE=1; README, "Usage by example").
        eprintln!(
            "occlens: {:>7.1} ms  {}",
            started.elapsed().as_secs_f64() * 1e3,
            sql.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    Ok(batches)
}

/// `select` (a SELECT with no WHERE) restricted to the rows whose `col` is one of `ids`, in
/// `order` (a list of output columns; empty: any order).
///
/// Each condition is `col BETWEEN min AND max AND col IN (…)`: the range lets Parquet
/// statistics skip what the (sorted) files hold outside it. A few ids are asked in branches
/// of at most 20 (UNION ALL): DataFusion's pruning turns IN lists of at most 20 values into
/// per-value ranges, so the page index then skips every page holding none of them, and it
/// would merge several lists of one statement into one longer list that prunes by its range
/// only. Many ids (exports' batches) are one branch: they touch most pages anyway.
pub fn select_ids(
    select: &str,
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
    let per_branch = if ids.len() <= 200 { 20 } else { ids.len() };
    let branches: Vec<String> = ids
        .chunks(per_branch)
        .map(|chunk| {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            format!(
                "{select} WHERE {col} BETWEEN {} AND {} AND {col} IN ({})",
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

fn group(rows: Vec<Row>, key: &str) -> HashMap<i64, Vec<Row>> {
    let mut map: HashMap<i64, Vec<Row>> = HashMap::new();
    for r in rows {
        if let Some(k) = r.i64(key) {
            map.entry(k).or_default().push(r);
        }
    }
    map
}

/// The SQL choosing a page's ids (also used by `explain` and the plan tests): the request's
/// conditions and order over `occurrence_keys`, which leaves out the per-occurrence
/// predictions, identifications and cover images that no condition or ordering reads.
/// `keys` is `occurrence_keys` or the cached `occurrence_list`, which holds the same columns.
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

pub fn count_sql(keys: &str, where_clause: &str) -> String {
    format!("SELECT count(*) AS count FROM {keys} o WHERE {where_clause}")
}

/// The `occurrence_list` rows of `ids` (in no particular order).
pub fn rows_sql(ids: &[i64]) -> String {
    select_ids(
        "SELECT o.* FROM occurrence_list o",
        "o.id",
        ids.iter().copied(),
        "",
    )
}

/// The `occurrence_list` rows of `ids`, in the order of `ids`.
pub async fn rows_of(ctx: &SessionContext, ids: &[i64]) -> Result<Vec<Row>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_id: HashMap<i64, Row> = rows(ctx, &rows_sql(ids))
        .await?
        .into_iter()
        .filter_map(|r| Some((r.i64("id")?, r)))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// The `occurrence_list` row the conditions select (a detail: they name its id), in one
/// statement.
pub async fn first_row(ctx: &SessionContext, where_clause: &str) -> Result<Option<Row>> {
    let sql = format!("SELECT o.* FROM occurrence_list o WHERE {where_clause} LIMIT 1");
    Ok(rows(ctx, sql).await?.into_iter().next())
}

/// The ids of a page, in its order.
pub async fn page_ids(
    ctx: &SessionContext,
    keys: &str,
    where_clause: &str,
    order_by: &str,
    limit: usize,
    offset: usize,
) -> Result<Vec<i64>> {
    Ok(
        rows(ctx, &page_sql(keys, where_clause, order_by, limit, offset))
            .await?
            .iter()
            .filter_map(|r| r.i64("id"))
            .collect(),
    )
}

/// The ids of a page, then their rows. With a `memo` (a server's version), the whole
/// ordered id list of `where_clause` and `order_by` is computed once, remembered, and every
/// page and count of it cut from it.
pub async fn page(
    ctx: &SessionContext,
    memo: Option<&crate::engine::memo::Memo>,
    keys: &str,
    where_clause: &str,
    order_by: &str,
    limit: usize,
    offset: usize,
) -> Result<Page> {
    if let Some(memo) = memo {
        let key = format!("{keys}\n{where_clause}\n{order_by}");
        let ids = match memo.get(&key) {
            Some(ids) => ids,
            None => {
                // The count and every page at once: one sort of the matching keys.
                let ids = Arc::new(ordered_ids(ctx, keys, where_clause, order_by).await?);
                memo.put(key, ids.clone());
                ids
            }
        };
        let page: Vec<i64> = ids.iter().skip(offset).take(limit).copied().collect();
        let rows = rows_of(ctx, &page).await?;
        return Ok(Page {
            count: ids.len(),
            rows,
        });
    }
    // The count and the page's ids are independent: run them together (a page is a few small
    // statements, so their latencies add up unless they overlap).
    let (count, ids) = futures::try_join!(
        rows(ctx, count_sql(keys, where_clause)),
        page_ids(ctx, keys, where_clause, order_by, limit, offset)
    )?;
    let count = count.first().and_then(|r| r.i64("count")).unwrap_or(0) as usize;
    let rows = rows_of(ctx, &ids).await?;
    Ok(Page { count, rows })
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

/// The columns of `classification_detail`, as `occurrence_list` holds them for the best
/// prediction (`best_prediction_<column>`).
const DETAIL_COLUMNS: [&str; 7] = [
    "created_at",
    "score",
    "terminal",
    "algorithm_id",
    "taxon_id",
    "detection_id",
    "applied_to_id",
];

/// A row of `columns` taken from `r`'s columns named `{prefix}{column}` (NULL when absent),
/// with `id`.
fn prefixed(r: &Row, id: i64, prefix: &str, columns: &[&str]) -> Row {
    let mut row = Row::new();
    row.insert("id".into(), id.into());
    for column in columns {
        let value = r.get(&format!("{prefix}{column}")).cloned();
        row.insert((*column).into(), value.unwrap_or(serde_json::Value::Null));
    }
    row
}

/// The best predictions of `occurrences` (their `occurrence_list` rows) as
/// `classification_detail` rows, from the columns the list view carries.
fn best_rows(occurrences: &[Row]) -> HashMap<i64, Row> {
    occurrences
        .iter()
        .filter_map(|o| {
            let id = o.i64("best_prediction_id")?;
            Some((id, prefixed(o, id, "best_prediction_", &DETAIL_COLUMNS)))
        })
        .collect()
}

/// `by_id` with, on each row applied to another classification (`applied_to_id`), that
/// source's created_at and algorithm (`applied_to_created_at`, `applied_to_algorithm_id`),
/// read by id in one statement when there is any.
async fn with_applied_to(
    ctx: &SessionContext,
    mut by_id: HashMap<i64, Row>,
) -> Result<HashMap<i64, Row>> {
    let select = |ids: &mut dyn Iterator<Item = i64>| {
        select_ids("SELECT * FROM classification_detail", "id", ids, "")
    };
    let applied: BTreeSet<i64> = by_id
        .values()
        .filter_map(|r| r.i64("applied_to_id"))
        .collect();
    if !applied.is_empty() {
        let sources: HashMap<i64, Row> = rows(ctx, &select(&mut applied.into_iter()))
            .await?
            .into_iter()
            .filter_map(|r| Some((r.i64("id")?, r)))
            .collect();
        for row in by_id.values_mut() {
            if let Some(source) = row.i64("applied_to_id").and_then(|p| sources.get(&p)) {
                let (created, algorithm) =
                    (source["created_at"].clone(), source["algorithm_id"].clone());
                row.insert("applied_to_created_at".into(), created);
                row.insert("applied_to_algorithm_id".into(), algorithm);
            }
        }
    }
    Ok(by_id)
}

/// Which response the related rows are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatedFor {
    List,
    Detail,
    /// The `occurrences_api_json` export: detail relations, export image rule.
    Export,
}

/// Fetch the related rows of `occurrences` with one statement per relation, whatever their
/// number (list: identifications and classifications; detail and export add images,
/// detections, their classifications, predictions and captures).
pub async fn related(
    ctx: &SessionContext,
    occurrences: &[Row],
    shape: RelatedFor,
) -> Result<Related> {
    let occ_ids: Vec<i64> = occurrences.iter().filter_map(|r| r.i64("id")).collect();
    let by_occurrence = |select: &str| {
        select_ids(
            select,
            "occurrence_id",
            occ_ids.iter().copied(),
            "occurrence_id, position",
        )
    };
    let identifications = rows(
        ctx,
        by_occurrence("SELECT * FROM occurrence_identifications"),
    );
    if shape == RelatedFor::List {
        let (identifications, classifications) = futures::try_join!(
            identifications,
            with_applied_to(ctx, best_rows(occurrences))
        )?;
        return Ok(Related {
            identifications: group(identifications, "occurrence_id"),
            classifications,
            detail: None,
        });
    }
    // One wave of statements, all by occurrence id; then, only when some classification was
    // applied to another, that source by id.
    let images_view = if shape == RelatedFor::Export {
        "export_detection_images"
    } else {
        "detail_images"
    };
    let images_sql = by_occurrence(&format!(
        "SELECT occurrence_id, path, position FROM {images_view}"
    ));
    let detections_sql = by_occurrence("SELECT * FROM detail_detections");
    let predictions_sql = by_occurrence("SELECT * FROM prediction_candidates");
    let det_cls_sql = select_ids(
        "SELECT * FROM detection_classifications",
        "occurrence_id",
        occ_ids.iter().copied(),
        "occurrence_id, detection_id, position",
    );
    let (identifications, images, detections, preds, det_cls) = futures::try_join!(
        identifications,
        rows(ctx, &images_sql),
        rows(ctx, &detections_sql),
        rows(ctx, &predictions_sql),
        rows(ctx, &det_cls_sql)
    )?;
    let mut image_map: HashMap<i64, Vec<String>> = HashMap::new();
    for r in images {
        if let (Some(o), Some(p)) = (r.i64("occurrence_id"), r.str("path")) {
            image_map.entry(o).or_default().push(p.to_string());
        }
    }
    let mut d = DetailRelated {
        images: image_map,
        ..Default::default()
    };
    let mut classifications = best_rows(occurrences);
    for r in &det_cls {
        if let (Some(det), Some(id)) = (r.i64("detection_id"), r.i64("id")) {
            d.detection_classifications.entry(det).or_default().push(id);
            classifications.insert(id, prefixed(r, id, "", &DETAIL_COLUMNS));
        }
    }
    for r in &preds {
        if let (Some(o), Some(id)) = (r.i64("occurrence_id"), r.i64("id")) {
            d.predictions.entry(o).or_default().push(id);
            classifications.insert(id, prefixed(r, id, "", &DETAIL_COLUMNS));
        }
    }
    for r in &detections {
        if let Some(capture) = r.i64("capture_id") {
            let columns = ["path", "public_base_url", "width", "height"];
            d.captures
                .insert(capture, prefixed(r, capture, "capture_", &columns));
        }
    }
    d.detections = group(detections, "occurrence_id");
    Ok(Related {
        identifications: group(identifications, "occurrence_id"),
        classifications: with_applied_to(ctx, classifications).await?,
        detail: Some(d),
    })
}
