//! The rows a set of occurrences' JSON needs beyond their `occurrence_list` rows
//! (identifications, best predictions; for a detail also images, detections, their captures and
//! classifications, and prediction candidates), grouped for the shapes.
//!
//! A response fetches them by occurrence id, one statement per relation ([`related`]). An
//! export reads each relation ordered by occurrence, in step with its occurrences, one range of
//! the project's occurrence ids at a time ([`RelatedStreams`]): by id per batch, every batch
//! would compute the relation's view again; for the whole project at once, each relation's sort
//! would hold all of the project's rows.

use crate::engine::catalog::Arg;
use crate::engine::cut::Cut;
use crate::engine::occurrences::select_ids;
use crate::engine::ranges::{ranges, Cursor, Density};
use crate::engine::rows::RowExt;
use crate::engine::statements::{batches, record};
use crate::engine::typed::{
    ClassificationRow, DetectionRow, IdentificationRow, ImageRow, OccurrenceKey, OccurrenceRow,
    ViewRow,
};
use crate::engine::Engine;
use crate::error::{Error, Result};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeSet;

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

/// The related rows of an export's occurrences: each relation streamed for the export's
/// project (`export.related`), ordered by occurrence, one range of occurrence ids after
/// another (`export.span`), and cut at each batch of occurrences (which come in ascending id
/// order). Each range's statements are bound (and recorded) at `open`.
///
/// With a cut, the export's occurrences (`occurrence_list`) are computed range by range too,
/// in the session of the range's rows ([`RelatedStreams::next_occurrences`]), instead of by a
/// statement over the snapshot's tables that decodes the detections and classifications a
/// second time (SF1, project 1's detail export: 0.4–0.6 s of CPU less in all, and 40–100 MB
/// less memory; docs/performance.md).
pub struct RelatedStreams {
    ctx: SessionContext,
    shape: RelatedFor,
    /// The ranges of occurrence ids not yet read through, ascending.
    ranges: std::collections::VecDeque<Planned>,
    /// The streams of `ranges[0]`, once opened.
    cursors: Option<Vec<Cursor>>,
    /// The rows of the range after the open one (of `ranges[0]` before it is opened), being
    /// read on the runtime while this one's occurrences are shaped.
    next: Option<tokio::task::JoinHandle<Result<Read>>>,
    /// How each range's relations are computed from its own detections and classifications
    /// (None: from the tables as registered; see `cut`).
    cut: Option<Cut>,
    /// How many rows an occurrence brings (sizes the ranges, and the export's chunks).
    density: Density,
}

/// One range of occurrence ids (`..=through`) and its statements: the cut tables' reads (with
/// a cut), the range's occurrences' (with a cut) and every relation's.
struct Planned {
    through: i64,
    reads: Vec<(&'static str, String)>,
    occurrences: Option<String>,
    statements: Vec<(&'static str, String)>,
}

/// A range's rows as read: its occurrences' (with a cut) and its relations'.
struct Read {
    occurrences: Vec<RecordBatch>,
    cursors: Vec<Cursor>,
}

impl Drop for RelatedStreams {
    fn drop(&mut self) {
        // An export that stopped early (an error, a closed writer) leaves no work running.
        if let Some(next) = self.next.take() {
            next.abort();
        }
    }
}

impl RelatedStreams {
    /// The related rows of `project`'s export in `shape`; `collection` is the export's
    /// collection condition ([`Engine::export_scope`]), which the ranges' occurrences obey.
    pub async fn open(
        engine: &Engine,
        project: i64,
        shape: RelatedFor,
        collection: &str,
    ) -> Result<Self> {
        let sql = engine
            .fragments()
            .bind("export.span", &[("project", Arg::Int(project))]);
        let span = crate::engine::statements::rows(&engine.ctx, &sql).await?;
        let first = span.first();
        let count = |column| first.and_then(|r| r.i64(column)).unwrap_or(0);
        let density = Density::of(
            count("all_occurrences"),
            count("all_detections"),
            count("all_classifications"),
        );
        let span = first.map(|r| (r.i64("lowest"), r.i64("highest"), r.i64("occurrences")));
        // A list reads identifications alone: its ranges are not weighed by detections.
        let weighed = match shape {
            RelatedFor::List => Density::REFERENCE,
            _ => density,
        };
        let per = weighed.occurrences_in(engine.export_range_rows);
        let ranges = match span {
            Some((Some(lowest), Some(highest), Some(n))) if n > 0 => {
                ranges(lowest, highest, n, per)
            }
            Some((_, _, Some(0))) => Default::default(),
            other => {
                return Err(Error::Internal(format!(
                    "export.span of project {project}: expected the lowest and highest ids and their count, got {other:?}"
                )))
            }
        };
        let views: Vec<&str> = shape.relations().iter().map(|(v, _)| *v).collect();
        // A list's identifications read no detections: nothing to cut. (A range holding too
        // many rows is computed from the tables: `Cut::session`.)
        let cut = match shape {
            RelatedFor::List => None,
            _ => Cut::new(engine, &views).await?,
        };
        // Recorded here, in the caller's task: the reads run on tasks of their own.
        let ranges = ranges
            .into_iter()
            .map(|(from, through)| Planned {
                through,
                reads: cut.as_ref().map_or_else(Vec::new, |cut| {
                    cut.statements(engine.fragments(), project, from, through)
                }),
                occurrences: cut.as_ref().map(|_| {
                    let sql = engine.fragments().bind(
                        "export.range_base",
                        &[
                            ("view", Arg::Name("occurrence_list")),
                            ("project", Arg::Int(project)),
                            ("from", Arg::Int(from)),
                            ("through", Arg::Int(through)),
                            ("collection", Arg::Sql(collection)),
                        ],
                    );
                    record(&sql);
                    sql
                }),
                statements: statements(engine, shape, project, from, through),
            })
            .collect();
        let mut streams = RelatedStreams {
            ctx: engine.ctx.clone(),
            shape,
            ranges,
            cursors: None,
            next: None,
            cut,
            density,
        };
        // The first range's rows are read from now on (with a cut, its occurrences too).
        streams.read_ahead(0);
        Ok(streams)
    }

    /// Whether the export's occurrences come from here ([`RelatedStreams::next_occurrences`],
    /// with a cut) rather than from a statement of its own (`export.base`).
    pub fn has_occurrences(&self) -> bool {
        self.cut.is_some()
    }

    /// How many rows an occurrence of the snapshot brings, on average.
    pub fn density(&self) -> Density {
        self.density
    }

    /// With a cut: the occurrences (`occurrence_list` rows, ascending id) of the next range,
    /// which is opened for [`RelatedStreams::fetch`] (the one before is closed); None after
    /// the last range.
    pub async fn next_occurrences(&mut self) -> Result<Option<Vec<RecordBatch>>> {
        if self.cursors.take().is_some() {
            self.ranges.pop_front();
        }
        if self.ranges.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.open_first().await?))
    }

    /// Open `ranges[0]`: wait for its rows (read ahead, or read now) and start reading the
    /// next range's; its occurrences' rows (with a cut).
    async fn open_first(&mut self) -> Result<Vec<RecordBatch>> {
        if self.next.is_none() {
            self.read_ahead(0);
        }
        // Awaited in place: if this future is dropped, the handle stays for `drop` to abort.
        let read = self.next.as_mut().expect("read_ahead started ranges[0]");
        let waited = std::time::Instant::now();
        let read = read.await;
        crate::engine::statements::trace("(export) waited for a range's rows", waited);
        self.next = None;
        let read = read.map_err(|e| Error::Internal(format!("reading related rows: {e}")))??;
        self.cursors = Some(read.cursors);
        // The next range's rows are read while this one's occurrences are shaped.
        self.read_ahead(1);
        Ok(read.occurrences)
    }

    /// Start reading the rows of `ranges[i]`, when there is one, on the runtime: the first
    /// (i = 0: nothing is being shaped) with every core, a later one with half of them.
    fn read_ahead(&mut self, i: usize) {
        let Some(range) = self.ranges.get(i) else {
            return;
        };
        let alone = i == 0;
        let cut = self.cut.clone().map(|cut| (cut, range.reads.clone()));
        let occurrences = range.occurrences.clone();
        let statements = range.statements.clone();
        let ctx = self.ctx.clone();
        self.next = Some(tokio::spawn(async move {
            let cut = match cut {
                Some((cut, reads)) => cut.session(&ctx, reads, alone).await?,
                None => None,
            };
            // `_held`: the cut rows' reservation, released when they go.
            let (ctx, _held) = match cut {
                Some((cut, held)) => (cut, Some(held)),
                None => (ctx, None),
            };
            let occurrences = match occurrences {
                Some(sql) => batches(&ctx, &sql).await?,
                None => Vec::new(),
            };
            let mut cursors = Vec::new();
            // One relation at a time: their scans and sorts never hold memory together.
            for (view, sql) in statements {
                cursors.push(Cursor {
                    view,
                    batches: batches(&ctx, &sql).await?.into(),
                    start: 0,
                });
            }
            Ok(Read {
                occurrences,
                cursors,
            })
        }));
    }

    /// The record batches of every relation for `occurrences`, the export's next rows
    /// (ascending id, after every earlier call's; with a cut, all of the range that
    /// [`RelatedStreams::next_occurrences`] opened last).
    pub async fn fetch(&mut self, occurrences: &[OccurrenceRow]) -> Result<RelatedBatches> {
        let relations = self.shape.relations();
        let mut batches: RelatedBatches = vec![Vec::new(); relations.len()];
        let Some(last) = occurrences.iter().filter_map(|r| r.id).max() else {
            return Ok(batches);
        };
        while let Some(through) = self.ranges.front().map(|r| r.through) {
            if self.cursors.is_none() {
                self.open_first().await?;
            }
            let cursors = self.cursors.as_mut().expect("opened above");
            for (cursor, out) in cursors.iter_mut().zip(&mut batches) {
                out.extend(cursor.through(last.min(through))?);
            }
            // With a cut, the range stays open until the next one's occurrences are asked for.
            if last < through || self.has_occurrences() {
                break;
            }
            // The range is read through: its rows go (the next range's, read ahead, stay).
            self.cursors = None;
            self.ranges.pop_front();
        }
        Ok(batches)
    }
}

/// The statement of every relation of `shape` for `project`'s occurrence ids `from..=through`,
/// recorded.
fn statements(
    engine: &Engine,
    shape: RelatedFor,
    project: i64,
    from: i64,
    through: i64,
) -> Vec<(&'static str, String)> {
    let statement = |(view, order): &(&'static str, &'static str)| {
        let sql = engine.fragments().bind(
            "export.related",
            &[
                ("view", Arg::Name(view)),
                ("project", Arg::Int(project)),
                ("from", Arg::Int(from)),
                ("through", Arg::Int(through)),
                ("order", Arg::Sql(order)),
            ],
        );
        record(&sql);
        (*view, sql)
    };
    shape.relations().iter().map(statement).collect()
}
