//! `repeated_keys(key)`: how many rows hold a non-NULL key that another row holds too (a key on
//! `n` rows counts `n - 1`); 0 when every key is unique.
//!
//! `GROUP BY key HAVING count(*) > 1` gives the same number with a hash table of every key
//! and a row per key out of it: the key check that runs before every answer computed from a
//! snapshot's tables took about 0.1 s of SF1's 1M occurrence ids that way. This aggregate keeps
//! the keys seen in a compressed bitmap (`roaring`): a bit a key when they are dense, as
//! serial ids are, at most a few bytes a key when they are not. Each partition counts its own
//! repeats; merging two partitions' bitmaps adds the keys both hold.

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{exec_datafusion_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use roaring::RoaringTreemap;
use std::sync::Arc;

pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(RepeatedKeys {
        signature: Signature::uniform(1, vec![DataType::Int64], Volatility::Immutable),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RepeatedKeys {
    signature: Signature,
}

impl AggregateUDFImpl for RepeatedKeys {
    fn name(&self) -> &str {
        "repeated_keys"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::<Keys>::default())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[keys]", args.name),
                DataType::Binary,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[repeats]", args.name),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn default_value(&self, _data_type: &DataType) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(0)))
    }
}

/// The keys seen (as their 64 bits, a bijection of the signed values) and the rows that
/// repeated one.
#[derive(Debug, Default)]
struct Keys {
    seen: RoaringTreemap,
    repeats: i64,
}

impl Keys {
    fn add(&mut self, key: i64) {
        if !self.seen.insert(key as u64) {
            self.repeats += 1;
        }
    }
}

impl Accumulator for Keys {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let keys = values[0].as_primitive::<Int64Type>();
        if keys.null_count() == 0 {
            keys.values().iter().for_each(|&k| self.add(k));
        } else {
            keys.iter().flatten().for_each(|k| self.add(k));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.repeats)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.seen.serialized_size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut bytes = Vec::with_capacity(self.seen.serialized_size());
        self.seen
            .serialize_into(&mut bytes)
            .map_err(|e| exec_datafusion_err!("repeated_keys: {e}"))?;
        Ok(vec![
            ScalarValue::Binary(Some(bytes)),
            ScalarValue::Int64(Some(self.repeats)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let keys = states[0].as_binary::<i32>();
        let repeats = states[1].as_primitive::<Int64Type>();
        for i in (0..keys.len()).filter(|&i| keys.is_valid(i)) {
            let other = RoaringTreemap::deserialize_from(keys.value(i))
                .map_err(|e| exec_datafusion_err!("repeated_keys: a partition's keys: {e}"))?;
            let both = self.seen.intersection_len(&other) as i64;
            self.repeats += repeats.value(i) + both;
            self.seen |= other;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn keys(values: &[Option<i64>]) -> Keys {
        let mut k = Keys::default();
        let array: ArrayRef = Arc::new(Int64Array::from(values.to_vec()));
        k.update_batch(&[array]).unwrap();
        k
    }

    fn repeats(k: &mut Keys) -> i64 {
        match k.evaluate().unwrap() {
            ScalarValue::Int64(Some(n)) => n,
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_key_on_n_rows_counts_n_minus_one_and_nulls_count_nothing() {
        let mut k = keys(&[
            Some(1),
            Some(2),
            Some(2),
            None,
            Some(2),
            None,
            Some(-3),
            Some(-3),
        ]);
        assert_eq!(repeats(&mut k), 3);
        // Keys at both ends of the 64 bits are kept apart.
        let mut k = keys(&[
            Some(i64::MIN),
            Some(i64::MAX),
            Some(-1),
            Some(0),
            Some(1 << 40),
        ]);
        assert_eq!(repeats(&mut k), 0);
        let mut k = keys(&[]);
        assert_eq!(repeats(&mut k), 0);
    }

    #[test]
    fn merged_partitions_add_the_keys_both_hold() {
        let mut merged = Keys::default();
        let mut a = keys(&[Some(1), Some(5), Some(5), Some(1 << 33)]);
        let mut b = keys(&[Some(5), Some(7), Some(1 << 33), Some(1 << 33)]);
        for part in [&mut a, &mut b] {
            let state = part.state().unwrap();
            let arrays: Vec<ArrayRef> = state.iter().map(|s| s.to_array().unwrap()).collect();
            merged.merge_batch(&arrays).unwrap();
        }
        // 5 on three rows (2), 2^33 on three rows (2); 1 and 7 once.
        assert_eq!(repeats(&mut merged), 4);
    }
}
