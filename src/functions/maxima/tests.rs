use super::{Kept, Maxima};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::config::ConfigOptions;
use datafusion::common::ScalarValue;
use datafusion::functions::core::named_struct;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

async fn run(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

fn session(config: SessionConfig) -> SessionContext {
    let ctx = SessionContext::new_with_config(config);
    super::register(&ctx);
    crate::functions::arg_best::register(&ctx);
    ctx
}

#[tokio::test]
async fn each_parts_winner_then_the_winner_of_winners() {
    // Group 1: part 7's winner by (score, id) is row 2 (0.9) — not row 1, though row 1 ranks
    // first by the outer keys (terminal); part 8's is row 4; the outer tuple (terminal, score,
    // id) then picks row 4 (terminal) over row 2. Group 2: the NULL part is a part of its
    // own (row 6 wins it, and then the group); part 9's rows are all filtered out (no winner).
    // Group 3: every row filtered out: NULL.
    let ctx = session(SessionConfig::new());
    let rows = "(VALUES (1, 1, 7, 0.5, true, true), (1, 2, 7, 0.9, false, true), \
                (1, 3, 8, 0.2, false, true), (1, 4, 8, 0.3, true, true), \
                (2, 5, 9, 0.99, true, false), (2, 6, CAST(NULL AS BIGINT), 0.1, false, true), \
                (2, 7, 10, 0.05, false, true), (3, 8, 11, 0.5, true, false))";
    let out = run(
        &ctx,
        &format!(
            "SELECT column1 AS g, \
                    arg_max_of_maxima(column2, column3, column4, column2, column5, column4) \
                      FILTER (WHERE column6) AS best \
             FROM {rows} GROUP BY column1 ORDER BY g"
        ),
    )
    .await;
    let expected = "\
+---+------+
| g | best |
+---+------+
| 1 | 4    |
| 2 | 6    |
| 3 |      |
+---+------+";
    assert_eq!(out, expected);
}

#[tokio::test]
async fn arguments_are_checked() {
    let ctx = session(SessionConfig::new());
    for (bad, says) in [
        (
            "arg_max_of_maxima(1, 2, 3)",
            "two key tuples of the same length",
        ),
        (
            "arg_max_of_maxima(1, 2, 3, 4, 5)",
            "two key tuples of the same length",
        ),
        (
            "arg_max_of_maxima(1, 2, 'text', 'text')",
            "text keys are not supported",
        ),
        (
            "arg_max_of_maxima(1, NULL, 3, 4)",
            "argument 2 is an untyped NULL",
        ),
    ] {
        let err = match ctx.sql(&format!("SELECT {bad}")).await {
            Ok(df) => df.collect().await.unwrap_err(),
            Err(e) => e,
        };
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
}

/// The two passes written with window functions: the reference for the generated rows.
fn reference(data: &str) -> String {
    format!(
        "SELECT g, max(CASE WHEN o = 1 THEN w END) AS best FROM ( \
           SELECT g, w, row_number() OVER (PARTITION BY g ORDER BY t DESC, s DESC, id DESC) AS o \
           FROM (SELECT g, named_struct('id', id, 's', s, 'p', p) AS w, t, s, id, \
                        row_number() OVER (PARTITION BY g, p ORDER BY s DESC, t DESC, id DESC) AS r \
                 FROM ({data}) WHERE f) WHERE r = 1) \
         GROUP BY g ORDER BY g"
    )
}

fn fast(data: &str) -> String {
    format!(
        "SELECT g, arg_max_of_maxima(named_struct('id', id, 's', s, 'p', p), p, s, t, id, t, s, id) \
           FILTER (WHERE f) AS best \
         FROM ({data}) GROUP BY g ORDER BY g"
    )
}

const DATA: &str = "SELECT value AS id, value % 997 AS g, \
                    CASE WHEN value % 13 = 0 THEN NULL ELSE value % 5 END AS p, \
                    (value * 7919) % 101 AS s, (value * 31) % 7 = 0 AS t, value % 11 <> 0 AS f \
                    FROM generate_series(1, 40000)";

#[tokio::test]
async fn merged_partial_states_agree_with_window_functions() {
    // Several partitions and small batches: state(), merge_batch(); groups with no winner
    // appear only in the reference's absence (max over nothing is NULL there too).
    let ctx = session(
        SessionConfig::new()
            .with_target_partitions(4)
            .with_batch_size(64),
    );
    let a = run(&ctx, &fast(DATA)).await;
    let b = run(&ctx, &reference(DATA)).await;
    assert_eq!(a, b);
    assert_eq!(a.lines().count(), 997 + 4);
}

#[tokio::test]
async fn skipped_partial_aggregation_agrees_too() {
    // Partial aggregation skipped from the first batch on: every row through
    // convert_to_state (the FILTER's dropped rows become empty lists).
    let mut config = SessionConfig::new()
        .with_target_partitions(3)
        .with_batch_size(50);
    let options = &mut config.options_mut().execution;
    options.skip_partial_aggregation_probe_rows_threshold = 1;
    options.skip_partial_aggregation_probe_ratio_threshold = 0.0;
    let ctx = session(config);
    let a = run(&ctx, &fast(DATA)).await;
    assert_eq!(a, run(&ctx, &reference(DATA)).await);
    // The single-group form (no GROUP BY).
    let one = "SELECT arg_max_of_maxima(id, p, s, t, id, t, s, id) FILTER (WHERE f) AS best FROM ({DATA})";
    let whole = run(&ctx, &one.replace("{DATA}", DATA)).await;
    let all = reference(&format!("SELECT 0 AS g, id, p, s, t, f FROM ({DATA})"));
    let expected = run(&ctx, &format!("SELECT best['id'] AS best FROM ({all})")).await;
    assert_eq!(whole, expected);
}

fn field(name: &str, t: DataType) -> FieldRef {
    Arc::new(Field::new(name, t, true))
}

fn ints(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

#[test]
fn emitting_the_first_groups_keeps_the_others_winners() {
    // value, part, one key, one outer key (all BIGINT).
    let fields: Vec<FieldRef> = ["v", "p", "k", "o"]
        .iter()
        .map(|n| field(n, DataType::Int64))
        .collect();
    let mut acc = Maxima::of(&DataType::Int64, &fields).unwrap();
    // Groups 0..3; group 1 has parts 1 and 2, group 2 part 1 twice.
    let batch = [
        ints(&[10, 11, 12, 13, 14, 15]),
        ints(&[1, 1, 2, 1, 1, 3]),
        ints(&[5, 5, 6, 1, 2, 0]),
        ints(&[0, 3, 9, 0, 0, 1]),
    ];
    acc.update_batch(&batch, &[0, 1, 1, 2, 2, 0], None, 3)
        .unwrap();
    // The first group's state, then the rest evaluated after a merge into a fresh copy.
    let first = acc.state(EmitTo::First(1)).unwrap();
    let list = first[0].as_list::<i32>();
    assert_eq!(list.len(), 1);
    assert_eq!(list.value(0).len(), 2, "group 0: parts 1 and 3");
    let mut other = Maxima::of(&DataType::Int64, &fields).unwrap();
    other.merge_batch(&first, &[1], 2).unwrap();
    // The same list marked NULL holds no winner, whatever its offsets span.
    let (item, offsets, winners, _) = list.clone().into_parts();
    let null = ListArray::new(item, offsets, winners, Some(NullBuffer::from(vec![false])));
    let mut none = Maxima::of(&DataType::Int64, &fields).unwrap();
    none.merge_batch(&[Arc::new(null) as ArrayRef], &[0], 1)
        .unwrap();
    assert!(none.evaluate(EmitTo::All).unwrap().is_null(0));
    // A filter that drops the row that would win group 1 (former group 2) again.
    let more = [ints(&[20, 21]), ints(&[1, 1]), ints(&[9, 9]), ints(&[0, 0])];
    let keep = BooleanArray::from(vec![true, false]);
    acc.update_batch(&more, &[0, 1], Some(&keep), 2).unwrap();
    let rest = acc.evaluate(EmitTo::All).unwrap();
    let rest = rest.as_primitive::<Int64Type>();
    // Former group 1: part 2's winner (outer 9) beats part 1's (outer 3), the new row 20
    // in part 1 (key 9) wins part 1 but its outer key 0 loses; former group 2: 14 (key 2).
    assert_eq!(rest.values().to_vec(), vec![12, 14]);
    let merged = other.evaluate(EmitTo::All).unwrap();
    let merged = merged.as_primitive::<Int64Type>();
    // Group 0 of `other` never seen: NULL; group 1: former group 0 (part 3 wins by outer 1).
    assert!(merged.is_null(0));
    assert_eq!(merged.value(1), 15);
}

/// Keys that are also outer keys or value columns, of every kind a key can have: NULLs, -0.0,
/// NaN, booleans, timestamps with a time zone.
const REPEATED: &str = "SELECT value AS id, value % 97 AS g, \
     CASE WHEN value % 13 = 0 THEN NULL ELSE value % 4 END AS p, \
     CASE WHEN value % 17 = 0 THEN NULL \
          WHEN value % 97 = 5 AND value % 19 = 0 THEN -0.0 \
          WHEN value % 97 = 5 THEN -(((value * 7919) % 101) / 8.0) - 0.1 \
          WHEN value % 997 = 0 THEN 'NaN'::double \
          ELSE ((value * 7919) % 101) / 8.0 - 6.1 END AS s, \
     CASE WHEN value % 23 = 0 THEN NULL ELSE (value * 31) % 7 = 0 END AS t, \
     CASE WHEN value % 29 = 0 THEN NULL \
          ELSE arrow_cast(to_timestamp_micros((value * 13) % 50), 'Timestamp(Microsecond, Some(\"+02:00\"))') END AS ts, \
     value * 3 AS x, value % 11 <> 0 AS f \
     FROM generate_series(1, 20000)";

#[tokio::test]
async fn keys_repeated_as_outer_keys_or_values_agree_with_window_functions() {
    // The value's fields id, s, p, t and ts are keys (decoded from an entry's bytes), x is
    // kept; the outer keys repeat the keys. Partial states (4 partitions, small batches) and
    // skipped partial aggregation too.
    let fast = format!(
        "SELECT g, arg_max_of_maxima(named_struct('id', id, 's', s, 'p', p, 't', t, 'ts', ts, 'x', x), \
                                     p, s, t, ts, id, t, s, ts, id) FILTER (WHERE f) AS best \
         FROM ({REPEATED}) GROUP BY g ORDER BY g"
    );
    let reference = format!(
        "SELECT g, max(CASE WHEN o = 1 THEN w END) AS best FROM ( \
           SELECT g, w, row_number() OVER (PARTITION BY g ORDER BY t DESC NULLS LAST, \
                  s DESC NULLS LAST, ts DESC NULLS LAST, id DESC) AS o \
           FROM (SELECT g, named_struct('id', id, 's', s, 'p', p, 't', t, 'ts', ts, 'x', x) AS w, \
                        t, s, ts, id, \
                        row_number() OVER (PARTITION BY g, p ORDER BY s DESC NULLS LAST, \
                          t DESC NULLS LAST, ts DESC NULLS LAST, id DESC) AS r \
                 FROM ({REPEATED}) WHERE f) WHERE r = 1) \
         GROUP BY g ORDER BY g"
    );
    let mut skipping = SessionConfig::new()
        .with_target_partitions(3)
        .with_batch_size(50);
    let options = &mut skipping.options_mut().execution;
    options.skip_partial_aggregation_probe_rows_threshold = 1;
    options.skip_partial_aggregation_probe_ratio_threshold = 0.0;
    for config in [
        SessionConfig::new(),
        SessionConfig::new()
            .with_target_partitions(4)
            .with_batch_size(64),
        skipping,
    ] {
        let ctx = session(config);
        let a = run(&ctx, &fast).await;
        assert_eq!(a, run(&ctx, &reference).await);
        assert_eq!(a.lines().count(), 97 + 4);
        assert!(
            a.contains("-0.0") && a.contains("NaN") && a.contains("+02:00"),
            "{a}"
        );
    }
}

fn column(name: &str, schema: &Schema) -> Arc<dyn PhysicalExpr> {
    Arc::new(Column::new_with_schema(name, schema).unwrap())
}

#[test]
fn an_entry_keeps_each_argument_once_and_its_state_every_one() {
    // named_struct('id', id, 's', s, 'x', x), part p, keys (s, t, id), outer keys (t, s, id).
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("p", DataType::Int64, true),
        Field::new("s", DataType::Float64, true),
        Field::new("t", DataType::Boolean, true),
        Field::new("x", DataType::Int64, true),
    ]);
    let mut value_args = Vec::new();
    for name in ["id", "s", "x"] {
        value_args.push(Arc::new(Literal::new(ScalarValue::from(name))) as Arc<dyn PhysicalExpr>);
        value_args.push(column(name, &schema));
    }
    let value = ScalarFunctionExpr::try_new(
        named_struct(),
        value_args,
        &schema,
        Arc::new(ConfigOptions::default()),
    )
    .unwrap();
    let value_type = value.return_type().clone();
    let mut exprs: Vec<Arc<dyn PhysicalExpr>> = vec![Arc::new(value)];
    for name in ["p", "s", "t", "id", "t", "s", "id"] {
        exprs.push(column(name, &schema));
    }
    let fields: Vec<FieldRef> = exprs
        .iter()
        .map(|e| e.return_field(&schema).unwrap())
        .collect();
    let kept = Kept::new(&value_type, &fields, Some(&exprs)).unwrap();
    // p 9 bytes, s 9, t 2, id 8; the outer keys again in the full tuple.
    assert_eq!((kept.part, kept.keys, kept.width), (9, 28, 28));
    assert_eq!(kept.full.width, 47);
    assert_eq!(
        kept.columns_from_keys(),
        2,
        "id and s from the keys, x kept"
    );
    let mut lean = Maxima::of_kept(Arc::new(kept)).unwrap();
    let mut full = Maxima::of(&value_type, &fields).unwrap();

    // Group 0: part 1's winner is -0.0 (above -0.5), part 2's NaN, the NULL part's 0.25;
    // the outer keys pick terminal -0.0 (t NULL sorts first). Group 1: 0.1 beats a NULL
    // score. Group 2: NaN alone. Group 3: no row.
    let id = ints(&[1, 2, 3, 4, 5, 6, 7]);
    let p: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(1),
        Some(1),
        Some(2),
        None,
        Some(7),
        Some(7),
        Some(3),
    ]));
    let s: ArrayRef = Arc::new(Float64Array::from(vec![
        Some(-0.0),
        Some(-0.5),
        Some(f64::NAN),
        Some(0.25),
        None,
        Some(0.1),
        Some(f64::NAN),
    ]));
    let t: ArrayRef = Arc::new(BooleanArray::from(vec![
        Some(true),
        Some(true),
        Some(false),
        None,
        Some(true),
        Some(false),
        Some(true),
    ]));
    let x: ArrayRef = Arc::new(Int64Array::from(vec![
        Some(10),
        Some(20),
        Some(30),
        Some(40),
        Some(50),
        Some(60),
        None,
    ]));
    let value = Arc::new(
        StructArray::try_new(
            match &value_type {
                DataType::Struct(f) => f.clone(),
                _ => unreachable!(),
            },
            vec![id.clone(), s.clone(), x],
            None,
        )
        .unwrap(),
    ) as ArrayRef;
    let batch = [value, p, s.clone(), t.clone(), id.clone(), t, s, id];
    let groups = [0, 0, 0, 0, 1, 1, 2];
    lean.update_batch(&batch, &groups, None, 4).unwrap();
    full.update_batch(&batch, &groups, None, 4).unwrap();

    // Each one's state merged into the other kind: the same answers.
    let mut lean2 = lean.clone();
    let mut full2 = full.clone();
    lean2
        .merge_batch(&full.clone().state(EmitTo::All).unwrap(), &[0, 1, 2, 3], 4)
        .unwrap();
    full2
        .merge_batch(&lean.clone().state(EmitTo::All).unwrap(), &[0, 1, 2, 3], 4)
        .unwrap();
    let answers: Vec<ArrayRef> = [&mut lean, &mut full, &mut lean2, &mut full2]
        .into_iter()
        .map(|m| m.evaluate(EmitTo::All).unwrap())
        .collect();
    let first = answers[0].as_struct();
    assert_eq!(
        first.nulls().map(|n| n.iter().collect::<Vec<_>>()),
        Some(vec![true, true, true, false])
    );
    let ids = first.column(0).as_primitive::<Int64Type>();
    assert_eq!(&ids.values()[..3], &[1, 6, 7]);
    let s = first.column(1).as_primitive::<Float64Type>();
    assert_eq!(s.value(0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(s.value(1), 0.1);
    assert!(s.value(2).is_nan());
    let x = first.column(2).as_primitive::<Int64Type>();
    assert_eq!((x.value(0), x.value(1), x.is_null(2)), (10, 60, true));
    for other in &answers[1..] {
        for (c, d) in first.columns().iter().zip(other.as_struct().columns()) {
            // Bit for bit, the NULLs of the fourth group's fields aside.
            assert_eq!(c.slice(0, 3).to_data(), d.slice(0, 3).to_data());
        }
        assert!(other.is_null(3));
    }
}

#[test]
fn volatile_arguments_are_each_kept() {
    // arg_max_of_maxima(random(), p, random(), random()): equal expressions, different values.
    let schema = Schema::new(vec![Field::new("p", DataType::Int64, true)]);
    let random = || -> Arc<dyn PhysicalExpr> {
        Arc::new(
            ScalarFunctionExpr::try_new(
                datafusion::functions::math::random(),
                vec![],
                &schema,
                Arc::new(ConfigOptions::default()),
            )
            .unwrap(),
        )
    };
    let exprs = vec![random(), column("p", &schema), random(), random()];
    let fields: Vec<FieldRef> = exprs
        .iter()
        .map(|e| e.return_field(&schema).unwrap())
        .collect();
    let kept = Kept::new(&DataType::Float64, &fields, Some(&exprs)).unwrap();
    assert_eq!(kept.width, kept.full.width);
    assert_eq!(kept.columns_from_keys(), 0);
    // The same call with a column in random()'s place shares it.
    let mut shared = exprs.clone();
    for e in [0, 2, 3] {
        shared[e] = column("p", &schema);
    }
    let fields: Vec<FieldRef> = shared
        .iter()
        .map(|e| e.return_field(&schema).unwrap())
        .collect();
    let kept = Kept::new(&DataType::Int64, &fields, Some(&shared)).unwrap();
    // The part and the key stored, the outer key read from them.
    assert_eq!((kept.width, kept.full.width), (18, 27));
    assert_eq!(kept.columns_from_keys(), 1);
}
