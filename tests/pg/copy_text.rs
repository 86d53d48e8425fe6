//! Arrow values in PostgreSQL's COPY text format (the shared snapshot loaded into a server).

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};

/// One value in PostgreSQL's COPY text format.
pub fn text(array: &dyn Array, i: usize, inside_array: bool) -> String {
    if array.is_null(i) {
        return if inside_array {
            "NULL".into()
        } else {
            "\\N".into()
        };
    }
    let raw = match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).to_string(),
        DataType::Float64 => {
            let f = array.as_primitive::<Float64Type>().value(i);
            if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if f > 0.0 {
                    "Infinity".into()
                } else {
                    "-Infinity".into()
                }
            } else {
                format!("{f:?}")
            }
        }
        DataType::Boolean => {
            if array.as_boolean().value(i) {
                "t".into()
            } else {
                "f".into()
            }
        }
        DataType::Utf8 => {
            let s = array.as_string::<i32>().value(i);
            if inside_array {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                s.to_string()
            }
        }
        DataType::Timestamp(_, _) => {
            let us = array.as_primitive::<TimestampMicrosecondType>().value(i);
            chrono::DateTime::from_timestamp_micros(us)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6f+00")
                .to_string()
        }
        DataType::Date32 => {
            let d = array.as_primitive::<Date32Type>().value(i);
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                + chrono::Duration::days(d as i64))
            .to_string()
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            let parts: Vec<String> = (0..items.len())
                .map(|j| text(items.as_ref(), j, true))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        other => panic!("no COPY text for {other}"),
    };
    // COPY text escaping.
    raw.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}
