use super::*;
use chrono::NaiveDateTime;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, Float64Array, Int64Array, Int64Builder,
    ListBuilder, MapBuilder, StringArray, StructArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::Fields;

fn texts(array: ArrayRef) -> Vec<Option<String>> {
    let out = jsonb_text(&array).unwrap();
    let out = out.as_string::<i32>();
    (0..out.len())
        .map(|i| out.is_valid(i).then(|| out.value(i).to_string()))
        .collect()
}

#[test]
fn lists_of_numbers_read_as_postgres_prints_them() {
    let mut b = ListBuilder::new(Int64Builder::new());
    b.values().append_slice(&[10, 20, 300, 400]);
    b.append(true);
    b.append(false);
    b.append(true);
    b.values().append_value(-1);
    b.values().append_null();
    b.append(true);
    assert_eq!(
        texts(Arc::new(b.finish())),
        [
            Some("[10, 20, 300, 400]".into()),
            None,
            Some("[]".into()),
            Some("[-1, null]".into())
        ]
    );
}

#[test]
fn floats_keep_their_shortest_text() {
    let f64s: ArrayRef = Arc::new(Float64Array::from(vec![
        10.0,
        0.1,
        -1.5e-7,
        1e20,
        1.25e17,
        f64::NAN,
    ]));
    // As PostgreSQL's numeric prints them: never with an exponent.
    assert_eq!(
        texts(f64s),
        [
            "10.0",
            "0.1",
            "-0.00000015",
            "100000000000000000000.0",
            "125000000000000000.0",
            "null"
        ]
        .map(|s| Some(s.to_string()))
    );
    let f32s: ArrayRef = Arc::new(Float32Array::from(vec![0.1f32, 2.0]));
    assert_eq!(texts(f32s), ["0.1", "2.0"].map(|s| Some(s.to_string())));
}

#[test]
fn objects_take_jsonb_key_order_and_escapes() {
    // Fields in another order than jsonb's (length, then bytes).
    let rank: ArrayRef = Arc::new(StringArray::from(vec![Some("ORDER"), None]));
    let id: ArrayRef = Arc::new(Int64Array::from(vec![1, 2]));
    let name: ArrayRef = Arc::new(StringArray::from(vec!["Lé \"quoted\"\n\u{1}", "x"]));
    let flag: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
    let s = StructArray::from(vec![
        (Arc::new(Field::new("rank", DataType::Utf8, true)), rank),
        (Arc::new(Field::new("name", DataType::Utf8, true)), name),
        (Arc::new(Field::new("id", DataType::Int64, true)), id),
        (Arc::new(Field::new("aa", DataType::Boolean, true)), flag),
    ]);
    assert_eq!(
        texts(Arc::new(s)),
        [
            Some(
                r#"{"aa": true, "id": 1, "name": "Lé \"quoted\"\n\u0001", "rank": "ORDER"}"#.into()
            ),
            Some(r#"{"aa": false, "id": 2, "name": "x", "rank": null}"#.into()),
        ]
    );
}

#[test]
fn lists_of_structs_and_maps() {
    let fields = Fields::from(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
    ]);
    let values = StructArray::new(
        fields.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 5])),
            Arc::new(StringArray::from(vec!["Lepidoptera", "Noctuidae"])),
        ],
        None,
    );
    let list = datafusion::arrow::array::ListArray::new(
        Arc::new(Field::new("item", DataType::Struct(fields), true)),
        datafusion::arrow::buffer::OffsetBuffer::new(vec![0, 2, 2].into()),
        Arc::new(values),
        None,
    );
    assert_eq!(
        texts(Arc::new(list)),
        [
            Some(r#"[{"id": 1, "name": "Lepidoptera"}, {"id": 5, "name": "Noctuidae"}]"#.into()),
            Some("[]".into())
        ]
    );
    let mut map = MapBuilder::new(
        None,
        datafusion::arrow::array::StringBuilder::new(),
        datafusion::arrow::array::BooleanBuilder::new(),
    );
    map.keys().append_value("tags");
    map.values().append_value(false);
    map.keys().append_value("a");
    map.values().append_value(true);
    map.append(true).unwrap();
    assert_eq!(
        texts(Arc::new(map.finish())),
        [Some(r#"{"a": true, "tags": false}"#.into())]
    );
}

fn micros(s: &str) -> i64 {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

#[test]
fn wall_clock_times_name_the_instants_postgres_would() {
    let ny = chrono_tz::America::New_York;
    let local: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
        Some(micros("2023-06-10 21:00:00")),
        None,
        // Shown twice on 2023-11-05 (EDT, then EST): the later one, 06:30 UTC.
        Some(micros("2023-11-05 01:30:00")),
        // Skipped on 2023-03-12: read with EST (-5), 07:30 UTC.
        Some(micros("2023-03-12 02:30:00")),
    ]));
    let out = instants(&local, ny, "t.c").unwrap();
    let expected = [
        Some(micros("2023-06-11 01:00:00")),
        None,
        Some(micros("2023-11-05 06:30:00")),
        Some(micros("2023-03-12 07:30:00")),
    ];
    assert_eq!(out.iter().collect::<Vec<_>>(), expected);
    assert_eq!(out.timezone(), Some("UTC"));
    // Nanoseconds: the same instants.
    let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![Some(
        micros("2023-06-10 21:00:00") * 1_000 + 999,
    )]));
    assert_eq!(
        instants(&ns, ny, "t.c").unwrap().value(0),
        micros("2023-06-11 01:00:00")
    );
}

#[test]
fn which_types_are_read_and_how() {
    use DataType as T;
    let ts = |u, z: Option<&str>| T::Timestamp(u, z.map(Into::into));
    let cases = [
        (Kind::I64, T::Int64, Some(Reading::AsIs)),
        (Kind::I64, T::Int32, Some(Reading::Cast(T::Int64))),
        (Kind::I64, T::UInt16, Some(Reading::Cast(T::Int64))),
        (
            Kind::I32,
            T::Int64,
            Some(Reading::Convert(Conversion::Integer(Kind::I32))),
        ),
        (
            Kind::I64,
            T::UInt64,
            Some(Reading::Convert(Conversion::Integer(Kind::I64))),
        ),
        (Kind::I32, T::UInt16, Some(Reading::Cast(T::Int32))),
        (
            Kind::I64,
            T::Float64,
            Some(Reading::Convert(Conversion::Integer(Kind::I64))),
        ),
        (
            Kind::I32,
            T::Float32,
            Some(Reading::Convert(Conversion::Integer(Kind::I32))),
        ),
        (Kind::I64, T::Utf8, None),
        (Kind::F64, T::Float32, Some(Reading::Cast(T::Float64))),
        (Kind::F64, T::Utf8, None),
        (
            Kind::Ts,
            ts(TimeUnit::Nanosecond, Some("UTC")),
            Some(Reading::Cast(ts(TimeUnit::Microsecond, Some("UTC")))),
        ),
        (
            Kind::Ts,
            ts(TimeUnit::Millisecond, None),
            Some(Reading::Convert(Conversion::WallClock)),
        ),
        (Kind::Ts, T::Date32, None),
        (Kind::Date, T::Date64, Some(Reading::Cast(T::Date32))),
        (
            Kind::Str,
            T::Dictionary(Box::new(T::Int32), Box::new(T::Utf8)),
            Some(Reading::Cast(T::Utf8)),
        ),
        (
            Kind::Str,
            T::Binary,
            Some(Reading::Convert(Conversion::Text)),
        ),
        (
            Kind::Json,
            T::Dictionary(Box::new(T::Int32), Box::new(T::LargeBinary)),
            Some(Reading::Convert(Conversion::Text)),
        ),
        (Kind::Str, T::new_list(T::Int64, true), None),
        (
            Kind::Json,
            T::new_list(T::Int64, true),
            Some(Reading::Convert(Conversion::JsonText)),
        ),
        (
            Kind::Json,
            T::Struct(Fields::empty()),
            Some(Reading::Convert(Conversion::JsonText)),
        ),
        (Kind::Json, T::Utf8View, Some(Reading::Cast(T::Utf8))),
        (Kind::Str, T::LargeUtf8, Some(Reading::Cast(T::Utf8))),
        (Kind::Str, T::Utf8, Some(Reading::AsIs)),
        (
            Kind::ListStr,
            T::new_list(T::Utf8, false),
            Some(Reading::AsIs),
        ),
        (
            Kind::ListStr,
            T::new_large_list(T::Utf8View, true),
            Some(Reading::Cast(Kind::ListStr.data_type())),
        ),
        (
            Kind::ListF64,
            T::new_list(T::Float32, true),
            Some(Reading::Cast(Kind::ListF64.data_type())),
        ),
        (Kind::ListF64, T::new_list(T::Utf8, true), None),
        (Kind::Json, T::Int64, None),
        (Kind::Bool, T::Int8, None),
        (Kind::I64, T::Null, Some(Reading::Cast(T::Int64))),
        (Kind::Json, T::Null, Some(Reading::Cast(T::Utf8))),
    ];
    for (kind, found, expected) in cases {
        assert_eq!(reading(kind, &found), expected, "{kind:?} found as {found}");
    }
}

#[test]
fn floating_point_integers_are_read_as_integers_or_named() {
    let floats: ArrayRef = Arc::new(Float64Array::from(vec![Some(4.0), None, Some(-2.0)]));
    let out = instants::integers(&floats, &DataType::Int64, "t.c").unwrap();
    let out = out.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    assert_eq!(out.iter().collect::<Vec<_>>(), [Some(4), None, Some(-2)]);
    let int32 = instants::integers(&floats, &DataType::Int32, "t.c").unwrap();
    assert_eq!(int32.data_type(), &DataType::Int32);
    for (bad, text) in [(1.5, "1.5"), (f64::NAN, "NaN"), (3e9, "3000000000")] {
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![bad]));
        let e = instants::integers(&floats, &DataType::Int32, "main_detection.frame_num")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column main_detection.frame_num holds") && e.contains(text),
            "{e}"
        );
    }
    let huge: ArrayRef = Arc::new(Float64Array::from(vec![1e19]));
    assert!(instants::integers(&huge, &DataType::Int64, "t.c").is_err());
    // A `double` holds every integer below 2^53 exactly; 2^53 itself may be a rounded
    // 2^53 + 1 (an `int64` part read as `double`), so it is refused.
    let exact: ArrayRef = Arc::new(Float64Array::from(vec![9_007_199_254_740_991.0]));
    let out = instants::integers(&exact, &DataType::Int64, "t.c").unwrap();
    assert_eq!(
        out.as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .value(0),
        9_007_199_254_740_991
    );
    let rounded: ArrayRef = Arc::new(Float64Array::from(vec![(9_007_199_254_740_993_i64) as f64]));
    let e = instants::integers(&rounded, &DataType::Int64, "t.c")
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds 9007199254740992"), "{e}");
    // Integers of types that may not fit: each value checked.
    let wide: ArrayRef = Arc::new(Int64Array::from(vec![Some(7), None, Some(-3)]));
    let out = instants::integers(&wide, &DataType::Int32, "t.c").unwrap();
    let out = out.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
    assert_eq!(out.iter().collect::<Vec<_>>(), [Some(7), None, Some(-3)]);
    let big: ArrayRef = Arc::new(Int64Array::from(vec![3_000_000_000]));
    let e = instants::integers(&big, &DataType::Int32, "main_detection.frame_num")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column main_detection.frame_num holds 3000000000, which is not an integer of type Int32"),
        "{e}"
    );
    let unsigned: ArrayRef = Arc::new(datafusion::arrow::array::UInt64Array::from(vec![u64::MAX]));
    let e = instants::integers(&unsigned, &DataType::Int64, "t.c")
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds 18446744073709551615"), "{e}");
}

#[test]
fn part_files_of_different_types_take_one_that_holds_them_all() {
    use DataType as T;
    let table = crate::snapshot::contract::TABLES
        .iter()
        .find(|t| t.name == "main_occurrence")
        .unwrap();
    let schema = |fields: Vec<(&str, DataType)>| -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .into_iter()
                .map(|(n, t)| Field::new(n, t, false))
                .collect::<Vec<_>>(),
        ))
    };
    let ns_utc = T::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let us_utc = T::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
    let dict = T::Dictionary(Box::new(T::Int32), Box::new(T::Utf8));
    let parts = [
        (
            "part-0.parquet".to_string(),
            schema(vec![
                ("id", T::Int64),
                ("determination_id", T::Int64),
                ("event_id", T::Int32),
                ("created_at", ns_utc.clone()),
                ("name", dict),
            ]),
        ),
        (
            "part-1.parquet".to_string(),
            schema(vec![
                ("id", T::Int64),
                ("determination_id", T::Float64),
                ("event_id", T::UInt64),
                ("created_at", us_utc),
                ("name", T::Utf8View),
                ("extra", T::Boolean),
            ]),
        ),
    ];
    let merged = merge(table, &parts).unwrap();
    let types: Vec<(String, DataType, bool)> = merged
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone(), f.is_nullable()))
        .collect();
    let us = T::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    assert_eq!(
        types,
        [
            ("id".into(), T::Int64, true),
            ("determination_id".into(), T::Float64, true),
            ("event_id".into(), T::Int64, true),
            ("created_at".into(), us, true),
            ("name".into(), T::Utf8, true),
            ("extra".into(), T::Boolean, true),
        ]
    );
    let bad = [
        parts[0].clone(),
        (
            "part-9.parquet".to_string(),
            schema(vec![("determination_id", T::Utf8)]),
        ),
    ];
    assert_eq!(
        merge(table, &bad).unwrap_err(),
        "column determination_id is stored as Int64 in part-0.parquet and as Utf8 in part-9.parquet, which no one type holds (expected Int64)"
    );
    // A zone-less timestamp and one with a zone name different instants: no common type.
    let naive = T::Timestamp(TimeUnit::Microsecond, None);
    let mixed = [
        parts[0].clone(),
        (
            "part-2.parquet".to_string(),
            schema(vec![("created_at", naive)]),
        ),
    ];
    assert!(merge(table, &mixed).is_err());
    // Bytes in one part, text in the other: bytes, checked as UTF-8 when read.
    let bytes = [
        parts[0].clone(),
        (
            "part-3.parquet".to_string(),
            schema(vec![
                ("id", T::Int64),
                ("determination_id", T::Int64),
                ("event_id", T::Int32),
                ("created_at", ns_utc.clone()),
                ("name", T::Binary),
            ]),
        ),
    ];
    // A column some parts lack: named, with a file that has it and one that does not.
    let lacking = [
        parts[0].clone(),
        ("part-4.parquet".to_string(), schema(vec![("id", T::Int64)])),
    ];
    assert_eq!(
        merge(table, &lacking).unwrap_err(),
        "column determination_id is in part-0.parquet but not in part-4.parquet (every part file must hold the table's columns)"
    );
    let merged = merge(table, &bytes).unwrap();
    assert_eq!(
        merged.field_with_name("name").unwrap().data_type(),
        &T::Binary
    );
}

#[test]
fn bytes_are_read_as_text_or_named() {
    use datafusion::arrow::array::{BinaryArray, DictionaryArray, LargeBinaryArray};
    use datafusion::arrow::datatypes::Int32Type;
    let read = |a: ArrayRef| {
        let out = instants::text(&a, "t.c").map_err(|e| e.strip_backtrace())?;
        let out = out.as_string::<i32>();
        Ok::<_, String>(
            (0..out.len())
                .map(|i| out.is_valid(i).then(|| out.value(i).to_string()))
                .collect::<Vec<_>>(),
        )
    };
    let good = Arc::new(BinaryArray::from(vec![
        Some("Noctuidae".as_bytes()),
        None,
        Some("é".as_bytes()),
    ]));
    let expected = vec![Some("Noctuidae".to_string()), None, Some("é".to_string())];
    assert_eq!(read(good).unwrap(), expected);
    let large = Arc::new(LargeBinaryArray::from(vec![
        Some("Noctuidae".as_bytes()),
        None,
        Some("é".as_bytes()),
    ]));
    assert_eq!(read(large).unwrap(), expected);
    let values = BinaryArray::from(vec!["a".as_bytes(), "b".as_bytes()]);
    let keys = datafusion::arrow::array::Int32Array::from(vec![Some(1), None, Some(0)]);
    let dict = DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)).unwrap();
    assert_eq!(
        read(Arc::new(dict)).unwrap(),
        vec![Some("b".into()), None, Some("a".into())]
    );
    let bad = Arc::new(BinaryArray::from(vec![
        Some("ok".as_bytes()),
        Some(&b"\xff\xfebad"[..]),
    ]));
    assert_eq!(
        read(bad).unwrap_err(),
        "Execution error: column t.c holds bytes that are not UTF-8 text (expected a string; a value starting ff fe 62 61 64)"
    );
}
