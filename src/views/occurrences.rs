//! Running the occurrence list and detail: a fixed number of set-based queries per response,
//! whatever the page size (the analogue of Antenna's query-count regression tests).

use crate::error::Result;
use crate::views::rows::{to_rows, Row, RowExt};
use datafusion::prelude::SessionContext;
use std::collections::{BTreeSet, HashMap};

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

pub async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Row>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    to_rows(&batches)
}

/// `col BETWEEN min AND max AND col IN (…)`: the range lets Parquet statistics and page
/// indexes skip what the (sorted) files hold outside it before the IN list is applied.
fn id_filter(col: &str, ids: impl IntoIterator<Item = i64>) -> String {
    let set: BTreeSet<i64> = ids.into_iter().collect();
    match (set.first(), set.last()) {
        (Some(lo), Some(hi)) => {
            let list: Vec<String> = set.iter().map(i64::to_string).collect();
            format!(
                "{col} BETWEEN {lo} AND {hi} AND {col} IN ({})",
                list.join(", ")
            )
        }
        _ => "FALSE".into(),
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
pub fn page_sql(where_clause: &str, order_by: &str, limit: usize, offset: usize) -> String {
    format!(
        "SELECT o.id FROM occurrence_keys o WHERE {where_clause} ORDER BY {order_by} LIMIT {limit} OFFSET {offset}"
    )
}

pub fn count_sql(where_clause: &str) -> String {
    format!("SELECT count(*) AS count FROM occurrence_keys o WHERE {where_clause}")
}

/// The `occurrence_list` rows of `ids` (in no particular order).
pub fn rows_sql(ids: &[i64]) -> String {
    format!(
        "SELECT o.* FROM occurrence_list o WHERE {}",
        id_filter("o.id", ids.iter().copied())
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

/// The ids of a page, in its order.
pub async fn page_ids(
    ctx: &SessionContext,
    where_clause: &str,
    order_by: &str,
    limit: usize,
    offset: usize,
) -> Result<Vec<i64>> {
    Ok(rows(ctx, &page_sql(where_clause, order_by, limit, offset))
        .await?
        .iter()
        .filter_map(|r| r.i64("id"))
        .collect())
}

/// The ids of a page, then their rows.
pub async fn page(
    ctx: &SessionContext,
    where_clause: &str,
    order_by: &str,
    limit: usize,
    offset: usize,
) -> Result<Page> {
    let count = rows(ctx, &count_sql(where_clause)).await?;
    let count = count.first().and_then(|r| r.i64("count")).unwrap_or(0) as usize;
    let rows = if offset >= count {
        Vec::new()
    } else {
        rows_of(
            ctx,
            &page_ids(ctx, where_clause, order_by, limit, offset).await?,
        )
        .await?
    };
    Ok(Page { count, rows })
}

/// Fetch the related rows of `occurrences` with one statement per relation, whatever their
/// number (list: identifications and classifications; detail and export add images,
/// detections, their classifications, predictions and captures).
/// Which response the related rows are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    List,
    Detail,
    /// The `occurrences_api_json` export: detail relations, export image rule.
    Export,
}

pub async fn related(ctx: &SessionContext, occurrences: &[Row], shape: Shape) -> Result<Related> {
    let occ_ids = id_filter(
        "occurrence_id",
        occurrences.iter().filter_map(|r| r.i64("id")),
    );
    let identifications = group(
        rows(ctx, &format!(
            "SELECT * FROM occurrence_identifications WHERE {occ_ids} ORDER BY occurrence_id, position"
        ))
        .await?,
        "occurrence_id",
    );
    let mut classification_ids: Vec<i64> = occurrences
        .iter()
        .filter_map(|r| r.i64("best_prediction_id"))
        .collect();
    let detail = if shape != Shape::List {
        let view = if shape == Shape::Export {
            "export_detection_images"
        } else {
            "detail_images"
        };
        let images = rows(ctx, &format!(
            "SELECT occurrence_id, path FROM {view} WHERE {occ_ids} ORDER BY occurrence_id, position"
        ))
        .await?;
        let mut image_map: HashMap<i64, Vec<String>> = HashMap::new();
        for r in images {
            if let (Some(o), Some(p)) = (r.i64("occurrence_id"), r.str("path")) {
                image_map.entry(o).or_default().push(p.to_string());
            }
        }
        let detections = rows(ctx, &format!(
            "SELECT id, occurrence_id, source_image_id, \"timestamp\", path, bbox FROM detail_detections \
             WHERE {occ_ids} ORDER BY occurrence_id, position"
        ))
        .await?;
        let det_ids = id_filter(
            "detection_id",
            detections.iter().filter_map(|d| d.i64("id")),
        );
        let det_cls = rows(ctx, &format!(
            "SELECT detection_id, id FROM detection_classifications WHERE {det_ids} ORDER BY detection_id, position"
        ))
        .await?;
        let preds = rows(ctx, &format!(
            "SELECT occurrence_id, id FROM prediction_candidates WHERE {occ_ids} ORDER BY occurrence_id, position"
        ))
        .await?;
        let captures =
            rows(
                ctx,
                &format!(
            "SELECT id, path, public_base_url, width, height FROM main_sourceimage WHERE {}",
            id_filter("id", detections.iter().filter_map(|d| d.i64("source_image_id")))
        ),
            )
            .await?;
        let mut d = DetailRelated {
            images: image_map,
            ..Default::default()
        };
        for r in &det_cls {
            if let (Some(det), Some(id)) = (r.i64("detection_id"), r.i64("id")) {
                d.detection_classifications.entry(det).or_default().push(id);
                classification_ids.push(id);
            }
        }
        for r in &preds {
            if let (Some(o), Some(id)) = (r.i64("occurrence_id"), r.i64("id")) {
                d.predictions.entry(o).or_default().push(id);
                classification_ids.push(id);
            }
        }
        d.detections = group(detections, "occurrence_id");
        d.captures = captures
            .into_iter()
            .filter_map(|r| Some((r.i64("id")?, r)))
            .collect();
        Some(d)
    } else {
        None
    };
    let classifications = rows(
        ctx,
        &format!(
            "SELECT * FROM classification_detail WHERE {}",
            id_filter("id", classification_ids)
        ),
    )
    .await?
    .into_iter()
    .filter_map(|r| Some((r.i64("id")?, r)))
    .collect();
    Ok(Related {
        identifications,
        classifications,
        detail,
    })
}
