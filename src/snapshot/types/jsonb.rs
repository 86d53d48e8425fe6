//! jsonb decoded into a nested type, read back as the text PostgreSQL prints for it.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::Result;
use std::fmt::Write as _;
use std::sync::Arc;

/// Each value of `array` as jsonb text (SQL NULL stays NULL).
pub fn jsonb_text(array: &ArrayRef) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 16);
    let mut text = String::new();
    for i in 0..array.len() {
        if array.is_null(i) {
            out.append_null();
        } else {
            text.clear();
            write_json(array.as_ref(), i, &mut text)?;
            out.append_value(&text);
        }
    }
    Ok(Arc::new(out.finish()))
}

fn write_json(array: &dyn Array, i: usize, out: &mut String) -> Result<()> {
    use DataType as T;
    if array.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    macro_rules! number {
        ($t:ty) => {{
            let _ = write!(out, "{}", array.as_primitive::<$t>().value(i));
        }};
    }
    match array.data_type() {
        T::Boolean => out.push_str(if array.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        T::Int8 => number!(Int8Type),
        T::Int16 => number!(Int16Type),
        T::Int32 => number!(Int32Type),
        T::Int64 => number!(Int64Type),
        T::UInt8 => number!(UInt8Type),
        T::UInt16 => number!(UInt16Type),
        T::UInt32 => number!(UInt32Type),
        T::UInt64 => number!(UInt64Type),
        T::Float16 => {
            let v = array.as_primitive::<Float16Type>().value(i).to_f32();
            number(serde_json::to_string(&v).ok(), out);
        }
        // The shortest text of the 32-bit value (0.1, not 0.10000000149011612).
        T::Float32 => number(
            serde_json::to_string(&array.as_primitive::<Float32Type>().value(i)).ok(),
            out,
        ),
        T::Float64 => number(
            serde_json::to_string(&array.as_primitive::<Float64Type>().value(i)).ok(),
            out,
        ),
        T::Decimal32(..) | T::Decimal64(..) | T::Decimal128(..) | T::Decimal256(..) => {
            display(array, i, out)?
        }
        T::Utf8 | T::LargeUtf8 | T::Utf8View => string(text(array, i).unwrap_or_default(), out),
        T::List(_) => items(array.as_list::<i32>().value(i).as_ref(), out)?,
        T::LargeList(_) => items(array.as_list::<i64>().value(i).as_ref(), out)?,
        T::FixedSizeList(..) => items(array.as_fixed_size_list().value(i).as_ref(), out)?,
        T::Struct(fields) => {
            let s = array.as_struct();
            let entries: Vec<(String, &dyn Array, usize)> = fields
                .iter()
                .zip(s.columns())
                .map(|(f, c)| (f.name().clone(), c.as_ref(), i))
                .collect();
            object(entries, out)?;
        }
        T::Map(..) => {
            let map = array.as_map();
            let (start, end) = (
                map.value_offsets()[i] as usize,
                map.value_offsets()[i + 1] as usize,
            );
            let (keys, values) = (map.keys(), map.values());
            let mut entries = Vec::with_capacity(end - start);
            for j in start..end {
                let mut key = String::new();
                display(keys.as_ref(), j, &mut key)?;
                entries.push((key, values.as_ref(), j));
            }
            object(entries, out)?;
        }
        _ => {
            // Dates, decimals, dictionaries, …: as their text.
            let mut text = String::new();
            display(array, i, &mut text)?;
            string(&text, out);
        }
    }
    Ok(())
}

/// A JSON number as PostgreSQL's numeric prints it: never with an exponent (`0.00000015`,
/// `100000000000000000000.0`). `None` (NaN, infinity: JSON and jsonb have neither) is `null`.
fn number(text: Option<String>, out: &mut String) {
    let Some(text) = text else {
        out.push_str("null");
        return;
    };
    let Some((mantissa, exponent)) = text.split_once('e') else {
        out.push_str(&text);
        return;
    };
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i64 + exponent;
    out.push_str(sign);
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
        out.push_str(".0");
    } else {
        let (left, right) = digits.split_at(point as usize);
        out.push_str(left);
        out.push('.');
        out.push_str(right);
    }
}

/// A JSON string with the escapes PostgreSQL's jsonb output uses (`\"`, `\\`, `\b`, `\f`,
/// `\n`, `\r`, `\t`, `\u00XX` for other control characters; everything else as it is).
fn string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string serializes"));
}

/// The string at `i` of a string array of any encoding (`None` for other types).
fn text(array: &dyn Array, i: usize) -> Option<&str> {
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(array.as_string_view().value(i)),
        _ => None,
    }
}

/// The text of value `i` of `array`: a string as it is, other types as arrow displays them.
fn display(array: &dyn Array, i: usize, out: &mut String) -> Result<()> {
    if let Some(s) = text(array, i) {
        out.push_str(s);
        return Ok(());
    }
    let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())?;
    write!(out, "{}", formatter.value(i))
        .map_err(|e| datafusion::error::DataFusionError::Execution(format!("jsonb text: {e}")))
}

fn items(list: &dyn Array, out: &mut String) -> Result<()> {
    out.push('[');
    for j in 0..list.len() {
        if j > 0 {
            out.push_str(", ");
        }
        write_json(list, j, out)?;
    }
    out.push(']');
    Ok(())
}

/// An object's entries in jsonb's key order: shorter keys first, then by bytes; of keys
/// given twice, the last.
fn object(mut entries: Vec<(String, &dyn Array, usize)>, out: &mut String) -> Result<()> {
    entries.reverse();
    entries.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    out.push('{');
    for (n, (key, values, j)) in entries.into_iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        string(&key, out);
        out.push_str(": ");
        write_json(values, j, out)?;
    }
    out.push('}');
    Ok(())
}
