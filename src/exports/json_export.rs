//! JSON exports. `occurrences_api_json` (spec §6.2): the detail shape for an anonymous
//! requester, written as Antenna writes it — `[`, items of each batch of 100 joined by `", "`,
//! batches joined by `",\n"`, `]` — with Python's `json.dumps` text. `ndjson`: one list- or
//! detail-shaped object per line, exactly as the API renders it for the requester.

use crate::api::request::Requester;
use crate::api::shape::Shaper;
use crate::engine::related::{assemble, RelatedFor, RelatedStreams};
use crate::engine::typed::{OccurrenceRow, ViewRow};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::render::json_text::{JsonSink, JsonText};
use crate::render::pyfmt::{PythonDumps, PythonFloats};
use datafusion::arrow::record_batch::RecordBatch;
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

/// Write the export of `project`'s occurrences (in `collection`, when given) to `out`, on a
/// thread of its own while the next objects are made; returns the row count and `out`.
pub async fn write<W: Write + Send + 'static>(
    engine: &Engine,
    project: i64,
    collection: Option<i64>,
    out: W,
    framing: &Framing,
    progress: &dyn Fn(u64),
) -> Result<(u64, W)> {
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
    async fn write<W: Write + Send + 'static>(
        &self,
        engine: &Engine,
        project: i64,
        stream: SendableRecordBatchStream,
        out: W,
        progress: &dyn Fn(u64),
    ) -> Result<(u64, W)> {
        // The writer: objects arrive in order, in chunks, at most two chunks ahead of it.
        let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<Arc<[u8]>>>(2);
        let lines = self.lines;
        let writer = std::thread::spawn(move || {
            let mut out = out;
            let result = (|| -> Result<u64> {
                let io = |e| Error::io("export", e);
                if !lines {
                    out.write_all(b"[").map_err(io)?;
                }
                let mut written = 0;
                for texts in received {
                    written = emit(lines, &texts, &mut out, written)?;
                }
                if !lines {
                    out.write_all(b"]").map_err(io)?;
                }
                Ok(written)
            })();
            (out, result)
        });
        let made = self.make(engine, project, stream, &chunks, progress).await;
        drop(chunks);
        let (out, written) = tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| Error::Query(format!("export writer: {e}")))?
            .map_err(|_| Error::Query("export writer: panicked".into()))?;
        // The writer's own error (e.g. a full disk) is the cause when both failed.
        let written = written?;
        made?;
        Ok((written, out))
    }

    /// Make the objects, chunk by chunk, and send them to the writer.
    async fn make(
        &self,
        engine: &Engine,
        project: i64,
        mut stream: SendableRecordBatchStream,
        chunks: &std::sync::mpsc::SyncSender<Vec<Arc<[u8]>>>,
        progress: &dyn Fn(u64),
    ) -> Result<()> {
        let mut related = RelatedStreams::open(engine, project, self.related).await?;
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut made = 0u64;
        let mut send = |texts: Vec<Arc<[u8]>>| {
            made += texts.len() as u64;
            progress(made);
            // A closed channel: the writer stopped on an error, which it reports.
            chunks.send(texts).is_ok()
        };
        while let Some(batch) = stream.next().await {
            pending.push(batch?);
            while rows_in(&pending) >= CHUNK {
                let chunk = decode(&take(&mut pending, CHUNK))?;
                if !send(self.chunk(engine, &mut related, &chunk).await?) {
                    return Ok(());
                }
            }
        }
        let last = decode(&pending)?;
        send(self.chunk(engine, &mut related, &last).await?);
        Ok(())
    }

    /// The objects of `rows` (a chunk of CHUNK occurrences, after every earlier chunk's), with
    /// their related rows, made on every core.
    async fn chunk(
        &self,
        engine: &Engine,
        related: &mut RelatedStreams,
        rows: &[OccurrenceRow],
    ) -> Result<Vec<Arc<[u8]>>> {
        let fetched = related.fetch(rows).await?;
        let rel = assemble(&engine.point, rows, fetched, self.related).await?;
        Ok(in_parallel(rows, |r| {
            let mut w = S::default();
            self.shaper.write_occurrence(&mut w, r, &rel);
            w.finish()
        }))
    }
}

fn rows_in(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// The first `n` rows of `batches`, removed from them.
fn take(batches: &mut Vec<RecordBatch>, n: usize) -> Vec<RecordBatch> {
    let mut taken = Vec::new();
    let mut left = n;
    while left > 0 && !batches.is_empty() {
        let first = batches.remove(0);
        if first.num_rows() <= left {
            left -= first.num_rows();
            taken.push(first);
        } else {
            taken.push(first.slice(0, left));
            batches.insert(0, first.slice(left, first.num_rows() - left));
            left = 0;
        }
    }
    taken
}

/// The `occurrence_list` rows of `batches`, in order.
fn decode(batches: &[RecordBatch]) -> Result<Vec<OccurrenceRow>> {
    OccurrenceRow::decode_all(batches, "occurrence_list")
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
fn in_parallel(
    rows: &[OccurrenceRow],
    f: impl Fn(&OccurrenceRow) -> Arc<[u8]> + Sync,
) -> Vec<Arc<[u8]>> {
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
