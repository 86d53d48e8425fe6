//! Key tuples as bytes: each key of a row encoded big-endian so that unsigned byte order is
//! the value's order (8 bytes for numbers and times, 1 for booleans), preceded by a NULL flag
//! byte when the key's field is nullable (NULL sorts first). A tuple then compares with one
//! `memcmp`, and partial states carry it as `FixedSizeBinary`.

use super::best_values::{store_of, Store};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, Int64Type};
use datafusion::common::{exec_err, Result};
use std::sync::Arc;

/// Where each key of a tuple sits in its encoding, from the key fields' types and nullability.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    keys: Vec<(usize, bool, usize)>, // (offset, nullable, value bytes)
    pub(super) width: usize,
}

impl Layout {
    pub(super) fn new(fields: &[FieldRef]) -> Result<Layout> {
        let mut keys = Vec::new();
        let mut width = 0;
        for f in fields {
            check_key(f.data_type())?;
            let bytes = if f.data_type() == &DataType::Boolean {
                1
            } else {
                8
            };
            keys.push((width, f.is_nullable(), bytes));
            width += bytes + f.is_nullable() as usize;
        }
        Ok(Layout { keys, width })
    }

    /// The bytes of key `i` in a tuple: its offset and length (NULL flag included).
    pub(super) fn span(&self, i: usize) -> (usize, usize) {
        let (offset, nullable, bytes) = self.keys[i];
        (offset, bytes + nullable as usize)
    }

    /// The encoded tuples of `columns` (one per key), `width` bytes per row.
    pub(super) fn encode(&self, columns: &[ArrayRef], rows: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; rows * self.width];
        for (column, &(offset, nullable, bytes)) in columns.iter().zip(&self.keys) {
            encode_key(column, &mut out, self.width, offset, nullable, bytes)?;
        }
        Ok(out)
    }
}

/// The values of key `i` of `layout` back from encoded tuples (`tuples`: one per row, None
/// for a NULL row), in the key's type `t` — the inverse of `encode_key` for the types
/// [`decodable`] accepts.
pub(super) fn decode<'a>(
    layout: &Layout,
    i: usize,
    t: &DataType,
    tuples: impl Iterator<Item = Option<&'a [u8]>>,
) -> Result<ArrayRef> {
    let (offset, nullable, bytes) = layout.keys[i];
    let bits = tuples.map(|tuple| {
        let tuple = tuple?;
        let mut at = offset;
        if nullable {
            if tuple[at] == 0 {
                return None;
            }
            at += 1;
        }
        let mut be = [0u8; 8];
        be[8 - bytes..].copy_from_slice(&tuple[at..at + bytes]);
        Some(u64::from_be_bytes(be))
    });
    let array: ArrayRef = match store_of(t)? {
        Store::Bool => Arc::new(bits.map(|b| b.map(|b| b != 0)).collect::<BooleanArray>()),
        Store::Float => Arc::new(
            bits.map(|b| b.map(|b| f64::from_bits(if b >> 63 == 1 { b & !(1 << 63) } else { !b })))
                .collect::<Float64Array>(),
        ),
        Store::Int => Arc::new(
            bits.map(|b| b.map(|b| (b ^ (1 << 63)) as i64))
                .collect::<Int64Array>(),
        ),
        Store::Text => return exec_err!("arg_max/arg_min: text keys are not supported"),
    };
    Ok(cast(&array, t)?)
}

/// Whether `decode` gives back exactly what was encoded for a key of type `t`.
pub(super) fn decodable(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int64 | DataType::Float64 | DataType::Boolean | DataType::Timestamp(_, _)
    )
}

pub(super) fn check_key(t: &DataType) -> Result<()> {
    match store_of(t)? {
        Store::Text => exec_err!("arg_max/arg_min: text keys are not supported"),
        _ => Ok(()),
    }
}

/// Encode one key column into `out` (row stride `stride`, this key at `offset`).
fn encode_key(
    column: &ArrayRef,
    out: &mut [u8],
    stride: usize,
    offset: usize,
    nullable: bool,
    bytes: usize,
) -> Result<()> {
    let mut put = |row: usize, bits: Option<u64>| {
        let mut at = row * stride + offset;
        if nullable {
            out[at] = bits.is_some() as u8;
            at += 1;
        }
        // A NULL (in a column declared non-null it cannot occur) stays all zeros.
        if let Some(b) = bits {
            out[at..at + bytes].copy_from_slice(&b.to_be_bytes()[8 - bytes..]);
        }
    };
    match store_of(column.data_type())? {
        Store::Bool => {
            let a = column.as_boolean();
            for row in 0..a.len() {
                put(row, a.is_valid(row).then(|| a.value(row) as u64));
            }
        }
        Store::Float => {
            let a = cast(column, &DataType::Float64)?;
            let a = a.as_primitive::<Float64Type>();
            for row in 0..a.len() {
                // IEEE-754 total order as an unsigned integer (NaN greatest, as in SQL).
                put(
                    row,
                    a.is_valid(row).then(|| {
                        let b = a.value(row).to_bits();
                        if b >> 63 == 1 {
                            !b
                        } else {
                            b | (1 << 63)
                        }
                    }),
                );
            }
        }
        Store::Int => {
            let a = cast(column, &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            for row in 0..a.len() {
                put(
                    row,
                    a.is_valid(row).then(|| (a.value(row) as u64) ^ (1 << 63)),
                );
            }
        }
        Store::Text => return exec_err!("arg_max/arg_min: text keys are not supported"),
    }
    Ok(())
}
