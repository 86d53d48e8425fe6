//! JSON exports. `occurrences_api_json` (spec §6.2): the detail shape for an anonymous
//! requester, written as Antenna writes it — `[`, items of each batch of 100 joined by `", "`,
//! batches joined by `",\n"`, `]` — with Python's `json.dumps` text. `ndjson`: one list- or
//! detail-shaped object per line, exactly as the API renders it for the requester.

use crate::api::request::Requester;
use crate::api::shape::Shaper;
use crate::engine::occurrences::{related, RelatedFor};
use crate::engine::rows::{to_rows, Row};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::render::pyfmt::{dumps, to_json};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::io::Write;

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

/// Write the export of `stream` (rows of `occurrence_list`) to `out`; returns the row count.
pub async fn write(
    engine: &Engine,
    mut stream: SendableRecordBatchStream,
    out: &mut dyn Write,
    framing: &Framing,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    let io = |e: std::io::Error| Error::Io {
        path: "export".into(),
        source: e,
    };
    let anonymous = Requester::Anonymous;
    let (shape, who, lines) = match framing {
        Framing::Antenna => (RelatedFor::Export, &anonymous, false),
        Framing::Lines(shape, who) => (*shape, who, true),
    };
    let shaper = Shaper {
        dims: engine.dims().await?,
        cfg: &engine.config,
        who,
        export: !lines,
    };
    if !lines {
        out.write_all(b"[").map_err(io)?;
    }
    let mut pending: Vec<Row> = Vec::new();
    let mut written = 0u64;
    // Related rows (identifications, detections, classifications, …) are fetched once per
    // chunk of CHUNK occurrences; the file is still framed in Antenna's batches of 100.
    let flush = async |rows: &mut Vec<Row>, out: &mut dyn Write, written: &mut u64| -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rel = related(&engine.point, rows, shape).await?;
        // Shaping and rendering are most of an export's time: the chunk's objects are made
        // on every core, then written in order.
        let texts = in_parallel(rows, |r| {
            let value = shaper.occurrence(r, &rel);
            if lines {
                to_json(&value)
            } else {
                dumps(&value)
            }
        });
        for batch in texts.chunks(BATCH) {
            if lines {
                for text in batch {
                    out.write_all(text.as_bytes()).map_err(io)?;
                    out.write_all(b"\n").map_err(io)?;
                }
            } else {
                if *written > 0 {
                    out.write_all(b",\n").map_err(io)?;
                }
                out.write_all(batch.join(", ").as_bytes()).map_err(io)?;
            }
            *written += batch.len() as u64;
            progress(*written);
        }
        rows.clear();
        Ok(())
    };
    while let Some(batch) = stream.next().await {
        pending.extend(to_rows(&[batch?])?);
        while pending.len() >= CHUNK {
            let mut chunk: Vec<Row> = pending.drain(..CHUNK).collect();
            flush(&mut chunk, out, &mut written).await?;
        }
    }
    flush(&mut pending, out, &mut written).await?;
    if !lines {
        out.write_all(b"]").map_err(io)?;
    }
    Ok(written)
}

/// `f` of every row, in order, computed on up to as many threads as there are cores.
fn in_parallel(rows: &[Row], f: impl Fn(&Row) -> String + Sync) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || rows.len() < 2 * BATCH {
        return rows.iter().map(&f).collect();
    }
    let per = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(per)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<String>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().expect("shaping does not panic"))
            .collect()
    })
}
