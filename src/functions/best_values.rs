//! The values `arg_max`/`arg_min` keep per group: one column of a scalar type, or the columns
//! of a struct (`arg_max(named_struct('id', id, 'score', score), …)` carries several values
//! of the winning row with one comparison of its key tuple).

use super::chunked::{Chunked, Ints, Validity};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, StringArray, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::{BooleanBuffer, NullBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Fields, Float64Type, Int64Type};
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

/// One column of values, a value per group: the values and their validity side by side (a
/// group never set is NULL by the aggregate's `seen` flags), texts in one byte arena.
#[derive(Debug, Clone)]
enum Slot {
    Int(Ints, Validity),
    Float(Chunked<f64>, Validity),
    Bool(Chunked<bool>, Validity),
    Text(Texts),
}

/// Each group's text as a span of one arena (no allocation per group). A winner's text is
/// written over its group's old one when it fits, else appended; the arena is compacted when
/// less than half of it is still referenced.
#[derive(Debug, Clone, Default)]
struct Texts {
    spans: Vec<(usize, usize)>,
    valid: Vec<bool>,
    bytes: Vec<u8>,
    /// Bytes of `bytes` that spans reference.
    live: usize,
}

impl Texts {
    fn resize(&mut self, groups: usize) {
        if groups < self.spans.len() {
            self.live -= self.spans[groups..].iter().map(|s| s.1).sum::<usize>();
        }
        self.spans.resize(groups, (0, 0));
        self.valid.resize(groups, false);
    }

    fn set(&mut self, g: usize, text: Option<&str>) {
        let (start, len) = self.spans[g];
        self.live -= len;
        self.valid[g] = text.is_some();
        let new = text.unwrap_or("").as_bytes();
        self.live += new.len();
        if new.len() <= len {
            self.bytes[start..start + new.len()].copy_from_slice(new);
            self.spans[g] = (start, new.len());
        } else {
            self.spans[g] = (self.bytes.len(), new.len());
            self.bytes.extend_from_slice(new);
        }
    }

    /// The texts of groups `chosen` (None: NULL), read in place.
    fn gather(&self, chosen: &[Option<u32>]) -> Result<StringArray> {
        let mut out = StringBuilder::with_capacity(chosen.len(), 0);
        for c in chosen {
            match c.map(|g| g as usize) {
                Some(g) if self.valid[g] => {
                    let (start, len) = self.spans[g];
                    let text = std::str::from_utf8(&self.bytes[start..start + len])
                        .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))?;
                    out.append_value(text);
                }
                _ => out.append_null(),
            }
        }
        Ok(out.finish())
    }

    fn compact_if_sparse(&mut self) {
        if self.bytes.len() <= 2 * self.live + (1 << 20) {
            return;
        }
        let mut bytes = Vec::with_capacity(self.live);
        for span in &mut self.spans {
            let (start, len) = *span;
            *span = (bytes.len(), len);
            bytes.extend_from_slice(&self.bytes[start..start + len]);
        }
        self.bytes = bytes;
    }

    fn take(&mut self, emit_to: EmitTo) -> Result<StringArray> {
        let spans = emit_to.take_needed(&mut self.spans);
        let valid = emit_to.take_needed(&mut self.valid);
        let total: usize = spans.iter().map(|s| s.1).sum();
        let mut out = StringBuilder::with_capacity(spans.len(), total);
        for (&(start, len), &valid) in spans.iter().zip(&valid) {
            if valid {
                let text = std::str::from_utf8(&self.bytes[start..start + len])
                    .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))?;
                out.append_value(text);
            } else {
                out.append_null();
            }
        }
        self.live -= total;
        if self.spans.is_empty() {
            self.bytes = Vec::new();
        } else {
            self.compact_if_sparse();
        }
        Ok(out.finish())
    }
}

/// Structs of `columns`, NULL where `valid` is false.
fn structs(fields: &Fields, columns: Vec<ArrayRef>, valid: Vec<bool>) -> Result<ArrayRef> {
    let nulls = NullBuffer::from(valid);
    Ok(Arc::new(StructArray::try_new(
        fields.clone(),
        columns,
        Some(nulls),
    )?))
}

/// Values and validity as an Arrow primitive array.
fn primitive<T: ArrowPrimitiveType>(values: Vec<T::Native>, valid: Vec<bool>) -> ArrayRef {
    Arc::new(PrimitiveArray::<T>::new(
        values.into(),
        Some(NullBuffer::from(valid)),
    ))
}

impl Slot {
    fn new(t: &DataType) -> Result<Slot> {
        Ok(match store_of(t)? {
            Store::Int => Slot::Int(Ints::new(t), Validity::default()),
            Store::Float => Slot::Float(Chunked::default(), Validity::default()),
            Store::Bool => Slot::Bool(Chunked::default(), Validity::default()),
            Store::Text => Slot::Text(Texts::default()),
        })
    }

    fn resize(&mut self, groups: usize) {
        match self {
            Slot::Int(v, ok) => {
                v.resize(groups);
                ok.resize(groups)
            }
            Slot::Float(v, ok) => {
                v.resize(groups);
                ok.resize(groups)
            }
            Slot::Bool(v, ok) => {
                v.resize(groups);
                ok.resize(groups)
            }
            Slot::Text(t) => t.resize(groups),
        }
    }

    /// Set group `g` to row `row` of `array`, for every `(g, row)` of `won`.
    fn set(&mut self, array: &ArrayRef, won: &[(usize, usize)]) -> Result<()> {
        match self {
            Slot::Int(v, ok) => {
                let a = cast(array, &DataType::Int64)?;
                let a = a.as_primitive::<Int64Type>();
                for &(g, row) in won {
                    let valid = a.is_valid(row);
                    // A NULL's value is whatever the array holds: kept as 0, not to widen.
                    v.set(g, if valid { a.value(row) } else { 0 });
                    ok.set(g, valid);
                }
            }
            Slot::Float(v, ok) => {
                let a = cast(array, &DataType::Float64)?;
                let a = a.as_primitive::<Float64Type>();
                for &(g, row) in won {
                    v.set(g, a.value(row));
                    ok.set(g, a.is_valid(row));
                }
            }
            Slot::Bool(v, ok) => {
                let a = array.as_boolean();
                for &(g, row) in won {
                    v.set(g, a.value(row));
                    ok.set(g, a.is_valid(row));
                }
            }
            Slot::Text(t) => {
                let a = cast(array, &DataType::Utf8)?;
                let a = a.as_string::<i32>();
                for &(g, row) in won {
                    t.set(g, a.is_valid(row).then(|| a.value(row)));
                }
                t.compact_if_sparse();
            }
        }
        Ok(())
    }

    /// The emitted groups' values, cast to `t` (`seen`: whether each was set).
    fn take(&mut self, emit_to: EmitTo, seen: &[bool], t: &DataType) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            Slot::Int(v, ok) => {
                primitive::<Int64Type>(v.take_needed(emit_to), ok.take_needed(emit_to, seen))
            }
            Slot::Float(v, ok) => {
                primitive::<Float64Type>(v.take_needed(emit_to), ok.take_needed(emit_to, seen))
            }
            Slot::Bool(v, ok) => {
                let values = BooleanBuffer::from(v.take_needed(emit_to));
                let nulls = NullBuffer::from(ok.take_needed(emit_to, seen));
                Arc::new(BooleanArray::new(values, Some(nulls)))
            }
            Slot::Text(texts) => Arc::new(texts.take(emit_to)?),
        };
        Ok(cast(&array, t)?)
    }

    /// The values of groups `chosen` (None: NULL), read in place, cast to `t`.
    fn gather(&self, chosen: &[Option<u32>], t: &DataType) -> Result<ArrayRef> {
        fn pick<T: Default>(
            get: impl Fn(usize) -> T,
            ok: &Validity,
            chosen: &[Option<u32>],
        ) -> (Vec<T>, Vec<bool>) {
            chosen
                .iter()
                .map(|c| match c.map(|g| g as usize) {
                    Some(g) => (get(g), ok.get(g)),
                    None => (T::default(), false),
                })
                .unzip()
        }
        let array: ArrayRef = match self {
            Slot::Int(v, ok) => {
                let (values, valid) = pick(|g| v.get(g), ok, chosen);
                primitive::<Int64Type>(values, valid)
            }
            Slot::Float(v, ok) => {
                let (values, valid) = pick(|g| v.get(g), ok, chosen);
                primitive::<Float64Type>(values, valid)
            }
            Slot::Bool(v, ok) => {
                let (values, valid) = pick(|g| v.get(g), ok, chosen);
                Arc::new(BooleanArray::new(
                    BooleanBuffer::from(values),
                    Some(NullBuffer::from(valid)),
                ))
            }
            Slot::Text(texts) => Arc::new(texts.gather(chosen)?),
        };
        Ok(cast(&array, t)?)
    }

    fn size(&self) -> usize {
        match self {
            Slot::Int(v, ok) => v.bytes() + ok.bytes(),
            Slot::Float(v, ok) => v.capacity() * 8 + ok.bytes(),
            Slot::Bool(v, ok) => v.capacity() + ok.bytes(),
            Slot::Text(t) => t.spans.capacity() * 16 + t.valid.capacity() + t.bytes.capacity(),
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
            None => self.slots[0].take(emit_to, seen, &self.value_type),
            Some(fields) => {
                let columns = self
                    .slots
                    .iter_mut()
                    .zip(fields.iter())
                    .map(|(slot, f)| slot.take(emit_to, seen, f.data_type()))
                    .collect::<Result<Vec<_>>>()?;
                structs(fields, columns, seen.to_vec())
            }
        }
    }

    /// The values of groups `chosen` (None: NULL, a struct's too; the others: groups set, the
    /// winners) in the input's type, read in place: what `take` of every group and then of
    /// `chosen` gives, without a copy of every group's values.
    pub(super) fn gather(&self, chosen: &[Option<u32>]) -> Result<ArrayRef> {
        match &self.fields {
            None => self.slots[0].gather(chosen, &self.value_type),
            Some(fields) => {
                let columns = self
                    .slots
                    .iter()
                    .zip(fields.iter())
                    .map(|(slot, f)| slot.gather(chosen, f.data_type()))
                    .collect::<Result<Vec<_>>>()?;
                structs(
                    fields,
                    columns,
                    chosen.iter().map(Option::is_some).collect(),
                )
            }
        }
    }

    pub(super) fn size(&self) -> usize {
        self.slots.iter().map(Slot::size).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_values_are_those_taken_then_chosen() {
        use datafusion::arrow::array::{Int64Array, UInt32Array};
        use datafusion::arrow::compute::take as arrow_take;
        use datafusion::arrow::datatypes::{Field, TimeUnit};
        let fields = Fields::from(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("x", DataType::Utf8, true),
            Field::new("f", DataType::Float64, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ]);
        let rows: ArrayRef = Arc::new(
            StructArray::try_new(
                fields.clone(),
                vec![
                    Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])),
                    Arc::new(StringArray::from(vec![Some("a"), Some("bb"), None])),
                    Arc::new(datafusion::arrow::array::Float64Array::from(vec![
                        Some(-0.0),
                        Some(f64::NAN),
                        None,
                    ])),
                    Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
                    Arc::new(datafusion::arrow::array::TimestampMicrosecondArray::from(
                        vec![Some(5), None, Some(7)],
                    )),
                ],
                None,
            )
            .unwrap(),
        );
        let t = DataType::Struct(fields);
        let mut v = Values::new(&t).unwrap();
        v.resize(4); // group 3 never set
        v.set(&rows, &[(0, 2), (1, 0), (2, 1)]).unwrap();
        // A winner is a group set (here 0, 1, 2); group 3's struct is NULL when taken.
        let chosen = [Some(1), None, Some(0), Some(2)];
        let gathered = v.gather(&chosen).unwrap();
        let all = v.take(EmitTo::All, &[true, true, true, false]).unwrap();
        assert!(all.is_null(3) && all.is_valid(2));
        let indices = UInt32Array::from(chosen.to_vec());
        let taken = arrow_take(all.as_ref(), &indices, None).unwrap();
        assert_eq!(gathered.to_data(), taken.to_data());
    }

    /// Integers are kept in 32 bits until one does not fit; then every value is kept as set.
    #[test]
    fn integers_narrow_until_one_does_not_fit() {
        use datafusion::arrow::array::Int64Array;
        let t = DataType::Int64;
        let mut v = Values::new(&t).unwrap();
        v.resize(4);
        let small: ArrayRef = Arc::new(Int64Array::from(vec![
            Some(-7),
            None,
            Some(i32::MAX as i64),
        ]));
        v.set(&small, &[(0, 0), (1, 1), (2, 2)]).unwrap();
        assert!(matches!(&v.slots[0], Slot::Int(Ints::Narrow(_), _)));
        let narrow = v.size();
        let big: ArrayRef = Arc::new(Int64Array::from(vec![i64::MIN, 1 << 40]));
        v.set(&big, &[(3, 1)]).unwrap();
        assert!(matches!(&v.slots[0], Slot::Int(Ints::Wide(_), _)));
        assert!(v.size() > narrow, "{} {narrow}", v.size());
        let gathered = v.gather(&[Some(3), Some(1), None, Some(0)]).unwrap();
        assert_eq!(
            gathered
                .as_primitive::<Int64Type>()
                .iter()
                .collect::<Vec<_>>(),
            [Some(1 << 40), None, None, Some(-7)]
        );
        v.set(&big, &[(1, 0)]).unwrap();
        let first = v.take(EmitTo::First(2), &[true; 2]).unwrap();
        assert_eq!(
            first.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
            [Some(-7), Some(i64::MIN)]
        );
        let rest = v.take(EmitTo::All, &[true; 2]).unwrap();
        assert_eq!(
            rest.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
            [Some(i32::MAX as i64), Some(1 << 40)]
        );
    }

    #[test]
    fn texts_in_one_arena_survive_overwrites_compaction_and_partial_emission() {
        let mut t = Texts::default();
        t.resize(3);
        let long = "x".repeat(2 << 20);
        t.set(0, Some("first"));
        t.set(1, Some(&long));
        t.set(2, None);
        t.set(0, Some("1st")); // fits: written in place
        t.set(1, Some("short")); // the long text is garbage now
        t.set(2, Some("third, longer than before"));
        assert_eq!(t.live, 3 + 5 + 25);
        t.compact_if_sparse();
        assert_eq!(t.bytes.len(), t.live);
        let first = t.take(EmitTo::First(1)).unwrap();
        assert_eq!(first.iter().collect::<Vec<_>>(), [Some("1st")]);
        t.resize(3);
        t.set(2, Some("new"));
        let rest = t.take(EmitTo::All).unwrap();
        let rest: Vec<_> = rest.iter().collect();
        assert_eq!(
            rest,
            [
                Some("short"),
                Some("third, longer than before"),
                Some("new")
            ]
        );
        assert_eq!((t.live, t.bytes.len()), (0, 0));
    }
}
