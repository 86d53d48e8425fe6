//! The rows a set of occurrences' JSON needs beyond their `occurrence_list` rows
//! (identifications, best predictions; for a detail also images, detections, their captures and
//! classifications, and prediction candidates), grouped for the shapes.
//!
//! A response fetches them by occurrence id, one statement per relation ([`related`]). An
//! export reads each relation once, for its whole project, ordered by occurrence, in step with
//! its occurrences ([`RelatedStreams`]): by id per batch, every batch would compute the
//! relation's view again.

use crate::engine::catalog::Arg;
use crate::engine::occurrences::{rows, select_ids};
use crate::engine::rows::{Row, RowExt};
use crate::engine::Engine;
use crate::error::{Error, Result};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use std::collections::{BTreeSet, HashMap};

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

fn group(rows: Vec<Row>, key: &str) -> HashMap<i64, Vec<Row>> {
    let mut map: HashMap<i64, Vec<Row>> = HashMap::new();
    for r in rows {
        if let Some(k) = r.i64(key) {
            map.entry(k).or_default().push(r);
        }
    }
    map
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
/// with `id`; `keys` are those names.
fn prefixed(r: &Row, id: i64, keys: &[String], columns: &[&str]) -> Row {
    let mut row = Row::new();
    row.insert("id".into(), id.into());
    for (key, column) in keys.iter().zip(columns) {
        let value = r.get(key).cloned();
        row.insert((*column).into(), value.unwrap_or(serde_json::Value::Null));
    }
    row
}

/// `{prefix}{column}` for each of `columns`.
fn prefix(prefix: &str, columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| format!("{prefix}{c}")).collect()
}

/// The best predictions of `occurrences` (their `occurrence_list` rows) as
/// `classification_detail` rows, from the columns the list view carries.
fn best_rows(occurrences: &[Row]) -> HashMap<i64, Row> {
    let keys = prefix("best_prediction_", &DETAIL_COLUMNS);
    occurrences
        .iter()
        .filter_map(|o| {
            let id = o.i64("best_prediction_id")?;
            Some((id, prefixed(o, id, &keys, &DETAIL_COLUMNS)))
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

impl RelatedFor {
    /// The relations read, each as (view, its order within an occurrence).
    fn relations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            RelatedFor::List => &[("occurrence_identifications", "position")],
            RelatedFor::Detail => &[
                ("occurrence_identifications", "position"),
                ("detail_images", "position"),
                ("detail_detections", "position"),
                ("prediction_candidates", "position"),
                ("detection_classifications", "detection_id, position"),
            ],
            RelatedFor::Export => &[
                ("occurrence_identifications", "position"),
                ("export_detection_images", "position"),
                ("detail_detections", "position"),
                ("prediction_candidates", "position"),
                ("detection_classifications", "detection_id, position"),
            ],
        }
    }
}

/// The rows of each relation of `shape` (in [`RelatedFor::relations`] order) for some
/// occurrences, each ordered by occurrence then its own order.
pub type Fetched = Vec<Vec<Row>>;

/// Fetch the related rows of `occurrences` with one statement per relation, whatever their
/// number (list: identifications and classifications; detail and export add images,
/// detections, their classifications, predictions and captures).
pub async fn related(
    ctx: &SessionContext,
    occurrences: &[Row],
    shape: RelatedFor,
) -> Result<Related> {
    let occ_ids: Vec<i64> = occurrences.iter().filter_map(|r| r.i64("id")).collect();
    // One wave of statements, all by occurrence id; then, only when some classification was
    // applied to another, that source by id.
    let statements = shape.relations().iter().map(|(view, order)| {
        let sql = select_ids(
            &format!("SELECT * FROM {view}"),
            "occurrence_id",
            occ_ids.iter().copied(),
            &format!("occurrence_id, {order}"),
        );
        async move { rows(ctx, &sql).await }
    });
    let fetched = futures::future::try_join_all(statements).await?;
    assemble(ctx, occurrences, fetched).await
}

/// Group `fetched` (the rows of every relation of one shape) for `occurrences`.
pub async fn assemble(
    ctx: &SessionContext,
    occurrences: &[Row],
    fetched: Fetched,
) -> Result<Related> {
    let mut fetched = fetched.into_iter();
    let identifications = group(fetched.next().unwrap_or_default(), "occurrence_id");
    let mut classifications = best_rows(occurrences);
    let (Some(images), Some(detections), Some(preds), Some(det_cls)) = (
        fetched.next(),
        fetched.next(),
        fetched.next(),
        fetched.next(),
    ) else {
        return Ok(Related {
            identifications,
            classifications: with_applied_to(ctx, classifications).await?,
            detail: None,
        });
    };
    let mut d = DetailRelated::default();
    for r in images {
        if let (Some(o), Some(p)) = (r.i64("occurrence_id"), r.str("path")) {
            d.images.entry(o).or_default().push(p.to_string());
        }
    }
    // Classification rows (detections' and prediction candidates') carry the columns of
    // `classification_detail`: kept whole, keyed by id.
    for r in det_cls {
        if let (Some(det), Some(id)) = (r.i64("detection_id"), r.i64("id")) {
            d.detection_classifications.entry(det).or_default().push(id);
            classifications.insert(id, r);
        }
    }
    for r in preds {
        if let (Some(o), Some(id)) = (r.i64("occurrence_id"), r.i64("id")) {
            d.predictions.entry(o).or_default().push(id);
            classifications.insert(id, r);
        }
    }
    let columns = ["path", "public_base_url", "width", "height"];
    let keys = prefix("capture_", &columns);
    for r in &detections {
        if let Some(capture) = r.i64("capture_id") {
            d.captures
                .insert(capture, prefixed(r, capture, &keys, &columns));
        }
    }
    d.detections = group(detections, "occurrence_id");
    Ok(Related {
        identifications,
        classifications: with_applied_to(ctx, classifications).await?,
        detail: Some(d),
    })
}

/// The related rows of an export's occurrences: each relation streamed once for the export's
/// project (`export.related`), ordered by occurrence, and cut at each batch of occurrences
/// (which come in ascending id order).
pub struct RelatedStreams {
    cursors: Vec<Cursor>,
}

impl RelatedStreams {
    pub async fn open(engine: &Engine, project: i64, shape: RelatedFor) -> Result<Self> {
        let mut cursors = Vec::new();
        for (view, order) in shape.relations() {
            let sql = engine.fragments().bind(
                "export.related",
                &[
                    ("view", Arg::Name(view)),
                    ("project", Arg::Int(project)),
                    ("order", Arg::Sql(order)),
                ],
            );
            cursors.push(Cursor {
                view,
                stream: engine.stream(&sql).await?,
                pending: None,
            });
        }
        Ok(RelatedStreams { cursors })
    }

    /// The record batches of every relation for `occurrences`, the export's next rows
    /// (ascending id, after every earlier call's).
    pub async fn fetch(&mut self, occurrences: &[Row]) -> Result<Vec<Vec<RecordBatch>>> {
        let last = occurrences.iter().filter_map(|r| r.i64("id")).max();
        let mut batches = Vec::with_capacity(self.cursors.len());
        for cursor in &mut self.cursors {
            batches.push(match last {
                Some(last) => cursor.through(last).await?,
                None => Vec::new(),
            });
        }
        Ok(batches)
    }
}

/// A relation's stream, ordered by `occurrence_id`, read up to a given occurrence at a time.
struct Cursor {
    view: &'static str,
    stream: SendableRecordBatchStream,
    /// A batch read but not wholly taken, and its first row not taken.
    pending: Option<(RecordBatch, usize)>,
}

impl Cursor {
    /// The next rows whose `occurrence_id` is at most `last`.
    async fn through(&mut self, last: i64) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        loop {
            let (batch, start) = match self.pending.take() {
                Some(pending) => pending,
                None => match self.stream.next().await {
                    Some(batch) => (batch?, 0),
                    None => return Ok(out),
                },
            };
            let ids = batch
                .column_by_name("occurrence_id")
                .ok_or_else(|| Error::Query(format!("{}: no occurrence_id column", self.view)))?;
            let ids = cast(ids, &DataType::Int64)?;
            let ids = ids.as_primitive::<Int64Type>();
            if datafusion::arrow::array::Array::null_count(ids) > 0 {
                return Err(Error::Query(format!(
                    "{}: NULL occurrence_id in an export's related rows",
                    self.view
                )));
            }
            let end = start + ids.values()[start..].partition_point(|&id| id <= last);
            if end > start {
                out.push(batch.slice(start, end - start));
            }
            if end < batch.num_rows() {
                self.pending = Some((batch, end));
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rows::to_rows;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use std::sync::Arc;

    /// A cursor over batches of (occurrence_id, tag) rows.
    fn cursor(batches: &[&[(i64, &str)]]) -> Cursor {
        let schema = Arc::new(Schema::new(vec![
            Field::new("occurrence_id", DataType::Int64, false),
            Field::new("tag", DataType::Utf8, false),
        ]));
        let batches: Vec<_> = batches
            .iter()
            .map(|rows| {
                let ids = Int64Array::from_iter_values(rows.iter().map(|r| r.0));
                let tags = StringArray::from_iter_values(rows.iter().map(|r| r.1));
                Ok(
                    RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(tags)])
                        .unwrap(),
                )
            })
            .collect();
        Cursor {
            view: "test",
            stream: Box::pin(RecordBatchStreamAdapter::new(
                schema,
                futures::stream::iter(batches),
            )),
            pending: None,
        }
    }

    async fn tags(c: &mut Cursor, last: i64) -> Vec<String> {
        let rows = to_rows(&c.through(last).await.unwrap()).unwrap();
        rows.iter()
            .map(|r| r.str("tag").unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn a_cursor_cuts_each_occurrence_whole_across_batches() {
        let mut c = cursor(&[
            &[(1, "a"), (2, "b"), (2, "c")],
            &[(2, "d"), (5, "e")],
            &[],
            &[(5, "f"), (9, "g"), (12, "h")],
        ]);
        assert_eq!(tags(&mut c, 0).await, Vec::<String>::new());
        assert_eq!(tags(&mut c, 2).await, ["a", "b", "c", "d"]);
        assert_eq!(tags(&mut c, 4).await, Vec::<String>::new());
        assert_eq!(tags(&mut c, 9).await, ["e", "f", "g"]);
        assert_eq!(tags(&mut c, 100).await, ["h"]);
        assert_eq!(tags(&mut c, 200).await, Vec::<String>::new());
    }
}
