//! Columns whose values become other values when read: wall-clock times without a zone become
//! the instants they name; integers stored as floating-point numbers become integers; bytes
//! become text.

use chrono::{NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{exec_err, Result};
use std::sync::Arc;

/// Each wall-clock time of `array` (a timestamp without zone, any unit) in `zone` as an
/// instant in microseconds (see the module's comment for the times a zone shows twice or
/// skips).
pub fn instants(array: &ArrayRef, zone: Tz, column: &str) -> Result<TimestampMicrosecondArray> {
    if !matches!(array.data_type(), DataType::Timestamp(_, None)) {
        return exec_err!(
            "column {column}: a timestamp without a time zone was expected, found {}",
            array.data_type()
        );
    }
    // In microseconds, whatever the unit (a value that does not fit becomes NULL: named below).
    let micros = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
    let micros = micros.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
    let mut out = Vec::with_capacity(micros.len());
    for (i, m) in micros.iter().enumerate() {
        if array.is_null(i) {
            out.push(None);
            continue;
        }
        let Some(local) = m.and_then(chrono::DateTime::from_timestamp_micros) else {
            return exec_err!("column {column} holds a time out of range");
        };
        out.push(Some(instant(local.naive_utc(), zone)));
    }
    Ok(TimestampMicrosecondArray::from(out).with_timezone("UTC"))
}

/// The instant the wall-clock time `local` of `zone` names, in microseconds since the epoch.
pub(super) fn instant(local: NaiveDateTime, zone: Tz) -> i64 {
    use chrono::LocalResult;
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp_micros(),
        // Shown twice (summer time ends): the later instant, as PostgreSQL reads it.
        LocalResult::Ambiguous(_, later) => later.timestamp_micros(),
        // Skipped (summer time starts): read with the offset in force before the change.
        LocalResult::None => {
            let before = local - chrono::Duration::days(1);
            let offset = zone.offset_from_utc_datetime(&before).fix();
            (local - offset).and_utc().timestamp_micros()
        }
    }
}

/// Each value of `array` (bytes of any encoding, or a dictionary of them) as text; bytes that
/// are not UTF-8 are an error naming `column` and the value's position in its batch.
pub(super) fn text(array: &ArrayRef, column: &str) -> Result<ArrayRef> {
    let bytes = cast(array, &DataType::LargeBinary)?;
    let bytes = bytes.as_binary::<i64>();
    if let Some(i) = (0..bytes.len())
        .find(|&i| bytes.is_valid(i) && std::str::from_utf8(bytes.value(i)).is_err())
    {
        let start: Vec<String> = bytes
            .value(i)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        return exec_err!(
            "column {column} holds bytes that are not UTF-8 text (expected a string; a value starting {})",
            start.join(" ")
        );
    }
    Ok(cast(bytes, &DataType::Utf8)?)
}

/// 2^53: the integers a `double` holds exactly are those below it.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Each number of `array` (an integer or floating-point type) as an integer of type `to`
/// (Int64 or Int32); a value with a fraction or out of `to`'s range is an error naming `column`.
pub(super) fn integers(array: &ArrayRef, to: &DataType, column: &str) -> Result<ArrayRef> {
    use datafusion::arrow::array::{Int32Array, Int64Array};
    use datafusion::arrow::compute::{cast, cast_with_options, CastOptions};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    let bad = |v: &dyn std::fmt::Display| {
        datafusion::error::DataFusionError::Execution(format!(
            "column {column} holds {v}, which is not an integer of type {to}"
        ))
    };
    let (lo, hi) = match to {
        DataType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    let mut out: Vec<Option<i64>> = Vec::with_capacity(array.len());
    if array.data_type().is_integer() {
        // Unsigned values above i64::MAX become NULL here: found, and named, below.
        let safe = CastOptions {
            safe: true,
            ..Default::default()
        };
        let wide = cast_with_options(array, &DataType::Int64, &safe)?;
        for (i, v) in wide.as_primitive::<Int64Type>().iter().enumerate() {
            match v {
                None if array.is_valid(i) => {
                    let text = cast(&array.slice(i, 1), &DataType::Utf8)?;
                    return Err(bad(&text.as_string::<i32>().value(0)));
                }
                Some(v) if v < lo || v > hi => return Err(bad(&v)),
                v => out.push(v),
            }
        }
    } else {
        let floats = cast(array, &DataType::Float64)?;
        for v in floats.as_primitive::<Float64Type>().iter() {
            match v {
                None => out.push(None),
                // Below 2^53 a `double` holds every integer exactly; at or beyond it a value
                // may have been rounded (an `int64` part read as `double`, or the writer's own
                // conversion), so it is not taken for an integer.
                Some(v)
                    if v.fract() == 0.0 && v.abs() < EXACT && v >= lo as f64 && v <= hi as f64 =>
                {
                    out.push(Some(v as i64))
                }
                Some(v) => return Err(bad(&v)),
            }
        }
    }
    Ok(match to {
        DataType::Int32 => Arc::new(
            out.into_iter()
                .map(|v| v.map(|v| v as i32))
                .collect::<Int32Array>(),
        ),
        _ => Arc::new(Int64Array::from(out)),
    })
}
