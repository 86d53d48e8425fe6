//! `occurrences_simple_csv` (spec §6.3): the 28 columns of `export_simple_csv`, rendered as
//! Python's `csv` module (excel dialect, `\r\n`) writes Python values.

use crate::error::{Error, Result};
use crate::render::media::{csv_capture_url, media_url};
use crate::render::pyfmt::{py_repr, py_repr_json, py_timedelta};
use crate::render::timefmt::{event_name, iso_sep};
use crate::views::rows::{to_rows, Row, RowExt};
use chrono_tz::Tz;
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

/// A cell as Python's `str()` prints the value (None → empty).
fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::Bool(b)) => {
            if *b {
                "True".into()
            } else {
                "False".into()
            }
        }
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => py_repr(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::String(s)) => s.clone(),
        Some(other) => py_repr_json(other),
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

fn render(row: &Row, tz: Tz, media: &str) -> Vec<String> {
    let ts = |k: &str| row.i64(k).map(|t| iso_sep(t, tz, ' ')).unwrap_or_default();
    let bbox: Value = row
        .str("best_detection_bbox")
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let size = bbox_size(&bbox);
    vec![
        cell(row.get("id")),
        cell(row.get("event_id")),
        row.i64("event_start")
            .map(|s| event_name(s, row.i64("event_end"), tz))
            .unwrap_or_default(),
        cell(row.get("deployment_id")),
        cell(row.get("deployment_name")),
        cell(row.get("project_id")),
        cell(row.get("project_name")),
        cell(row.get("determination_id")),
        cell(row.get("determination_name")),
        cell(row.get("determination_score")),
        cell(row.get("verification_status")),
        cell(row.get("best_machine_prediction_name")),
        cell(row.get("best_machine_prediction_algorithm")),
        cell(row.get("best_machine_prediction_score")),
        cell(row.get("verified_by")),
        cell(row.get("participant_count")),
        cell(row.get("agreed_with_algorithm")),
        cell(row.get("agreed_with_user")),
        cell(row.get("determination_matches_machine_prediction")),
        cell(row.get("detections_count")),
        ts("first_appearance_timestamp"),
        ts("last_appearance_timestamp"),
        row.i64("duration").map(py_timedelta).unwrap_or_default(),
        media_url(row.str("best_detection_path"), media).unwrap_or_default(),
        if bbox.is_null() {
            String::new()
        } else {
            py_repr_json(&bbox)
        },
        size.map(|s| py_repr(s.0)).unwrap_or_default(),
        size.map(|s| py_repr(s.1)).unwrap_or_default(),
        csv_capture_url(
            row.str("best_detection_capture_base_url"),
            row.str("best_detection_capture_path"),
        )
        .unwrap_or_default(),
    ]
}

/// Write the CSV of `stream` to `out`, calling `progress` with the rows written so far.
/// Returns the number of rows.
pub async fn write(
    mut stream: SendableRecordBatchStream,
    out: &mut dyn Write,
    tz: Tz,
    media: &str,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let err = |e: csv::Error| Error::Query(format!("writing CSV: {e}"));
    w.write_record(HEADER).map_err(err)?;
    let mut n = 0u64;
    while let Some(batch) = stream.next().await {
        for row in to_rows(&[batch?])? {
            w.write_record(render(&row, tz, media)).map_err(err)?;
            n += 1;
        }
        progress(n);
    }
    w.flush().map_err(|e| Error::Io {
        path: "export".into(),
        source: e,
    })?;
    Ok(n)
}
