//! The rows a set of occurrences' JSON needs beyond their `occurrence_list` rows
//! (identifications, best predictions; for a detail also images, detections, their captures and
//! classifications, and prediction candidates), grouped for the shapes.
//!
//! A response fetches them by occurrence id, one statement per relation ([`related`]). An
//! export reads each relation ordered by occurrence, in step with its occurrences, one range of
//! the project's occurrence ids at a time ([`RelatedStreams`]): by id per batch, every batch
//! would compute the relation's view again; for the whole project at once, each relation's sort
//! would hold all of the project's rows.

use crate::engine::occurrences::select_ids;
use crate::engine::statements::batches;
use crate::engine::typed::{
    ClassificationRow, DetectionRow, IdentificationRow, ImageRow, OccurrenceKey, OccurrenceRow,
    ViewRow,
};
use crate::error::Result;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;

mod streams;
pub use streams::RelatedStreams;

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
        "",
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
        return Ok(HashMap::default());
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
pub type RelatedBatches = Vec<Vec<RecordBatch>>;

/// The rows of `shape`'s relations of the occurrences `occ_ids`, in one wave of statements
/// (or lookups), all by occurrence id, whatever their number (list: identifications and
/// classifications; detail and export add images, detections with their captures, their
/// classifications, and predictions); [`assemble`] then reads, only when some
/// classification was applied to another, that source by id.
pub async fn fetch(
    ctx: &SessionContext,
    occ_ids: &[i64],
    shape: RelatedFor,
) -> Result<RelatedBatches> {
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
    futures::future::try_join_all(statements).await
}

/// The typed rows of one shape's relations, each grouped as [`Related`] holds it.
#[derive(Default)]
struct Decoded {
    identifications: HashMap<i64, Vec<IdentificationRow>>,
    images: HashMap<i64, Vec<String>>,
    detections: HashMap<i64, Vec<DetectionRow>>,
    predictions: Candidates,
    detection_classifications: DetectionClassifications,
}

/// occurrence id -> prediction ids, and the predictions' rows (id, row) in order
type Candidates = (HashMap<i64, Vec<i64>>, Vec<(i64, ClassificationRow)>);
/// detection id -> classification ids, and those rows by id
type DetectionClassifications = (HashMap<i64, Vec<i64>>, HashMap<i64, ClassificationRow>);

/// Decode and group `fetched`, each relation on a thread of its own when there are many rows
/// (a response's few rows are decoded in turn: threads would cost more than they save).
fn decode(fetched: &RelatedBatches, shape: RelatedFor) -> Result<Decoded> {
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
        let identifications = job!(0, identifications);
        let images = job!(1, images);
        let detections = job!(2, detections);
        let predictions = job!(3, predictions);
        let detection_classifications = job!(4, detection_classifications);
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

/// Rows grouped by a key (rows without one dropped), each group in the rows' order.
fn group<R, T>(rows: Vec<R>, part: impl Fn(R) -> Option<(i64, T)>) -> HashMap<i64, Vec<T>> {
    let mut groups: HashMap<i64, Vec<T>> = HashMap::default();
    for (key, item) in rows.into_iter().filter_map(part) {
        groups.entry(key).or_default().push(item);
    }
    groups
}

fn identifications(b: &[RecordBatch], view: &str) -> Result<HashMap<i64, Vec<IdentificationRow>>> {
    let rows = IdentificationRow::decode_all(b, view)?;
    Ok(group(rows, |r| Some((r.occurrence_id?, r))))
}

fn images(b: &[RecordBatch], view: &str) -> Result<HashMap<i64, Vec<String>>> {
    let rows = ImageRow::decode_all(b, view)?;
    Ok(group(rows, |r| Some((r.occurrence_id?, r.path?))))
}

fn detections(b: &[RecordBatch], view: &str) -> Result<HashMap<i64, Vec<DetectionRow>>> {
    let rows = DetectionRow::decode_all(b, view)?;
    Ok(group(rows, |r| Some((r.occurrence_id?, r))))
}

/// Prediction candidates' ids by occurrence, and their rows (with an id) in order.
fn predictions(batches: &[RecordBatch], view: &str) -> Result<Candidates> {
    let keys = OccurrenceKey::decode_all(batches, view)?;
    let rows = ClassificationRow::decode_all(batches, view)?;
    let (mut ids, mut candidates): Candidates = Default::default();
    for (key, r) in keys.into_iter().zip(rows) {
        if let (Some(o), Some(id)) = (key.occurrence_id, r.id) {
            ids.entry(o).or_default().push(id);
            candidates.push((id, r));
        }
    }
    Ok((ids, candidates))
}

/// Detections' classification ids by detection, and their rows by id (a later row of an id
/// replacing an earlier one).
fn detection_classifications(
    batches: &[RecordBatch],
    view: &str,
) -> Result<DetectionClassifications> {
    let rows = ClassificationRow::decode_all(batches, view)?;
    let mut by_id = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
    let mut ids: HashMap<i64, Vec<i64>> = HashMap::default();
    for r in rows {
        if let (Some(det), Some(id)) = (r.detection_id, r.id) {
            ids.entry(det).or_default().push(id);
            by_id.insert(id, r);
        }
    }
    Ok((ids, by_id))
}

/// Group `fetched` (the record batches of every relation of `shape`) for `occurrences`.
pub async fn assemble(
    ctx: &SessionContext,
    occurrences: &[OccurrenceRow],
    fetched: RelatedBatches,
    shape: RelatedFor,
) -> Result<Related> {
    let decoded = decode(&fetched, shape)?;
    drop(fetched);
    // Classification rows (detections' and prediction candidates') carry the columns of
    // `classification_detail`: kept whole, keyed by id; in the order best predictions,
    // detections' classifications, prediction candidates, a later row of an id replacing
    // an earlier one.
    let (detection_classifications, mut classifications) = decoded.detection_classifications;
    let (predictions, candidates) = decoded.predictions;
    classifications.reserve(occurrences.len() + candidates.len());
    // (In reverse: of two occurrences' rows of one best prediction, the later is kept.)
    for best in occurrences
        .iter()
        .rev()
        .filter_map(OccurrenceRow::best_prediction)
    {
        if let Some(id) = best.id {
            classifications.entry(id).or_insert(best);
        }
    }
    classifications.extend(candidates);
    let detail = (shape != RelatedFor::List).then_some(DetailRelated {
        images: decoded.images,
        detections: decoded.detections,
        detection_classifications,
        predictions,
    });
    Ok(Related {
        applied_to: applied_to(ctx, &classifications).await?,
        identifications: decoded.identifications,
        classifications,
        detail,
    })
}
