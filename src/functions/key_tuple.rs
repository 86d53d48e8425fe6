//! Key tuples as bytes: each key of a row encoded big-endian so that unsigned byte order is
//! the value's order (8 bytes for numbers and times, 1 for booleans), preceded by a NULL flag
//! byte when the key's field is nullable (NULL sorts first). A tuple then compares with one
//! `memcmp`, and partial states carry it as `FixedSizeBinary`.

use super::best_values::{store_of, Store};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type, Int64Type};
use datafusion::common::{exec_err, Result};

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

    /// The encoded tuples of `columns` (one per key), `width` bytes per row.
    pub(super) fn encode(&self, columns: &[ArrayRef], rows: usize) -> Result<Vec<u8>> {
        let mut out = vec![0u8; rows * self.width];
        for (column, &(offset, nullable, bytes)) in columns.iter().zip(&self.keys) {
            encode_key(column, &mut out, self.width, offset, nullable, bytes)?;
        }
        Ok(out)
    }
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
