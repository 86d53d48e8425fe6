//! The rows a set of occurrences' JSON needs beyond their `occurrence_list` rows
//! (identifications, best predictions; for a detail also images, detections, their captures and
//! classifications, and prediction candidates), grouped for the shapes.
//!
//! A response fetches them by occurrence id, one statement per relation ([`related`]). An
//! export reads each relation once, for its whole project, ordered by occurrence, in step with
//! its occurrences ([`RelatedStreams`]): by id per batch, every batch would compute the
//! relation's view again.

use crate::engine::catalog::Arg;
use crate::engine::occurrences::{batches, select_ids};
use crate::engine::typed::{
    ClassificationRow, DetectionRow, IdentificationRow, ImageRow, OccurrenceKey, OccurrenceRow,
    ViewRow,
};
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
    pub identifications: HashMap<i64, Vec<IdentificationRow>>,
    /// classification id -> its row (best predictions; for a detail also its detections'
    /// classifications and its prediction candidates)
    pub classifications: HashMap<i64, ClassificationRow>,
    /// classification id -> the row of a classification some row above was applied to
    /// (`applied_to_id`)
    pub applied_to: HashMap<i64, ClassificationRow>,
    pub detail: Option<DetailRelated>,
}

#[derive(Default)]
pub struct DetailRelated {
    /// occurrence id -> detail image paths in output order
    pub images: HashMap<i64, Vec<String>>,
    /// occurrence id -> detections (with their captures' columns) in output order
    pub detections: HashMap<i64, Vec<DetectionRow>>,
    /// detection id -> classification ids in output order
    pub detection_classifications: HashMap<i64, Vec<i64>>,
    /// occurrence id -> prediction (classification) ids in output order
    pub predictions: HashMap<i64, Vec<i64>>,
}

/// The rows of `view` whose `key` is one of `keys`, ordered by `order` (columns, ascending):
/// from a table held in memory or the cache's files sorted by the key (`lookup`, without a
/// statement), else by a statement.
async fn by_key(
    ctx: &SessionContext,
    view: &str,
    key: &str,
    keys: &[i64],
    order: &str,
) -> Result<Vec<RecordBatch>> {
    let by: Vec<&str> = order.split(", ").filter(|c| !c.is_empty()).collect();
    if let Some(batch) = crate::engine::lookup::rows(ctx, view, key, keys, None, &by).await? {
        return Ok(vec![batch]);
    }
    let sql = select_ids(
        &format!("SELECT * FROM {view}"),
        key,
        keys.iter().copied(),
        order,
    );
    batches(ctx, &sql).await
}

/// The rows of `classifications` applied to another classification, that source's row
/// (`classification_detail`), read by id in one statement when there is any.
async fn applied_to(
    ctx: &SessionContext,
    classifications: &HashMap<i64, ClassificationRow>,
) -> Result<HashMap<i64, ClassificationRow>> {
    let applied: BTreeSet<i64> = classifications
        .values()
        .filter_map(|r| r.applied_to_id)
        .collect();
    if applied.is_empty() {
        return Ok(HashMap::new());
    }
    let view = "classification_detail";
    let keys: Vec<i64> = applied.iter().copied().collect();
    let fetched = by_key(ctx, view, "id", &keys, "").await?;
    let rows = ClassificationRow::decode_all(&fetched, view)?;
    Ok(rows.into_iter().filter_map(|r| Some((r.id?, r))).collect())
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

/// The record batches of each relation of a shape (in [`RelatedFor::relations`] order) for
/// some occurrences, each ordered by occurrence then its own order.
pub type Fetched = Vec<Vec<RecordBatch>>;

/// Fetch the related rows of `occurrences` with one statement per relation, whatever their
/// number (list: identifications and classifications; detail and export add images,
/// detections with their captures, their classifications, and predictions).
pub async fn related(
    ctx: &SessionContext,
    occurrences: &[OccurrenceRow],
    shape: RelatedFor,
) -> Result<Related> {
    let occ_ids: Vec<i64> = occurrences.iter().filter_map(|r| r.id).collect();
    // One wave of statements, all by occurrence id; then, only when some classification was
    // applied to another, that source by id.
    let occ_ids = &occ_ids;
    let statements = shape.relations().iter().map(|(view, order)| async move {
        by_key(
            ctx,
            view,
            "occurrence_id",
            occ_ids,
            &format!("occurrence_id, {order}"),
        )
        .await
    });
    let fetched = futures::future::try_join_all(statements).await?;
    assemble(ctx, occurrences, fetched, shape).await
}

/// The typed rows of one shape's relations.
#[derive(Default)]
struct Decoded {
    identifications: Vec<IdentificationRow>,
    images: Vec<ImageRow>,
    detections: Vec<DetectionRow>,
    predictions: Vec<(OccurrenceKey, ClassificationRow)>,
    detection_classifications: Vec<ClassificationRow>,
}

/// Decode `fetched`, each relation on a thread of its own when there are many rows (a
/// response's few rows are decoded in turn: threads would cost more than they save).
fn decode(fetched: &Fetched, shape: RelatedFor) -> Result<Decoded> {
    let views = shape.relations();
    let at = |i: usize| {
        (
            fetched.get(i).map_or(&[][..], Vec::as_slice),
            views.get(i).map_or("", |v| v.0),
        )
    };
    let threaded = fetched
        .iter()
        .flatten()
        .map(RecordBatch::num_rows)
        .sum::<usize>()
        >= 10_000;
    std::thread::scope(|scope| {
        macro_rules! job {
            ($i:expr, $decode:expr) => {{
                let (b, v) = at($i);
                if threaded {
                    Job::Running(scope.spawn(move || $decode(b, v)))
                } else {
                    Job::Done($decode(b, v))
                }
            }};
        }
        let identifications = job!(0, IdentificationRow::decode_all);
        let images = job!(1, ImageRow::decode_all);
        let detections = job!(2, DetectionRow::decode_all);
        let predictions = job!(3, predictions);
        let detection_classifications = job!(4, ClassificationRow::decode_all);
        Ok(Decoded {
            identifications: identifications.join()?,
            images: images.join()?,
            detections: detections.join()?,
            predictions: predictions.join()?,
            detection_classifications: detection_classifications.join()?,
        })
    })
}

/// A decoding done in turn or running on a thread.
enum Job<'s, T> {
    Done(T),
    Running(std::thread::ScopedJoinHandle<'s, T>),
}

impl<T> Job<'_, T> {
    fn join(self) -> T {
        match self {
            Job::Done(t) => t,
            Job::Running(h) => h.join().expect("decoding does not panic"),
        }
    }
}

/// Prediction candidates with their occurrence.
fn predictions(
    batches: &[RecordBatch],
    view: &str,
) -> Result<Vec<(OccurrenceKey, ClassificationRow)>> {
    let keys = OccurrenceKey::decode_all(batches, view)?;
    let rows = ClassificationRow::decode_all(batches, view)?;
    Ok(keys.into_iter().zip(rows).collect())
}

/// Group `fetched` (the record batches of every relation of `shape`) for `occurrences`.
pub async fn assemble(
    ctx: &SessionContext,
    occurrences: &[OccurrenceRow],
    fetched: Fetched,
    shape: RelatedFor,
) -> Result<Related> {
    let decoded = decode(&fetched, shape)?;
    drop(fetched);
    let mut identifications: HashMap<i64, Vec<IdentificationRow>> = HashMap::new();
    for r in decoded.identifications {
        if let Some(o) = r.occurrence_id {
            identifications.entry(o).or_default().push(r);
        }
    }
    let mut classifications: HashMap<i64, ClassificationRow> = occurrences
        .iter()
        .filter_map(|o| {
            let best = o.best_prediction()?;
            Some((best.id?, best))
        })
        .collect();
    let detail = (shape != RelatedFor::List).then(|| {
        let mut d = DetailRelated::default();
        for r in decoded.images {
            if let (Some(o), Some(p)) = (r.occurrence_id, r.path) {
                d.images.entry(o).or_default().push(p);
            }
        }
        // Classification rows (detections' and prediction candidates') carry the columns of
        // `classification_detail`: kept whole, keyed by id.
        for r in decoded.detection_classifications {
            if let (Some(det), Some(id)) = (r.detection_id, r.id) {
                d.detection_classifications.entry(det).or_default().push(id);
                classifications.insert(id, r);
            }
        }
        for (key, r) in decoded.predictions {
            if let (Some(o), Some(id)) = (key.occurrence_id, r.id) {
                d.predictions.entry(o).or_default().push(id);
                classifications.insert(id, r);
            }
        }
        for r in decoded.detections {
            if let Some(o) = r.occurrence_id {
                d.detections.entry(o).or_default().push(r);
            }
        }
        d
    });
    Ok(Related {
        applied_to: applied_to(ctx, &classifications).await?,
        identifications,
        classifications,
        detail,
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
    pub async fn fetch(&mut self, occurrences: &[OccurrenceRow]) -> Result<Fetched> {
        let last = occurrences.iter().filter_map(|r| r.id).max();
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
    use crate::engine::rows::{to_rows, RowExt};
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
