//! `occurrences_simple_csv` (spec §6.3): the 28 columns of `export_simple_csv`, rendered as
//! Python's `csv` module (excel dialect, `\r\n`) writes Python values.

use crate::engine::rows::{Cell, Columns};
use crate::error::{Error, Result};
use crate::render::media::{csv_capture_url, media_url};
use crate::render::pyfmt::{py_repr, py_repr_json, py_repr_lower, py_timedelta};
use crate::render::timefmt::{event_name, iso_sep};
use chrono_tz::Tz;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use serde_json::Value;
use std::io::Write;

pub const HEADER: [&str; 28] = [
    "id",
    "event_id",
    "event_name",
    "deployment_id",
    "deployment_name",
    "project_id",
    "project_name",
    "determination_id",
    "determination_name",
    "determination_score",
    "verification_status",
    "best_machine_prediction_name",
    "best_machine_prediction_algorithm",
    "best_machine_prediction_score",
    "verified_by",
    "participant_count",
    "agreed_with_algorithm",
    "agreed_with_user",
    "determination_matches_machine_prediction",
    "detections_count",
    "first_appearance_timestamp",
    "last_appearance_timestamp",
    "duration",
    "best_detection_url",
    "best_detection_bbox",
    "best_detection_width",
    "best_detection_height",
    "best_detection_capture_url",
];

/// Append `cell` as Python's `str()` prints the value (None → empty).
fn push_cell(out: &mut String, cell: Cell) {
    use std::fmt::Write as _;
    match cell {
        Cell::Null => {}
        Cell::Bool(true) => out.push_str("True"),
        Cell::Bool(false) => out.push_str("False"),
        Cell::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Cell::Float(f) => out.push_str(&py_repr_lower(f)),
        Cell::Str(s) => out.push_str(s),
    }
}

/// `|x2 − x1|` and `|y2 − y1|` when the bbox is a list of exactly 4 numbers (numeric strings
/// accepted).
fn bbox_size(bbox: &Value) -> Option<(f64, f64)> {
    let items = bbox.as_array().filter(|a| a.len() == 4)?;
    let n: Vec<f64> = items
        .iter()
        .map(|v| {
            v.as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .collect::<Option<_>>()?;
    Some(((n[2] - n[0]).abs(), (n[3] - n[1]).abs()))
}

/// Columns of `export_simple_csv` written as they are (Python's `str()` of the value), by
/// position in [`HEADER`]; the other positions are rendered in [`write_batch`].
const PLAIN: [(usize, &str); 18] = [
    (0, "id"),
    (1, "event_id"),
    (3, "deployment_id"),
    (4, "deployment_name"),
    (5, "project_id"),
    (6, "project_name"),
    (7, "determination_id"),
    (8, "determination_name"),
    (9, "determination_score"),
    (10, "verification_status"),
    (11, "best_machine_prediction_name"),
    (12, "best_machine_prediction_algorithm"),
    (13, "best_machine_prediction_score"),
    (14, "verified_by"),
    (15, "participant_count"),
    (16, "agreed_with_algorithm"),
    (17, "agreed_with_user"),
    (18, "determination_matches_machine_prediction"),
];

/// Render one batch of `export_simple_csv` into `w`, a row at a time from typed columns,
/// reusing one buffer per cell.
fn write_batch<W: Write>(
    w: &mut csv::Writer<W>,
    batch: &RecordBatch,
    cells: &mut [String; 28],
    tz: Tz,
    media: &str,
) -> Result<()> {
    let c = Columns::new(batch)?;
    let plain = PLAIN
        .iter()
        .map(|(i, name)| Ok((*i, c.get(name)?)))
        .collect::<Result<Vec<_>>>()?;
    let (start, end) = (c.get("event_start")?, c.get("event_end")?);
    let count = c.get("detections_count")?;
    let (first, last) = (
        c.get("first_appearance_timestamp")?,
        c.get("last_appearance_timestamp")?,
    );
    let duration = c.get("duration")?;
    let (path, bbox) = (c.get("best_detection_path")?, c.get("best_detection_bbox")?);
    let (capture_base, capture_path) = (
        c.get("best_detection_capture_base_url")?,
        c.get("best_detection_capture_path")?,
    );
    for row in 0..batch.num_rows() {
        cells.iter_mut().for_each(String::clear);
        for (i, col) in &plain {
            push_cell(&mut cells[*i], col.cell(row));
        }
        if let Some(s) = start.i64(row) {
            cells[2].push_str(&event_name(s, end.i64(row), tz));
        }
        push_cell(&mut cells[19], count.cell(row));
        if let Some(t) = first.i64(row) {
            cells[20].push_str(&iso_sep(t, tz, ' '));
        }
        if let Some(t) = last.i64(row) {
            cells[21].push_str(&iso_sep(t, tz, ' '));
        }
        if let Some(d) = duration.i64(row) {
            cells[22].push_str(&py_timedelta(d));
        }
        if let Some(url) = media_url(path.str(row), media) {
            cells[23].push_str(&url);
        }
        let bbox: Value = bbox
            .str(row)
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        if !bbox.is_null() {
            cells[24].push_str(&py_repr_json(&bbox));
        }
        if let Some((width, height)) = bbox_size(&bbox) {
            cells[25].push_str(&py_repr(width));
            cells[26].push_str(&py_repr(height));
        }
        if let Some(url) = csv_capture_url(capture_base.str(row), capture_path.str(row)) {
            cells[27].push_str(&url);
        }
        w.write_record(cells.iter())
            .map_err(|e| Error::export(format!("writing CSV: {e}")).because(e))?;
    }
    Ok(())
}

/// The CSV bytes of one batch (no header), rendered on a blocking thread.
fn render_batch(batch: RecordBatch, tz: Tz, media: String) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(batch.num_rows() * 400));
    let mut cells: [String; 28] = Default::default();
    write_batch(&mut w, &batch, &mut cells, tz, &media)?;
    w.into_inner()
        .map_err(|e| Error::export(format!("writing CSV: {e}")).because(e))
}

/// Write the CSV of `stream` to `out`, calling `progress` with the rows written so far.
/// Batches are rendered two at a time on blocking threads while the query runs on, and
/// written in order. Returns the number of rows.
pub async fn write(
    stream: SendableRecordBatchStream,
    out: &mut dyn Write,
    tz: Tz,
    media: &str,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    let io = |e: std::io::Error| Error::io("export", e);
    let mut header = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    header
        .write_record(HEADER)
        .map_err(|e| Error::export(format!("writing CSV: {e}")))?;
    let header = header
        .into_inner()
        .map_err(|e| Error::export(format!("writing CSV: {e}")))?;
    out.write_all(&header).map_err(io)?;
    let mut rendered = stream
        .map(|batch| {
            let media = media.to_string();
            async move {
                let batch = batch?;
                let rows = batch.num_rows() as u64;
                let bytes = tokio::task::spawn_blocking(move || render_batch(batch, tz, media))
                    .await
                    .map_err(|e| Error::export(format!("rendering CSV: {e}")).because(e))??;
                Ok::<_, Error>((rows, bytes))
            }
        })
        .buffered(2);
    let mut n = 0u64;
    while let Some(next) = rendered.next().await {
        let (rows, bytes) = next?;
        out.write_all(&bytes).map_err(io)?;
        n += rows;
        progress(n);
    }
    out.flush().map_err(io)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::{push_cell, Cell};

    #[test]
    fn cells_as_python_str() {
        let render = |c: Cell| {
            let mut s = String::new();
            push_cell(&mut s, c);
            s
        };
        assert_eq!(render(Cell::Null), "");
        assert_eq!(render(Cell::Bool(true)), "True");
        assert_eq!(render(Cell::Int(-3)), "-3");
        assert_eq!(render(Cell::Float(1.0)), "1.0");
        assert_eq!(render(Cell::Float(f64::NAN)), "nan");
        assert_eq!(render(Cell::Float(1e-5)), "1e-05");
        assert_eq!(render(Cell::Str("a,b")), "a,b");
    }
}
