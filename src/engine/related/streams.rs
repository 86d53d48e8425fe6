//! An export's related rows: each relation read range by range, in step with the export's
//! occurrences ([`RelatedStreams`]).

use super::{RelatedBatches, RelatedFor};
use crate::engine::catalog::Arg;
use crate::engine::cut::Cut;
use crate::engine::ranges::{ranges, Cursor, Density};
use crate::engine::rows::RowExt;
use crate::engine::statements::{batches, record};
use crate::engine::typed::OccurrenceRow;
use crate::engine::Engine;
use crate::error::{Error, Result};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

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
