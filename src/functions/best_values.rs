//! The values `arg_max`/`arg_min` keep per group: one column of a scalar type, or the columns
//! of a struct (`arg_max(named_struct('id', id, 'score', score), …)` carries several values
//! of the winning row with one comparison of its key tuple).

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, StringArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Fields, Float64Type, Int64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::EmitTo;
use std::sync::Arc;

/// How values of a type are kept per group; the result is cast back to the input type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Store {
    Int,
    Float,
    Bool,
    Text,
}

pub(super) fn store_of(t: &DataType) -> Result<Store> {
    Ok(match t {
        DataType::Boolean => Store::Bool,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Store::Float,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Store::Text,
        DataType::Null
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Date32
        | DataType::Timestamp(_, _) => Store::Int,
        other => return exec_err!("arg_max/arg_min: unsupported value type {other}"),
    })
}

/// One column of values, a value per group.
#[derive(Debug, Clone)]
enum Slot {
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    /// The texts and their bytes in total (kept as they change: `size` is called after every
    /// batch, and summing millions of groups' texts each time cost more than the work).
    Text(Vec<Option<String>>, usize),
}

impl Slot {
    fn new(t: &DataType) -> Result<Slot> {
        Ok(match store_of(t)? {
            Store::Int => Slot::Int(Vec::new()),
            Store::Float => Slot::Float(Vec::new()),
            Store::Bool => Slot::Bool(Vec::new()),
            Store::Text => Slot::Text(Vec::new(), 0),
        })
    }

    fn resize(&mut self, groups: usize) {
        match self {
            Slot::Int(v) => v.resize(groups, None),
            Slot::Float(v) => v.resize(groups, None),
            Slot::Bool(v) => v.resize(groups, None),
            Slot::Text(v, bytes) => {
                if groups < v.len() {
                    *bytes -= v[groups..].iter().flatten().map(String::len).sum::<usize>();
                }
                v.resize(groups, None)
            }
        }
    }

    /// Set group `g` to row `row` of `array`, for every `(g, row)` of `won`.
    fn set(&mut self, array: &ArrayRef, won: &[(usize, usize)]) -> Result<()> {
        match self {
            Slot::Int(v) => {
                let a = cast(array, &DataType::Int64)?;
                let a = a.as_primitive::<Int64Type>();
                for &(g, row) in won {
                    v[g] = a.is_valid(row).then(|| a.value(row));
                }
            }
            Slot::Float(v) => {
                let a = cast(array, &DataType::Float64)?;
                let a = a.as_primitive::<Float64Type>();
                for &(g, row) in won {
                    v[g] = a.is_valid(row).then(|| a.value(row));
                }
            }
            Slot::Bool(v) => {
                let a = array.as_boolean();
                for &(g, row) in won {
                    v[g] = a.is_valid(row).then(|| a.value(row));
                }
            }
            Slot::Text(v, bytes) => {
                let a = cast(array, &DataType::Utf8)?;
                let a = a.as_string::<i32>();
                for &(g, row) in won {
                    let new = a.is_valid(row).then(|| a.value(row));
                    *bytes -= v[g].as_ref().map_or(0, String::len);
                    *bytes += new.map_or(0, str::len);
                    match (&mut v[g], new) {
                        // The old text's allocation is reused when it fits.
                        (Some(old), Some(new)) => {
                            old.clear();
                            old.push_str(new);
                        }
                        (slot, new) => *slot = new.map(str::to_string),
                    }
                }
            }
        }
        Ok(())
    }

    /// The emitted groups' values, cast to `t`.
    fn take(&mut self, emit_to: EmitTo, t: &DataType) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            Slot::Int(v) => Arc::new(Int64Array::from(emit_to.take_needed(v))),
            Slot::Float(v) => Arc::new(Float64Array::from(emit_to.take_needed(v))),
            Slot::Bool(v) => Arc::new(BooleanArray::from(emit_to.take_needed(v))),
            Slot::Text(v, bytes) => {
                let taken = emit_to.take_needed(v);
                *bytes -= taken.iter().flatten().map(String::len).sum::<usize>();
                Arc::new(StringArray::from(taken))
            }
        };
        Ok(cast(&array, t)?)
    }

    fn size(&self) -> usize {
        match self {
            Slot::Int(v) => v.capacity() * 16,
            Slot::Float(v) => v.capacity() * 16,
            Slot::Bool(v) => v.capacity() * 2,
            Slot::Text(v, bytes) => v.capacity() * 24 + bytes,
        }
    }
}

/// The values of every group: one slot, or one per field of a struct.
#[derive(Debug, Clone)]
pub(super) struct Values {
    value_type: DataType,
    /// A struct's fields (its values are never NULL: an unseen group's is), else None.
    fields: Option<Fields>,
    slots: Vec<Slot>,
}

impl Values {
    /// Whether values of type `t` can be kept (scalars, and structs of scalars).
    pub(super) fn check(t: &DataType) -> Result<()> {
        Values::new(t).map(|_| ())
    }

    pub(super) fn new(t: &DataType) -> Result<Values> {
        let (fields, slots) = match t {
            DataType::Struct(fields) => {
                let slots = fields
                    .iter()
                    .map(|f| Slot::new(f.data_type()))
                    .collect::<Result<Vec<_>>>()?;
                (Some(fields.clone()), slots)
            }
            other => (None, vec![Slot::new(other)?]),
        };
        Ok(Values {
            value_type: t.clone(),
            fields,
            slots,
        })
    }

    pub(super) fn resize(&mut self, groups: usize) {
        self.slots.iter_mut().for_each(|s| s.resize(groups));
    }

    /// Set group `g` to row `row` of `value`, for every `(g, row)` of `won`.
    pub(super) fn set(&mut self, value: &ArrayRef, won: &[(usize, usize)]) -> Result<()> {
        if won.is_empty() {
            return Ok(());
        }
        match &self.fields {
            None => self.slots[0].set(value, won),
            Some(_) => {
                let Some(s) = value.as_struct_opt() else {
                    return exec_err!("arg_max/arg_min: a struct value expected");
                };
                for (slot, column) in self.slots.iter_mut().zip(s.columns()) {
                    slot.set(column, won)?;
                }
                Ok(())
            }
        }
    }

    /// The emitted groups' values in the input's type (`seen`: those groups' flags; an
    /// unseen group's struct is NULL).
    pub(super) fn take(&mut self, emit_to: EmitTo, seen: &[bool]) -> Result<ArrayRef> {
        match &self.fields {
            None => self.slots[0].take(emit_to, &self.value_type),
            Some(fields) => {
                let columns = self
                    .slots
                    .iter_mut()
                    .zip(fields.iter())
                    .map(|(slot, f)| slot.take(emit_to, f.data_type()))
                    .collect::<Result<Vec<_>>>()?;
                let nulls = NullBuffer::from(seen.to_vec());
                Ok(Arc::new(StructArray::try_new(
                    fields.clone(),
                    columns,
                    Some(nulls),
                )?))
            }
        }
    }

    pub(super) fn size(&self) -> usize {
        self.slots.iter().map(Slot::size).sum()
    }
}
