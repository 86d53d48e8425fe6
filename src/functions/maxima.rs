//! `arg_max_of_maxima(value, part, k1, …, kn, o1, …, on)`: two top-1 passes in one
//! aggregation. Within a group, each distinct `part` has a winner, its row with the greatest
//! key tuple `(k1, …, kn)`; the function returns the `value` of the winner whose tuple
//! `(o1, …, on)` is greatest. The keys are split in halves: the first half ranks the rows of a
//! part, the second the parts' winners. A part whose rows the FILTER drops has no winner; a
//! group without winners gives NULL. NULL parts are a part of their own; NULL keys sort before
//! every value (as in `arg_max`, whose encoding this shares: `key_tuple.rs`).
//!
//! This is `arg_max(arg_max(…) GROUP BY g, part) GROUP BY g` without the inner aggregation:
//! the best prediction's per-algorithm winners, grouped by (occurrence, algorithm), made a hash
//! table of every (occurrence, algorithm) pair (SF10: 30M groups, 15 s of the list view's
//! 20), where grouping by occurrence alone keeps each occurrence's few winners in a short
//! list. The rule (which rows, which orders) stays in `queries/03_predictions.sql`.
//!
//! Partial states are one list per group of its winners: `(tuple, value)`, the tuple the
//! winner's part, keys and outer keys encoded.

use super::arg_best::{compare, taken, value_type};
use super::best_values::Values;
use super::single_group::{Groups, Single};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, FixedSizeBinaryArray, ListArray, StructArray,
    UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{filter, take};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use kept::{key_count, Kept};
use std::cmp::Ordering;
use std::sync::Arc;

pub const NAME: &str = "arg_max_of_maxima";

pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(ArgMaxOfMaxima {
        signature: Signature::variadic_any(Volatility::Immutable),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArgMaxOfMaxima {
    signature: Signature,
}

impl AggregateUDFImpl for ArgMaxOfMaxima {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        key_count(arg_types.len())?;
        value_type(NAME, arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single(Maxima::new(&args)?)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let kept = Kept::new(args.return_field.data_type(), args.input_fields, None)?;
        Ok(vec![Arc::new(Field::new(
            format!("{}[winners]", args.name),
            DataType::List(Arc::new(Field::new_list_field(
                DataType::Struct(winner_fields(
                    kept.full.width,
                    args.return_field.data_type(),
                )),
                false,
            ))),
            true,
        ))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Maxima::new(&args)?))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }
}

/// The fields of a winner in a partial state: its encoded tuple, its value.
fn winner_fields(width: usize, value: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("tuple", DataType::FixedSizeBinary(width as i32), false),
        Field::new("value", value.clone(), true),
    ])
}

const NONE: u32 = u32::MAX;

/// Every group's winners: one entry per (group, part), chained from the group's head.
#[derive(Debug, Clone)]
struct Maxima {
    kept: Arc<Kept>,
    /// A group's most recently added entry, or NONE.
    head: Vec<u32>,
    /// The entry added before this one to its group, or NONE.
    next: Vec<u32>,
    /// Every entry's encoded tuple.
    tuples: Vec<u8>,
    /// Every entry's value columns that are not keys.
    values: Option<Values>,
}

impl Groups for Maxima {
    fn resize(&mut self, groups: usize) {
        self.head.resize(groups, NONE);
    }
}

impl Maxima {
    fn new(args: &AccumulatorArgs) -> Result<Maxima> {
        let kept = Kept::new(
            args.return_field.data_type(),
            args.expr_fields,
            Some(args.exprs),
        )?;
        Maxima::of_kept(Arc::new(kept))
    }

    /// For a call whose value has type `value_type` and whose arguments are `fields`, their
    /// expressions unknown (every argument kept).
    #[cfg(test)]
    fn of(value_type: &DataType, fields: &[FieldRef]) -> Result<Maxima> {
        Maxima::of_kept(Arc::new(Kept::new(value_type, fields, None)?))
    }

    fn of_kept(kept: Arc<Kept>) -> Result<Maxima> {
        Ok(Maxima {
            values: kept.values()?,
            kept,
            head: Vec::new(),
            next: Vec::new(),
            tuples: Vec::new(),
        })
    }

    fn entry(&self, e: u32) -> &[u8] {
        let w = self.kept.width;
        &self.tuples[e as usize * w..(e as usize + 1) * w]
    }

    /// Offer rows `(row, group)` (`tuples`: every row's encoded tuple; `value`: the rows'
    /// value columns that entries keep) to their groups' winners.
    fn offer(
        &mut self,
        value: Option<ArrayRef>,
        tuples: &[u8],
        rows: impl Iterator<Item = (usize, usize)>,
    ) -> Result<()> {
        let Kept {
            part, keys, width, ..
        } = *self.kept;
        let mut won: Vec<(usize, usize)> = Vec::new();
        for (row, g) in rows {
            let t = &tuples[row * width..(row + 1) * width];
            let mut e = self.head[g];
            while e != NONE && self.entry(e)[..part] != t[..part] {
                e = self.next[e as usize];
            }
            let e = if e == NONE {
                let e = self.next.len();
                if e >= NONE as usize {
                    return exec_err!("{NAME}: more than {} winners", NONE - 1);
                }
                self.next.push(self.head[g]);
                self.head[g] = e as u32;
                self.tuples.extend_from_slice(t);
                e
            } else {
                if compare(&t[part..keys], &self.entry(e)[part..keys]) != Ordering::Greater {
                    continue;
                }
                let e = e as usize;
                self.tuples[e * width..(e + 1) * width].copy_from_slice(t);
                e
            };
            won.push((e, row));
        }
        self.set_values(value.as_ref(), &won)
    }

    /// Set entry `e`'s kept value columns to row `row` of `value`, for every `(e, row)`.
    fn set_values(&mut self, value: Option<&ArrayRef>, won: &[(usize, usize)]) -> Result<()> {
        match (&mut self.values, value) {
            (Some(values), Some(value)) => {
                values.resize(self.next.len());
                values.set(value, won)
            }
            _ => Ok(()),
        }
    }

    /// Every entry's kept value columns (the store emptied: the caller rebuilds what it keeps).
    fn take_values(&mut self) -> Result<Option<ArrayRef>> {
        let Some(values) = self.values.as_mut() else {
            return Ok(None);
        };
        let all = vec![true; self.next.len()];
        let taken = values.take(EmitTo::All, &all)?;
        self.values = self.kept.values()?;
        Ok(Some(taken))
    }

    /// The values of the `chosen` entries (None: NULL) in the call's type.
    fn output(&self, chosen: &[Option<u32>], values: Option<&ArrayRef>) -> Result<ArrayRef> {
        let stored = match values {
            Some(v) => Some(take(v.as_ref(), &UInt32Array::from(chosen.to_vec()), None)?),
            None => None,
        };
        self.kept.output(chosen, stored, |e| self.entry(e))
    }

    /// The entries of each of the first `n` groups, in group order (for a group, most
    /// recently added first), with the list offsets.
    fn entries_of_first(&self, n: usize) -> (Vec<u32>, Vec<usize>) {
        let mut entries = Vec::new();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        for &h in &self.head[..n] {
            let mut e = h;
            while e != NONE {
                entries.push(e);
                e = self.next[e as usize];
            }
            offsets.push(entries.len());
        }
        (entries, offsets)
    }

    /// Drop the first `n` groups (emitted), keeping the others' entries; `values`: every
    /// entry's value, from `take_values`.
    fn keep_after(&mut self, n: usize, values: Option<&ArrayRef>) -> Result<()> {
        let old = std::mem::replace(self, Maxima::of_kept(self.kept.clone())?);
        let mut won = Vec::new();
        for &h in &old.head[n..] {
            // Re-chained in the same order: oldest first, so the head is the newest again.
            let mut chain = Vec::new();
            let mut e = h;
            while e != NONE {
                chain.push(e);
                e = old.next[e as usize];
            }
            let mut head = NONE;
            for &e in chain.iter().rev() {
                let new = self.next.len();
                self.next.push(head);
                head = new as u32;
                self.tuples.extend_from_slice(old.entry(e));
                won.push((new, e as usize));
            }
            self.head.push(head);
        }
        self.set_values(values, &won)
    }

    fn emitted(&self, emit_to: EmitTo) -> usize {
        match emit_to {
            EmitTo::All => self.head.len(),
            EmitTo::First(n) => n.min(self.head.len()),
        }
    }

    /// A partial state: per row, the list of `tuples`' winners at `offsets`.
    fn lists(&self, tuples: Vec<u8>, values: ArrayRef, offsets: Vec<usize>) -> Result<ArrayRef> {
        let Ok(offsets) = offsets
            .into_iter()
            .map(i32::try_from)
            .collect::<std::result::Result<Vec<i32>, _>>()
        else {
            return exec_err!("{NAME}: more than {} winners in one state", i32::MAX);
        };
        let winners = StructArray::try_new(
            winner_fields(self.kept.full.width, values.data_type()),
            vec![
                Arc::new(FixedSizeBinaryArray::try_new(
                    self.kept.full.width as i32,
                    tuples.into(),
                    None,
                )?),
                values,
            ],
            None,
        )?;
        Ok(Arc::new(ListArray::try_new(
            Arc::new(Field::new_list_field(winners.data_type().clone(), false)),
            OffsetBuffer::new(offsets.into()),
            Arc::new(winners),
            None,
        )?))
    }
}

impl GroupsAccumulator for Maxima {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let tuples = self.kept.encode(&values[1..], group_indices.len())?;
        let take = opt_filter.and_then(taken);
        let rows = group_indices
            .iter()
            .copied()
            .enumerate()
            .filter(|(row, _)| take.as_ref().is_none_or(|t| t.value(*row)));
        let value = self.kept.stored_value(&values[0])?;
        self.offer(value, &tuples, rows)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let n = self.emitted(emit_to);
        // Each group's winner of winners: the greatest outer tuple (ties keep the newest).
        let mut best: Vec<Option<u32>> = Vec::with_capacity(n);
        for &h in &self.head[..n] {
            let mut e = h;
            let mut top: Option<u32> = None;
            while e != NONE {
                if top.is_none_or(|t| {
                    self.kept.compare_outer(self.entry(e), self.entry(t)) == Ordering::Greater
                }) {
                    top = Some(e);
                }
                e = self.next[e as usize];
            }
            best.push(top);
        }
        if n == self.head.len() {
            // Every group emitted: the winners' values are read where they are kept (not
            // every entry's copied out first: at SF10, 30M entries for 10M winners), and
            // the state is dropped.
            let stored = self.values.as_ref().map(|v| v.gather(&best)).transpose()?;
            let out = self.kept.output(&best, stored, |e| self.entry(e))?;
            *self = Maxima::of_kept(self.kept.clone())?;
            return Ok(out);
        }
        let values = self.take_values()?;
        let out = self.output(&best, values.as_ref())?;
        self.keep_after(n, values.as_ref())?;
        Ok(out)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let n = self.emitted(emit_to);
        let (entries, offsets) = self.entries_of_first(n);
        let mut tuples = Vec::with_capacity(entries.len() * self.kept.full.width);
        for &e in &entries {
            self.kept.expand(self.entry(e), &mut tuples);
        }
        let values = self.take_values()?;
        let chosen: Vec<Option<u32>> = entries.into_iter().map(Some).collect();
        let winners = self.output(&chosen, values.as_ref())?;
        self.keep_after(n, values.as_ref())?;
        Ok(vec![self.lists(tuples, winners, offsets)?])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let list = values[0].as_list::<i32>();
        let winners = list.values().as_struct();
        let tuples = winners.column(0).as_fixed_size_binary();
        if tuples.value_length() as usize != self.kept.full.width {
            return exec_err!(
                "{NAME}: a partial state's tuples have {} bytes, {} expected",
                tuples.value_length(),
                self.kept.full.width
            );
        }
        let tuples = if tuples.is_empty() {
            Vec::new()
        } else {
            self.kept.compact(tuples.value_data(), tuples.len())
        };
        let offsets = list.value_offsets();
        // A NULL list holds no winner (whatever its offsets say).
        let rows = group_indices
            .iter()
            .enumerate()
            .filter(|(i, _)| list.is_valid(*i))
            .flat_map(|(i, &g)| {
                (offsets[i] as usize..offsets[i + 1] as usize).map(move |row| (row, g))
            });
        let value = self.kept.stored_value(winners.column(1))?;
        self.offer(value, &tuples, rows)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        // Every row a list of one winner; a row the FILTER drops an empty list.
        let (values, offsets): (Vec<ArrayRef>, Vec<usize>) = match opt_filter.and_then(taken) {
            Some(mask) => {
                let mut offsets = Vec::with_capacity(rows + 1);
                offsets.push(0);
                let mut n = 0;
                for row in 0..rows {
                    n += mask.value(row) as usize;
                    offsets.push(n);
                }
                let mask = BooleanArray::new(mask, None);
                let kept = values
                    .iter()
                    .map(|v| filter(v.as_ref(), &mask))
                    .collect::<std::result::Result<_, _>>()?;
                (kept, offsets)
            }
            None => (values.to_vec(), (0..=rows).collect()),
        };
        let tuples = self.kept.full.encode(&values[1..], values[0].len())?;
        Ok(vec![self.lists(tuples, values[0].clone(), offsets)?])
    }

    fn size(&self) -> usize {
        self.head.capacity() * 4
            + self.next.capacity() * 4
            + self.tuples.capacity()
            + self.values.as_ref().map_or(0, Values::size)
    }
}

mod kept;
#[cfg(test)]
mod tests;
