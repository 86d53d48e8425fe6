//! JSON exports. `occurrences_api_json` (spec §6.2): the detail shape for an anonymous
//! requester, written as Antenna writes it — `[`, items of each batch of 100 joined by `", "`,
//! batches joined by `",\n"`, `]` — with Python's `json.dumps` text. `ndjson`: one list- or
//! detail-shaped object per line, exactly as the API renders it for the requester.

use crate::api::request::Requester;
use crate::api::shape::Shaper;
use crate::engine::related::{assemble, Related, RelatedFor, RelatedStreams};
use crate::engine::typed::{OccurrenceRow, ViewRow};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::render::json_text::JsonText;
use crate::render::pyfmt::{PythonDumps, PythonFloats};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use serde_json::ser::Formatter;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const BATCH: usize = 100;
/// Occurrences whose related rows are fetched together (at most; see CHUNK_ROWS). A detail object
/// is about 17 KB of text (SF1), so a chunk's text is about 17 MB; three chunks are held at
/// most (one shaped, one waiting, one written). Chunks of 5,000 held 250–340 MB of text; of
/// 2,000, 30–60 MB more at peak than of 1,000 (SF1, project 1's detail export).
const CHUNK: usize = 1000;
/// With the detail shape, a chunk also ends at about this many rows: an occurrence weighs
/// itself and its detections with their classifications (about 11 at SF1's proportions, so
/// chunks of 1,000 there but for the heaviest; about 120 where occurrences hold 25 detections,
/// whose objects are 110 KB each).
const CHUNK_ROWS: f64 = 12_000.0;
/// Parts of a chunk per shaping thread. Halves of a chunk took unequal times (SF1, project 1's
/// detail export: 0.36 s of the 2.3 s shaping spent by one thread waiting for the other).
const PARTS: usize = 8;

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
    let collection = engine.export_scope(project, collection).await?;
    let dims = engine.dims().await?;
    let cfg = &engine.config;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    match framing {
        Framing::Antenna => {
            let who = Requester::Anonymous;
            let items = Items {
                shapers: (0..threads)
                    .map(|_| Shaper::<JsonText<PythonDumps>>::new(dims, cfg, &who, true))
                    .collect(),
                related: RelatedFor::Export,
                lines: false,
            };
            items
                .write(engine, project, &collection, out, progress)
                .await
        }
        Framing::Lines(related, who) => {
            let items = Items {
                shapers: (0..threads)
                    .map(|_| Shaper::<JsonText<PythonFloats>>::new(dims, cfg, who, false))
                    .collect(),
                related: *related,
                lines: true,
            };
            items
                .write(engine, project, &collection, out, progress)
                .await
        }
    }
}

/// The objects of an export, shaped by one shaper per thread and framed as lines or as
/// Antenna's file.
struct Items<'a, F: Formatter + Copy + Default + Send + Sync> {
    shapers: Vec<Shaper<'a, JsonText<F>>>,
    related: RelatedFor,
    lines: bool,
}

/// A chunk's objects as framed text, one buffer per shaping thread, in order.
type Framed = Vec<Vec<u8>>;

impl<F: Formatter + Copy + Default + Send + Sync> Items<'_, F> {
    async fn write<W: Write + Send + 'static>(
        mut self,
        engine: &Engine,
        project: i64,
        collection: &str,
        out: W,
        progress: &dyn Fn(u64),
    ) -> Result<(u64, W)> {
        // The writer: text arrives in order, in chunks, at most one chunk ahead of it.
        let (chunks, received) = std::sync::mpsc::sync_channel::<Framed>(1);
        // Written buffers go back to the shapers, emptied: a few buffers circulate, reaching
        // the size of a chunk's text once, instead of new ones growing for every chunk.
        let (give_back, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        let lines = self.lines;
        let writer = std::thread::spawn(move || {
            let mut out = out;
            let result = (|| -> Result<()> {
                let io = |e| Error::io("export", e);
                if !lines {
                    out.write_all(b"[").map_err(io)?;
                }
                for texts in received {
                    for mut text in texts {
                        out.write_all(&text).map_err(io)?;
                        text.clear();
                        let _ = give_back.send(text);
                    }
                }
                if !lines {
                    out.write_all(b"]").map_err(io)?;
                }
                Ok(())
            })();
            (out, result)
        });
        let made = self
            .make(engine, project, collection, (&chunks, &spare), progress)
            .await;
        drop(chunks);
        let (out, written) = tokio::task::spawn_blocking(move || writer.join())
            .await
            .map_err(|e| Error::Internal(format!("export writer: {e}")))?
            .map_err(|_| Error::Internal("export writer: panicked".into()))?;
        // The writer's own error (e.g. a full disk) is the cause when both failed.
        written?;
        Ok((made?, out))
    }

    /// Make the objects, chunk by chunk, and send them to the writer; the number made.
    async fn make(
        &mut self,
        engine: &Engine,
        project: i64,
        collection: &str,
        (chunks, spare): (
            &std::sync::mpsc::SyncSender<Framed>,
            &std::sync::mpsc::Receiver<Vec<u8>>,
        ),
        progress: &dyn Fn(u64),
    ) -> Result<u64> {
        let related = RelatedStreams::open(engine, project, self.related, collection).await?;
        // The occurrences come range by range with their related rows when the snapshot is
        // cut, else from a statement of their own.
        let stream = match related.has_occurrences() {
            true => None,
            false => {
                let sql = engine.scoped_base_sql("occurrence_list", project, collection);
                Some(engine.occurrences_stream(&sql, project).await?)
            }
        };
        let per_detection = match self.related {
            RelatedFor::List => None,
            _ => Some(related.density().per_detection),
        };
        let mut reader = Reader {
            stream,
            related,
            shape: self.related,
            chunker: Chunker {
                pending: Vec::new(),
                per_detection,
            },
            ended: false,
        };
        let mut made = 0u64;
        while let Some((rows, rel)) = reader.next(engine).await? {
            let framed = self.shape(&rows, &rel, made, spare);
            made += rows.len() as u64;
            progress(made);
            // A closed channel: the writer stopped on an error, which it reports.
            if chunks.send(framed).is_err() {
                break;
            }
        }
        Ok(made)
    }

    /// The framed text of `rows` (the objects following `before` others), with their related
    /// rows `rel`, made on every core: in PARTS parts a thread, each thread taking the next
    /// part left, so that a thread whose parts were quick to shape does not wait for another.
    fn shape(
        &mut self,
        rows: &[OccurrenceRow],
        rel: &Related,
        before: u64,
        spare: &std::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Framed {
        let lines = self.lines;
        let frame = |shaper: &Shaper<JsonText<F>>, part: &[OccurrenceRow], first: u64, buf| {
            let mut w = JsonText::<F>::appending_to(buf);
            for (k, row) in (first..).zip(part) {
                w.raw(separator(lines, k));
                shaper.write_occurrence(&mut w, row, rel);
                if lines {
                    w.raw(b"\n");
                }
            }
            w.into_buffer()
        };
        let buffer = || spare.try_recv().unwrap_or_default();
        if rows.len() < 2 || self.shapers.len() < 2 {
            return vec![frame(&self.shapers[0], rows, before, buffer())];
        }
        let per = rows.len().div_ceil(self.shapers.len() * PARTS);
        let parts: Vec<&[OccurrenceRow]> = rows.chunks(per).collect();
        // Each part's buffer, taken by the thread that shapes it.
        let buffers: Vec<_> = parts.iter().map(|_| Mutex::new(buffer())).collect();
        let taken = AtomicUsize::new(0);
        let mut framed: Vec<(usize, Vec<u8>)> = std::thread::scope(|scope| {
            let threads: Vec<_> = self
                .shapers
                .iter_mut()
                .map(|shaper| {
                    let (frame, parts, buffers, taken) = (&frame, &parts, &buffers, &taken);
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let i = taken.fetch_add(1, Ordering::Relaxed);
                            let Some(part) = parts.get(i) else {
                                return done;
                            };
                            let buf =
                                std::mem::take(&mut *buffers[i].lock().expect("not poisoned"));
                            let first = before + (i * per) as u64;
                            done.push((i, frame(shaper, part, first, buf)));
                        }
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|h| h.join().expect("shaping does not panic"))
                .collect()
        });
        framed.sort_unstable_by_key(|(i, _)| *i);
        framed.into_iter().map(|(_, text)| text).collect()
    }
}

/// Reads an export's occurrences in chunks ([`Chunker`]) with their related rows, grouped.
struct Reader {
    /// The occurrences' statement (None: they come from `related`, a range at a time).
    stream: Option<SendableRecordBatchStream>,
    related: RelatedStreams,
    shape: RelatedFor,
    chunker: Chunker,
    ended: bool,
}

impl Reader {
    /// The next chunk's occurrence rows and their related rows (None after the last).
    async fn next(&mut self, engine: &Engine) -> Result<Option<(Vec<OccurrenceRow>, Related)>> {
        let batches = loop {
            // A range's occurrences arrive whole, and a chunk ends with its range.
            if let Some(chunk) = self.chunker.next(self.ended || self.stream.is_none())? {
                break chunk;
            }
            if self.ended {
                return Ok(None);
            }
            match &mut self.stream {
                Some(stream) => match stream.next().await {
                    Some(batch) => self.chunker.push(batch?),
                    None => self.ended = true,
                },
                None => match self.related.next_occurrences().await? {
                    Some(range) => range.into_iter().for_each(|b| self.chunker.push(b)),
                    None => self.ended = true,
                },
            }
        };
        let rows = OccurrenceRow::decode_all(&batches, "occurrence_list")?;
        let fetched = self.related.fetch(&rows).await?;
        let rel = assemble(&engine.point, &rows, fetched, self.shape).await?;
        Ok(Some((rows, rel)))
    }
}

/// What precedes object `k` (0-based) of an export: in lines, nothing (each ends its line);
/// in Antenna's file, `", "` inside a batch of BATCH and `",\n"` between batches.
fn separator(lines: bool, k: u64) -> &'static [u8] {
    match (lines, k) {
        (true, _) | (false, 0) => b"",
        (false, k) if k % BATCH as u64 == 0 => b",\n",
        (false, _) => b", ",
    }
}

/// Record batches of any size (`occurrence_list` rows) cut into chunks of CHUNK rows, or,
/// with `per_detection`, of fewer when their detections weigh CHUNK_ROWS first.
#[derive(Default)]
struct Chunker {
    pending: Vec<RecordBatch>,
    /// Rows a detection brings (itself and its classifications): None weighs every
    /// occurrence the same.
    per_detection: Option<f64>,
}

impl Chunker {
    fn push(&mut self, batch: RecordBatch) {
        self.pending.push(batch);
    }

    /// The next whole chunk; once the input has `ended`, also the last, shorter one.
    fn next(&mut self, ended: bool) -> Result<Option<Vec<RecordBatch>>> {
        let held = rows_in(&self.pending);
        let whole = match self.per_detection {
            None => (held >= CHUNK).then_some(CHUNK),
            Some(per) => self.weighed(per)?,
        };
        Ok(match whole {
            Some(n) => Some(take(&mut self.pending, n)),
            None if ended && held > 0 => Some(take(&mut self.pending, held)),
            None => None,
        })
    }

    /// The rows of a whole chunk when one is held: up to CHUNK occurrences or CHUNK_ROWS rows
    /// (each occurrence one, and `per` for each of its detections).
    fn weighed(&self, per: f64) -> Result<Option<usize>> {
        let (mut n, mut weight) = (0, 0.0);
        for batch in &self.pending {
            let counts = batch.column_by_name("detections_count").ok_or_else(|| {
                Error::Query("occurrence_list: no detections_count column".into())
            })?;
            let counts = cast(counts, &DataType::Int64)?;
            let counts = counts.as_primitive::<Int64Type>();
            for i in 0..counts.len() {
                let detections = if counts.is_valid(i) {
                    counts.value(i)
                } else {
                    0
                };
                n += 1;
                weight += 1.0 + detections.max(0) as f64 * per;
                if n >= CHUNK || weight >= CHUNK_ROWS {
                    return Ok(Some(n));
                }
            }
        }
        Ok(None)
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

#[cfg(test)]
mod tests {
    use super::{rows_in, separator, Chunker, CHUNK, CHUNK_ROWS};
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    #[test]
    fn batches_of_any_size_are_cut_into_chunks_of_chunk_rows() {
        let batch = |n: usize| {
            let ids = Int64Array::from_iter_values(0..n as i64);
            RecordBatch::try_from_iter([("id", Arc::new(ids) as _)]).unwrap()
        };
        let mut chunker = Chunker::default();
        let mut sizes = Vec::new();
        for n in [8192, 8192, 100, 0, 3 * CHUNK + 1] {
            chunker.push(batch(n));
            while let Some(chunk) = chunker.next(false).unwrap() {
                sizes.push(rows_in(&chunk));
            }
        }
        while let Some(chunk) = chunker.next(true).unwrap() {
            sizes.push(rows_in(&chunk));
        }
        let total = 8192 * 2 + 100 + 3 * CHUNK + 1;
        assert_eq!(sizes.iter().sum::<usize>(), total);
        assert!(
            sizes[..sizes.len() - 1].iter().all(|n| *n == CHUNK),
            "{sizes:?}"
        );
        assert_eq!(*sizes.last().unwrap(), total % CHUNK);
    }

    /// With the detail shape, occurrences of many detections make shorter chunks: each ends
    /// once its occurrences and their detections' rows reach CHUNK_ROWS (or at CHUNK
    /// occurrences); rows keep their order and none is lost.
    #[test]
    fn chunks_end_at_the_rows_their_detections_bring() {
        let batch = |ids: std::ops::Range<i64>, detections: fn(i64) -> Option<i64>| {
            let counts: Int64Array = ids.clone().map(detections).collect();
            let ids = Int64Array::from_iter_values(ids);
            let columns = [
                ("id", Arc::new(ids) as _),
                ("detections_count", Arc::new(counts) as _),
            ];
            RecordBatch::try_from_iter(columns).unwrap()
        };
        // 3 rows a detection: an occurrence of 24 detections weighs 73 rows, one of none 1.
        let mut chunker = Chunker {
            pending: Vec::new(),
            per_detection: Some(3.0),
        };
        chunker.push(batch(0..5000, |_| Some(24)));
        chunker.push(batch(5000..7000, |id| (id % 2 == 0).then_some(0)));
        let mut chunks = Vec::new();
        while let Some(chunk) = chunker.next(false).unwrap() {
            chunks.push(chunk);
        }
        while let Some(chunk) = chunker.next(true).unwrap() {
            chunks.push(chunk);
        }
        let sizes: Vec<usize> = chunks.iter().map(|c| rows_in(c)).collect();
        let per_chunk = (CHUNK_ROWS / 73.0).ceil() as usize;
        assert_eq!(sizes[0], per_chunk, "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 7000);
        // Occurrences weighing one row each (no detections, or none known) fill CHUNK.
        assert!(sizes.contains(&CHUNK), "{sizes:?}");
        let ids: Vec<i64> = chunks
            .iter()
            .flatten()
            .flat_map(|b| {
                let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                ids.values().to_vec()
            })
            .collect();
        assert_eq!(ids, (0..7000).collect::<Vec<_>>());
    }

    #[test]
    fn objects_are_framed_as_lines_or_in_antennas_batches_of_100() {
        let antenna: Vec<&[u8]> = [0, 1, 99, 100, 101, 4999, 5000, 5001]
            .into_iter()
            .map(|k| separator(false, k))
            .collect();
        let expected: [&[u8]; 8] = [b"", b", ", b", ", b",\n", b", ", b", ", b",\n", b", "];
        assert_eq!(antenna, expected);
        assert!([0, 1, 100, 5000]
            .iter()
            .all(|k| separator(true, *k).is_empty()));
    }
}
