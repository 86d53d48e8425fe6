//! JSON exports. `occurrences_api_json` (spec §6.2): the detail shape for an anonymous
//! requester, written as Antenna writes it — `[`, items of each batch of 100 joined by `", "`,
//! batches joined by `",\n"`, `]` — with Python's `json.dumps` text. `ndjson`: one list- or
//! detail-shaped object per line, exactly as the API renders it for the requester.

use crate::api::request::Requester;
use crate::api::shape::Shaper;
use crate::engine::related::{assemble, RelatedFor, RelatedStreams};
use crate::engine::rows::{to_rows, Row};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::render::json_text::{JsonSink, JsonText};
use crate::render::pyfmt::{PythonDumps, PythonFloats};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::io::Write;
use std::sync::Arc;

const BATCH: usize = 100;
/// Occurrences whose related rows are fetched together (a multiple of BATCH).
const CHUNK: usize = 5000;

/// How the objects are shaped and framed.
pub enum Framing {
    /// Antenna's `occurrences_api_json` file.
    Antenna,
    /// One object per line, in the API's list or detail shape as `who` sees it.
    Lines(RelatedFor, Requester),
}

/// Write the export of `project`'s occurrences (in `collection`, when given) to `out`;
/// returns the row count.
pub async fn write(
    engine: &Engine,
    project: i64,
    collection: Option<i64>,
    out: &mut (dyn Write + Send),
    framing: &Framing,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    let stream = engine
        .export_stream("occurrence_list", project, collection)
        .await?;
    let dims = engine.dims().await?;
    let cfg = &engine.config;
    match framing {
        Framing::Antenna => {
            let who = Requester::Anonymous;
            let shaper = Shaper::<JsonText<PythonDumps>>::new(dims, cfg, &who, true);
            let items = Items {
                shaper: &shaper,
                related: RelatedFor::Export,
                lines: false,
            };
            items.write(engine, project, stream, out, progress).await
        }
        Framing::Lines(related, who) => {
            let shaper = Shaper::<JsonText<PythonFloats>>::new(dims, cfg, who, false);
            let items = Items {
                shaper: &shaper,
                related: *related,
                lines: true,
            };
            items.write(engine, project, stream, out, progress).await
        }
    }
}

/// The objects of an export, shaped by `shaper` and framed as lines or as Antenna's file.
struct Items<'a, S: JsonSink> {
    shaper: &'a Shaper<'a, S>,
    related: RelatedFor,
    lines: bool,
}

impl<S: JsonSink<Rendered = Arc<[u8]>> + Send> Items<'_, S> {
    async fn write(
        &self,
        engine: &Engine,
        project: i64,
        mut stream: SendableRecordBatchStream,
        out: &mut (dyn Write + Send),
        progress: &dyn Fn(u64),
    ) -> Result<u64> {
        if !self.lines {
            out.write_all(b"[").map_err(|e| Error::io("export", e))?;
        }
        let mut related = RelatedStreams::open(engine, project, self.related).await?;
        let mut pending: Vec<Row> = Vec::new();
        let mut step = Step::default();
        while let Some(batch) = stream.next().await {
            pending.extend(to_rows(&[batch?])?);
            while pending.len() >= CHUNK {
                let chunk: Vec<Row> = pending.drain(..CHUNK).collect();
                self.step(engine, &mut related, &chunk, &mut step, out)
                    .await?;
                progress(step.written);
            }
        }
        self.step(engine, &mut related, &pending, &mut step, out)
            .await?;
        step.written = emit(self.lines, &step.shaped, out, step.written)?;
        progress(step.written);
        if !self.lines {
            out.write_all(b"]").map_err(|e| Error::io("export", e))?;
        }
        Ok(step.written)
    }

    /// Fetch the related rows of `rows` (a chunk of CHUNK occurrences), decode them while the
    /// previous chunk's objects are written, then shape this chunk's objects on every core.
    async fn step(
        &self,
        engine: &Engine,
        related: &mut RelatedStreams,
        rows: &[Row],
        step: &mut Step,
        out: &mut (dyn Write + Send),
    ) -> Result<()> {
        let batches = related.fetch(rows).await?;
        let previous = std::mem::take(&mut step.shaped);
        let (written, fetched) = std::thread::scope(|scope| {
            let lines = self.lines;
            let written = step.written;
            let writer = scope.spawn(move || emit(lines, &previous, out, written));
            let fetched = RelatedStreams::decode(&batches);
            (writer.join().expect("writing does not panic"), fetched)
        });
        step.written = written?;
        let rel = assemble(&engine.ctx, rows, fetched?).await?;
        step.shaped = in_parallel(rows, |r| {
            let mut w = S::default();
            self.shaper.write_occurrence(&mut w, r, &rel);
            w.finish()
        });
        Ok(())
    }
}

/// The export's progress: objects shaped but not yet written, and the count written.
#[derive(Default)]
struct Step {
    shaped: Vec<Arc<[u8]>>,
    written: u64,
}

/// Write `texts` (objects following `written` others) one per line or framed as Antenna's
/// file, in batches of BATCH; the count written after them.
fn emit(
    lines: bool,
    texts: &[Arc<[u8]>],
    out: &mut (dyn Write + Send),
    written: u64,
) -> Result<u64> {
    let io = |e| Error::io("export", e);
    let mut written = written;
    for batch in texts.chunks(BATCH) {
        if lines {
            for text in batch {
                out.write_all(text).map_err(io)?;
                out.write_all(b"\n").map_err(io)?;
            }
        } else {
            if written > 0 {
                out.write_all(b",\n").map_err(io)?;
            }
            out.write_all(&batch.join(&b", "[..])).map_err(io)?;
        }
        written += batch.len() as u64;
    }
    Ok(written)
}

/// `f` of every row, in order, computed on up to as many threads as there are cores.
fn in_parallel(rows: &[Row], f: impl Fn(&Row) -> Arc<[u8]> + Sync) -> Vec<Arc<[u8]>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || rows.len() < 2 * BATCH {
        return rows.iter().map(&f).collect();
    }
    let per = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(per)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<Arc<[u8]>>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("shaping does not panic"))
            .collect()
    })
}
