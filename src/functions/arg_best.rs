//! `arg_max(value, key1, …, keyN)` and `arg_min(value, key1, …, keyN)`: the `value` of the row
//! whose key tuple is lexicographically greatest (least) in its group — DuckDB's `arg_max`
//! with a tuple key, as one hash-aggregation pass with no sort. NULL keys sort before every
//! value; rows whose key tuples tie keep the first seen (queries always end the keys with a
//! unique id, so ties do not arise).
//!
//! The value may be a struct (`named_struct('id', id, 'score', score)`): several values of the
//! winning row for one comparison of its key tuple (`best_values.rs` keeps them).
//!
//! This is a building block that `queries/` names to say "top 1 per group"; the rules (which
//! rows, which order) stay in the SQL. DataFusion 55's `first_value(… ORDER BY …)` and window
//! `row_number() … = 1` sort their whole input; this keeps one key tuple per group instead.
//!
//! Keys are encoded per row as bytes that compare with one `memcmp` (`key_tuple.rs`). Partial
//! states carry the encoded tuple as `FixedSizeBinary`, so merging compares the same bytes.

use super::best_values::Values;
use super::key_tuple::{check_key, Layout};
use super::single_group::{Groups, Single};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, FixedSizeBinaryArray,
};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::cmp::Ordering;
use std::sync::Arc;

pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(ArgBest::new("arg_max", true)));
    ctx.register_udaf(AggregateUDF::from(ArgBest::new("arg_min", false)));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArgBest {
    name: &'static str,
    max: bool,
    signature: Signature,
}

impl ArgBest {
    fn new(name: &'static str, max: bool) -> Self {
        Self {
            name,
            max,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for ArgBest {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types.len() < 2 {
            return exec_err!(
                "{}(value, key, …) needs a value and at least one key",
                self.name
            );
        }
        value_type(self.name, arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single(self.groups(&args)?)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let width = Layout::new(&args.input_fields[1..])?.width;
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[seen]", args.name),
                DataType::Boolean,
                true,
            )),
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[keys]", args.name),
                DataType::FixedSizeBinary(width as i32),
                true,
            )),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups(&args)?))
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }
}

impl ArgBest {
    fn groups(&self, args: &AccumulatorArgs) -> Result<Best> {
        let value_type = args.return_field.data_type().clone();
        let layout = Layout::new(&args.expr_fields[1..])?;
        Ok(Best {
            max: self.max,
            width: layout.width,
            layout,
            seen: Vec::new(),
            keys: Vec::new(),
            values: Values::new(&value_type)?,
        })
    }
}

/// The result type of a top-1 call `name(value, key, …)` (the value's), once every argument
/// is typed, the value one `Values` keeps and every key one `key_tuple` encodes.
pub(super) fn value_type(name: &str, arg_types: &[DataType]) -> Result<DataType> {
    if let Some(i) = arg_types.iter().position(|t| *t == DataType::Null) {
        return exec_err!(
            "{name}: argument {} is an untyped NULL (cast it, e.g. CAST(NULL AS BIGINT))",
            i + 1
        );
    }
    Values::check(&arg_types[0])?;
    arg_types[1..].iter().try_for_each(check_key)?;
    Ok(arg_types[0].clone())
}

/// The best key tuple and value of every group.
#[derive(Debug, Clone)]
struct Best {
    max: bool,
    /// Bytes of one encoded key tuple.
    width: usize,
    layout: Layout,
    seen: Vec<bool>,
    keys: Vec<u8>,
    values: Values,
}

/// The rows a filter (or a state's `seen` flags) takes: its true, non-NULL rows; None when
/// that is every row.
pub(super) fn taken(filter: &BooleanArray) -> Option<BooleanBuffer> {
    let mask = match filter.nulls() {
        Some(nulls) => filter.values() & nulls.inner(),
        None => filter.values().clone(),
    };
    (mask.count_set_bits() < mask.len()).then_some(mask)
}

/// Two encoded key tuples compared as unsigned bytes (what `memcmp` gives), eight at a time.
#[inline]
pub(super) fn compare(a: &[u8], b: &[u8]) -> Ordering {
    let (mut a, mut b) = (a, b);
    while a.len() >= 8 && b.len() >= 8 {
        let (x, y) = (&a[..8], &b[..8]);
        let x = u64::from_be_bytes(x.try_into().expect("8 bytes"));
        let y = u64::from_be_bytes(y.try_into().expect("8 bytes"));
        if x != y {
            return x.cmp(&y);
        }
        (a, b) = (&a[8..], &b[8..]);
    }
    a.cmp(b)
}

impl Groups for Best {
    fn resize(&mut self, groups: usize) {
        Best::resize(self, groups)
    }
}

impl Best {
    fn resize(&mut self, groups: usize) {
        self.seen.resize(groups, false);
        self.keys.resize(groups * self.width, 0);
        self.values.resize(groups);
    }

    /// Offer rows (`keys`: their encoded tuples) to their groups; set the winners' values.
    fn offer(
        &mut self,
        value: &ArrayRef,
        keys: &[u8],
        groups: &[usize],
        take: Option<BooleanBuffer>,
    ) -> Result<()> {
        let w = self.width;
        let wanted = if self.max {
            Ordering::Greater
        } else {
            Ordering::Less
        };
        let mut won: Vec<(usize, usize)> = Vec::new();
        for (row, &g) in groups.iter().enumerate() {
            if take.as_ref().is_some_and(|t| !t.value(row)) {
                continue;
            }
            let k = &keys[row * w..(row + 1) * w];
            let current = &self.keys[g * w..(g + 1) * w];
            let better = !self.seen[g] || compare(k, current) == wanted;
            if better {
                self.seen[g] = true;
                self.keys[g * w..(g + 1) * w].copy_from_slice(k);
                won.push((g, row));
            }
        }
        self.values.set(value, &won)
    }

    /// Encoded key tuples as the `FixedSizeBinary` state column.
    fn key_array(&self, keys: Vec<u8>) -> Result<FixedSizeBinaryArray> {
        Ok(FixedSizeBinaryArray::try_new(
            self.width as i32,
            keys.into(),
            None,
        )?)
    }

    fn take_keys(&mut self, emit_to: EmitTo) -> Vec<u8> {
        match emit_to {
            EmitTo::All => std::mem::take(&mut self.keys),
            EmitTo::First(n) => {
                let rest = self.keys.split_off(n * self.width);
                std::mem::replace(&mut self.keys, rest)
            }
        }
    }
}

impl GroupsAccumulator for Best {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let keys = self.layout.encode(&values[1..], group_indices.len())?;
        self.offer(&values[0], &keys, group_indices, opt_filter.and_then(taken))
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let seen = emit_to.take_needed(&mut self.seen);
        self.take_keys(emit_to);
        self.values.take(emit_to, &seen)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let seen = emit_to.take_needed(&mut self.seen);
        let keys = self.take_keys(emit_to);
        let value = self.values.take(emit_to, &seen)?;
        let mut b = BooleanBuilder::with_capacity(seen.len());
        b.append_slice(&seen);
        let keys = self.key_array(keys)?;
        Ok(vec![Arc::new(b.finish()), value, Arc::new(keys)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let seen = values[0].as_boolean();
        let keys = values[2].as_fixed_size_binary();
        let bytes = if keys.is_empty() {
            &[][..]
        } else {
            keys.value_data()
        };
        self.offer(&values[1], bytes, group_indices, taken(seen))
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values[0].len();
        let keys = self.layout.encode(&values[1..], rows)?;
        // The rows the filter takes, the same rule as `update_batch`'s.
        let seen = match opt_filter.and_then(taken) {
            Some(mask) => BooleanArray::new(mask, None),
            None => BooleanArray::from(vec![true; rows]),
        };
        Ok(vec![
            Arc::new(seen),
            values[0].clone(),
            Arc::new(self.key_array(keys)?),
        ])
    }

    fn size(&self) -> usize {
        self.seen.capacity() + self.keys.capacity() + self.values.size()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    async fn run(sql: &str) -> String {
        let ctx = SessionContext::new();
        super::register(&ctx);
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    const ROWS: &str = "(VALUES (1, 10, 0.5, true), (1, 11, 0.9, false), (1, 12, 0.9, true), \
                        (1, 13, NULL, true), (2, 20, NULL, false), (2, 21, -1.5, false))";

    #[tokio::test]
    async fn lexicographic_keys_nulls_first_and_min() {
        // Per group: greatest (score, terminal) — NULL scores lose; least score — NULL wins.
        let out = run(&format!(
            "SELECT column1 AS g, arg_max(column2, column3, column4) AS best, \
                    arg_min(column2, column3, column2) AS least, \
                    arg_max(column3, column3 IS NULL, column3, column2) AS nulls_first \
             FROM {ROWS} GROUP BY column1 ORDER BY g"
        ))
        .await;
        let expected = "\
+---+------+-------+-------------+
| g | best | least | nulls_first |
+---+------+-------+-------------+
| 1 | 12   | 13    |             |
| 2 | 21   | 20    |             |
+---+------+-------+-------------+";
        assert_eq!(out, expected);
    }

    #[tokio::test]
    async fn text_values_and_the_single_group_form() {
        let out = run(&format!(
            "SELECT arg_max(CAST(column2 AS VARCHAR), column3, column2) AS best_text, \
                    arg_min(column4, column2) AS first_terminal FROM {ROWS}"
        ))
        .await;
        let expected = "\
+-----------+----------------+
| best_text | first_terminal |
+-----------+----------------+
| 12        | true           |
+-----------+----------------+";
        assert_eq!(out, expected);
    }

    #[tokio::test]
    async fn struct_values_carry_the_winning_row() {
        // One comparison per row, several values of the winner (NULL keys lose); an empty group's struct is
        // NULL (the single-group form over no rows).
        let out = run(&format!(
            "SELECT column1 AS g, \
                    arg_max(named_struct('id', column2, 'score', column3, 'terminal', column4, \
                                         'name', CAST(column2 AS VARCHAR)), column3, column4, column2) AS w \
             FROM {ROWS} GROUP BY column1 ORDER BY g"
        ))
        .await;
        let expected = "\
+---+--------------------------------------------------+
| g | w                                                |
+---+--------------------------------------------------+
| 1 | {id: 12, score: 0.9, terminal: true, name: 12}   |
| 2 | {id: 21, score: -1.5, terminal: false, name: 21} |
+---+--------------------------------------------------+";
        assert_eq!(out, expected);
        let none = run(&format!(
            "SELECT arg_max(named_struct('id', column2), column2) IS NULL AS empty FROM {ROWS} WHERE column2 > 100"
        ))
        .await;
        assert!(none.contains("| true  |"), "{none}");
    }

    #[test]
    fn filters_are_masks_of_their_true_non_null_rows_slices_included() {
        use datafusion::arrow::array::BooleanArray;
        let f = BooleanArray::from(vec![Some(true), None, Some(false), Some(true), Some(true)]);
        let mask = super::taken(&f.slice(1, 4)).unwrap();
        let rows: Vec<bool> = (0..4).map(|i| mask.value(i)).collect();
        assert_eq!(rows, [false, false, true, true]);
        // Every row taken: no mask.
        assert!(super::taken(&f.slice(3, 2)).is_none());
        assert!(super::taken(&BooleanArray::from(vec![true, true])).is_none());
    }

    #[test]
    fn key_tuples_compare_as_their_bytes() {
        // Every width from 0 to 27, with tuples equal up to each position.
        let mut n = 0u64;
        for width in 0..28usize {
            for cut in 0..=width {
                let a: Vec<u8> = (0..width).map(|i| (i * 37 % 251) as u8).collect();
                let mut b = a.clone();
                if cut < width {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
                    b[cut] = (n >> 33) as u8;
                }
                assert_eq!(super::compare(&a, &b), a.cmp(&b), "{a:?} {b:?}");
                assert_eq!(super::compare(&b, &a), b.cmp(&a), "{a:?} {b:?}");
            }
        }
    }

    #[tokio::test]
    async fn skipped_partial_aggregation_keeps_the_filter() {
        // Partial aggregation skipped from the first batch on: every row goes through
        // convert_to_state, whose `seen` flags must drop the rows the FILTER drops.
        let mut config = datafusion::prelude::SessionConfig::new()
            .with_target_partitions(3)
            .with_batch_size(50);
        let options = &mut config.options_mut().execution;
        options.skip_partial_aggregation_probe_rows_threshold = 1;
        options.skip_partial_aggregation_probe_ratio_threshold = 0.0;
        let ctx = SessionContext::new_with_config(config);
        super::register(&ctx);
        let data = "SELECT value AS id, value % 41 AS g, (value * 7919) % 101 AS s FROM generate_series(1, 50000)";
        let fast = format!(
            "SELECT g, arg_max(id, s, id) FILTER (WHERE s < 90) AS id \
             FROM ({data}) GROUP BY g ORDER BY g"
        );
        let slow = format!(
            "SELECT g, max(CASE WHEN rn = 1 THEN id END) AS id FROM (SELECT *, row_number() OVER \
             (PARTITION BY g ORDER BY s DESC, id DESC) rn FROM ({data}) WHERE s < 90) \
             GROUP BY g ORDER BY g"
        );
        let a = ctx.sql(&fast).await.unwrap().collect().await.unwrap();
        let b = ctx.sql(&slow).await.unwrap().collect().await.unwrap();
        let a = pretty_format_batches(&a).unwrap().to_string();
        assert_eq!(a, pretty_format_batches(&b).unwrap().to_string());
        assert_eq!(a.lines().count(), 41 + 4);
    }

    #[tokio::test]
    async fn merged_partial_states_agree_with_one_pass() {
        // Many groups over several partitions exercise state(), merge_batch() and
        // convert_to_state(); the answer must equal a window-function formulation.
        let ctx = SessionContext::new_with_config(
            datafusion::prelude::SessionConfig::new()
                .with_target_partitions(4)
                .with_batch_size(64),
        );
        super::register(&ctx);
        let data = "SELECT value AS id, value % 97 AS g, (value * 7919) % 101 AS s FROM generate_series(1, 20000)";
        let fast =
            format!("SELECT g, arg_max(id, s, id) AS id FROM ({data}) GROUP BY g ORDER BY g");
        let slow = format!(
            "SELECT g, id FROM (SELECT *, row_number() OVER (PARTITION BY g ORDER BY s DESC, id DESC) rn \
             FROM ({data})) WHERE rn = 1 ORDER BY g"
        );
        // The same winners carried in a struct (its fields through state() and merge too).
        let fields = format!(
            "SELECT g, w['id'] AS id FROM (SELECT g, arg_max(named_struct('id', id, 's', s), s, id) AS w \
             FROM ({data}) GROUP BY g) ORDER BY g"
        );
        let a = ctx.sql(&fast).await.unwrap().collect().await.unwrap();
        let b = ctx.sql(&slow).await.unwrap().collect().await.unwrap();
        let c = ctx.sql(&fields).await.unwrap().collect().await.unwrap();
        let a = pretty_format_batches(&a).unwrap().to_string();
        assert_eq!(a, pretty_format_batches(&b).unwrap().to_string());
        assert_eq!(a, pretty_format_batches(&c).unwrap().to_string());
        assert_eq!(a.lines().count(), 97 + 4);
    }
}
