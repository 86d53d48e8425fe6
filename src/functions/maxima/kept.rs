//! What an entry of `arg_max_of_maxima` keeps: each distinct argument once.
//!
//! The best prediction's call ranks a part's rows by (score, terminal, id) and the winners by
//! (terminal, score, id), and its value is a struct of columns among which are the keys (the
//! winner's id and score): an entry that encoded every argument held each key two or three
//! times (SF1: 69 bytes an entry, 3M entries). An outer key that is the same expression as the
//! part or a key is compared from that argument's bytes; a value (or a field of a struct
//! value) that is the same expression as a key argument is decoded from its bytes when the
//! output is built. Partial states keep their full form, every key argument encoded and every
//! value field stored: a state's fields are declared before the arguments' expressions are
//! known, and an accumulator without them (a test's) keeps everything.

use crate::functions::best_values::Values;
use crate::functions::key_tuple::{decodable, decode, Layout};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, FieldRef, Fields};
use datafusion::common::Result;
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr_common::physical_expr::is_volatile;
use datafusion::physical_plan::PhysicalExpr;
use std::cmp::Ordering;
use std::sync::Arc;

/// Where an output value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    /// Column `k` of the stored values.
    Stored(usize),
    /// Key `k` of an entry's tuple.
    Key(usize),
}

/// How a call's entries are kept.
#[derive(Debug)]
pub(super) struct Kept {
    /// Every key argument (part, keys, outer keys) encoded: a partial state's tuple.
    pub full: Layout,
    /// The key arguments an entry stores, encoded in order: the part, the keys, and the outer
    /// keys that repeat none of them.
    pub layout: Layout,
    /// Bytes of the part, of the part and the keys, of an entry's tuple.
    pub part: usize,
    pub keys: usize,
    pub width: usize,
    /// The key arguments stored (their indexes among the key arguments), in order.
    stored: Vec<usize>,
    /// Per key argument, the stored key that holds its bytes.
    holder: Vec<usize>,
    /// The outer keys' bytes in an entry's tuple, in the order they compare.
    outer: Vec<(usize, usize)>,
    /// The value's type, and its fields when it is a struct.
    output: DataType,
    fields: Option<Fields>,
    /// Per value column (the value itself, or each struct field), where it comes from.
    sources: Vec<Source>,
    /// The type of the stored value columns (a struct of them when the value is a struct),
    /// None when every column comes from the keys.
    stored_type: Option<DataType>,
}

/// The length of each key tuple of a call with `arguments` arguments.
pub(super) fn key_count(arguments: usize) -> Result<usize> {
    if arguments < 4 || !arguments.is_multiple_of(2) {
        return datafusion::common::exec_err!(
            "{}(value, part, k1, …, kn, o1, …, on) needs a value, a part and two key \
             tuples of the same length; got {arguments} arguments",
            super::NAME
        );
    }
    Ok((arguments - 2) / 2)
}

/// The expressions of a value's columns: a `named_struct`'s field expressions, or the value's.
fn value_exprs(
    value: &Arc<dyn PhysicalExpr>,
    fields: Option<&Fields>,
) -> Vec<Arc<dyn PhysicalExpr>> {
    match fields {
        None => vec![value.clone()],
        Some(fields) => match value.downcast_ref::<ScalarFunctionExpr>() {
            Some(f) if f.name() == "named_struct" && f.args().len() == 2 * fields.len() => {
                f.args().iter().skip(1).step_by(2).cloned().collect()
            }
            _ => Vec::new(),
        },
    }
}

impl Kept {
    /// A call whose value has type `output`, with arguments `fields` (value, part, keys, outer
    /// keys) and, when known, their expressions `exprs`.
    pub(super) fn new(
        output: &DataType,
        fields: &[FieldRef],
        exprs: Option<&[Arc<dyn PhysicalExpr>]>,
    ) -> Result<Kept> {
        let n = key_count(fields.len())?;
        let key_fields = &fields[1..];
        let exprs = exprs.filter(|e| e.len() == fields.len());
        let key_exprs = exprs.map(|e| &e[1..]);
        // The same expression, of the same type: the same values, the same bytes — unless it
        // is volatile (two `random()` calls compare equal, and differ).
        let same = |a: usize, e: &Arc<dyn PhysicalExpr>, t: &DataType| {
            key_exprs.is_some_and(|k| k[a].as_ref() == e.as_ref())
                && key_fields[a].data_type() == t
                && !is_volatile(e)
        };
        let mut stored: Vec<usize> = Vec::new();
        let mut holder = Vec::with_capacity(key_fields.len());
        for a in 0..key_fields.len() {
            let earlier = (a > n)
                .then(|| {
                    let e = &key_exprs?[a];
                    let f = &key_fields[a];
                    stored.iter().position(|&b| {
                        same(b, e, f.data_type()) && key_fields[b].is_nullable() == f.is_nullable()
                    })
                })
                .flatten();
            holder.push(earlier.unwrap_or_else(|| {
                stored.push(a);
                stored.len() - 1
            }));
        }
        let layout = Layout::new(
            &stored
                .iter()
                .map(|&a| key_fields[a].clone())
                .collect::<Vec<_>>(),
        )?;
        let part = layout.span(0).1;
        let keys = (0..=n).map(|a| layout.span(a).1).sum();
        let outer = (n + 1..key_fields.len())
            .map(|a| layout.span(holder[a]))
            .collect();

        let fields_of = match output {
            DataType::Struct(f) => Some(f.clone()),
            _ => None,
        };
        let column_types: Vec<FieldRef> = match &fields_of {
            Some(f) => f.iter().cloned().collect(),
            None => vec![fields[0].clone()],
        };
        let exprs_of = match exprs {
            Some(e) => value_exprs(&e[0], fields_of.as_ref()),
            None => Vec::new(),
        };
        let mut sources = Vec::new();
        let mut kept_fields = Vec::new();
        for (i, f) in column_types.iter().enumerate() {
            let key = exprs_of.get(i).and_then(|e| {
                let t = f.data_type();
                decodable(t).then_some(())?;
                (0..key_fields.len())
                    .find(|&a| same(a, e, t))
                    .map(|a| holder[a])
            });
            sources.push(match key {
                Some(k) => Source::Key(k),
                None => {
                    kept_fields.push(f.clone());
                    Source::Stored(kept_fields.len() - 1)
                }
            });
        }
        let stored_type = match (&fields_of, kept_fields.is_empty()) {
            (_, true) => None,
            (Some(_), false) => Some(DataType::Struct(Fields::from(kept_fields))),
            (None, false) => Some(output.clone()),
        };
        Ok(Kept {
            full: Layout::new(key_fields)?,
            width: layout.width,
            layout,
            part,
            keys,
            stored,
            holder,
            outer,
            output: output.clone(),
            fields: fields_of,
            sources,
            stored_type,
        })
    }

    /// Every row's tuple from the key arguments' columns (`args`: part, keys, outer keys).
    pub(super) fn encode(&self, args: &[ArrayRef], rows: usize) -> Result<Vec<u8>> {
        let columns: Vec<ArrayRef> = self.stored.iter().map(|&a| args[a].clone()).collect();
        self.layout.encode(&columns, rows)
    }

    /// Entries' tuples from full tuples (`full`: `rows` of them).
    pub(super) fn compact(&self, full: &[u8], rows: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(rows * self.width);
        for row in full.chunks_exact(self.full.width).take(rows) {
            for &a in &self.stored {
                let (at, len) = self.full.span(a);
                out.extend_from_slice(&row[at..at + len]);
            }
        }
        out
    }

    /// An entry's tuple in full, appended to `out`.
    pub(super) fn expand(&self, entry: &[u8], out: &mut Vec<u8>) {
        for &h in &self.holder {
            let (at, len) = self.layout.span(h);
            out.extend_from_slice(&entry[at..at + len]);
        }
    }

    /// Two entries' outer tuples compared.
    pub(super) fn compare_outer(&self, a: &[u8], b: &[u8]) -> Ordering {
        for &(at, len) in &self.outer {
            let o = super::compare(&a[at..at + len], &b[at..at + len]);
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// The store of the values entries keep (None: every value column is a key).
    pub(super) fn values(&self) -> Result<Option<Values>> {
        self.stored_type.as_ref().map(Values::new).transpose()
    }

    /// The columns of `value` (a call's value, or a state's) that entries keep.
    pub(super) fn stored_value(&self, value: &ArrayRef) -> Result<Option<ArrayRef>> {
        let Some(t) = &self.stored_type else {
            return Ok(None);
        };
        let (Some(_), DataType::Struct(kept)) = (&self.fields, t) else {
            return Ok(Some(value.clone()));
        };
        if !self.sources.iter().any(|s| matches!(s, Source::Key(_))) {
            return Ok(Some(value.clone()));
        }
        let columns = value.as_struct().columns();
        let columns = self
            .sources
            .iter()
            .zip(columns)
            .filter(|(s, _)| matches!(s, Source::Stored(_)))
            .map(|(_, c)| c.clone())
            .collect();
        Ok(Some(Arc::new(StructArray::try_new(
            kept.clone(),
            columns,
            value.nulls().cloned(),
        )?)))
    }

    /// The values of the `chosen` entries (None: a NULL), `stored` their kept columns (taken
    /// in the same order), `entry` an entry's tuple.
    pub(super) fn output<'a>(
        &self,
        chosen: &[Option<u32>],
        stored: Option<ArrayRef>,
        entry: impl Fn(u32) -> &'a [u8],
    ) -> Result<ArrayRef> {
        let column = |i: usize, t: &DataType| -> Result<ArrayRef> {
            match self.sources[i] {
                Source::Key(k) => decode(&self.layout, k, t, chosen.iter().map(|c| c.map(&entry))),
                Source::Stored(k) => {
                    let s = stored.as_ref().expect("a stored column has a store");
                    Ok(match &self.fields {
                        Some(_) => s.as_struct().column(k).clone(),
                        None => s.clone(),
                    })
                }
            }
        };
        match &self.fields {
            None => column(0, &self.output),
            Some(fields) => {
                let columns = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| column(i, f.data_type()))
                    .collect::<Result<Vec<_>>>()?;
                let nulls =
                    NullBuffer::from(chosen.iter().map(Option::is_some).collect::<Vec<_>>());
                let nulls = (nulls.null_count() > 0).then_some(nulls);
                if fields.is_empty() {
                    return Ok(Arc::new(StructArray::new_empty_fields(chosen.len(), nulls)));
                }
                Ok(Arc::new(StructArray::try_new(
                    fields.clone(),
                    columns,
                    nulls,
                )?))
            }
        }
    }

    /// How many value columns are read from the keys (for tests).
    #[cfg(test)]
    pub(super) fn columns_from_keys(&self) -> usize {
        self.sources
            .iter()
            .filter(|s| matches!(s, Source::Key(_)))
            .count()
    }
}
