//! The fixture snapshot as other tools write it: other Arrow types for the same values
//! (narrower and wider integers, integers as doubles, nanosecond timestamps, dictionary strings, jsonb decoded into
//! nested types, timestamps without a time zone holding New York wall-clock times).

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Int64Builder, ListBuilder, StringBuilder,
    StructBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchReader};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::Value;
use std::sync::Arc;

/// How each retyped column is stored.
enum To {
    Type(DataType),
    /// jsonb text decoded into a nested type.
    Nested,
    /// The instant's wall-clock time (New York unless said otherwise), without a zone.
    WallClock,
}

fn plan(table: &str) -> Vec<(&'static str, To)> {
    use DataType as T;
    let dict = || To::Type(T::Dictionary(Box::new(T::Int32), Box::new(T::Utf8)));
    let ns = || To::Type(T::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())));
    match table {
        "main_occurrence" => vec![
            ("determination_id", To::Type(T::Int32)),
            // pandas writes an integer column with nulls as double.
            ("deployment_id", To::Type(T::Float64)),
            ("event_id", To::Type(T::UInt32)),
            ("created_at", ns()),
            ("updated_at", To::WallClock),
        ],
        "main_detection" => vec![
            ("bbox", To::Nested),
            ("timestamp", To::WallClock),
            ("frame_num", To::Type(T::Int64)),
            ("path", dict()),
            ("source_image_id", To::Type(T::Int32)),
            ("occurrence_id", To::Type(T::Float64)),
        ],
        "main_classification" => vec![
            ("taxon_id", To::Type(T::Int32)),
            ("score", To::Type(T::Float64)),
            ("created_at", ns()),
            ("timestamp", To::WallClock),
        ],
        "main_identification" => vec![("created_at", To::WallClock)],
        "main_taxon" => vec![
            ("parents_json", To::Nested),
            ("name", dict()),
            ("rank", To::Type(T::LargeUtf8)),
        ],
        "main_project" => vec![("feature_flags", To::Nested)],
        "main_sourceimage" => vec![("timestamp", To::WallClock), ("width", To::Type(T::Int64))],
        _ => vec![],
    }
}

/// Every table of the fixture snapshot, retyped by `plan`, written into `dst`.
pub fn retyped_oracle(dst: &std::path::Path) {
    retyped_oracle_in(dst, chrono_tz::America::New_York)
}

/// `retyped_oracle` with the zone-less timestamps holding wall-clock times of `zone`.
pub fn retyped_oracle_in(dst: &std::path::Path, zone: chrono_tz::Tz) {
    for entry in std::fs::read_dir(super::oracle().join("snapshot")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let table = path.file_stem().unwrap().to_str().unwrap().to_string();
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let empty = RecordBatch::new_empty(reader.schema());
        let mut batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        if batches.is_empty() {
            batches.push(empty);
        }
        if table == "main_occurrence" {
            // Two part files storing some columns with different types, as a writer that
            // chooses each part's types from its rows does (pandas: `double` for an integer
            // column where the part has a null).
            let dir = dst.join(&table);
            std::fs::create_dir(&dir).unwrap();
            let all =
                datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
            let half = all.num_rows() / 2;
            let first = retype(&all.slice(0, half), &plan(&table), zone);
            let second = retype(
                &all.slice(half, all.num_rows() - half),
                &other_part_plan(),
                zone,
            );
            write(&dir.join("part-00000.parquet"), &[first]);
            write(&dir.join("part-00001.parquet"), &[second]);
            continue;
        }
        let batches: Vec<RecordBatch> = batches
            .iter()
            .map(|b| retype(b, &plan(&table), zone))
            .collect();
        if table == "main_identification" {
            // Part files, the first three of one row each: their statistics then hold one
            // value (DataFusion reads a column whose statistics say it is constant from them,
            // without the file).
            let dir = dst.join(&table);
            std::fs::create_dir(&dir).unwrap();
            let all =
                datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
            let rest = all.num_rows().saturating_sub(3);
            let parts = [
                all.slice(0, 1),
                all.slice(1, 1),
                all.slice(2, 1),
                all.slice(3, rest),
            ];
            for (n, part) in parts.iter().enumerate() {
                write(
                    &dir.join(format!("part-{n:05}.parquet")),
                    std::slice::from_ref(part),
                );
            }
        } else {
            write(&dst.join(path.file_name().unwrap()), &batches);
        }
    }
}

fn write(path: &std::path::Path, batches: &[RecordBatch]) {
    let out = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(out, batches[0].schema(), None).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// The second part of `main_occurrence`: other types than the first's for some columns.
fn other_part_plan() -> Vec<(&'static str, To)> {
    use DataType as T;
    vec![
        ("determination_id", To::Type(T::Float64)),
        ("event_id", To::Type(T::Int64)),
        ("deployment_id", To::Type(T::Int64)),
        (
            "created_at",
            To::Type(T::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
        ),
        ("updated_at", To::WallClock),
    ]
}

fn retype(batch: &RecordBatch, plan: &[(&'static str, To)], zone: chrono_tz::Tz) -> RecordBatch {
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let Some((_, to)) = plan.iter().find(|(n, _)| n == field.name()) else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        };
        let array = match to {
            To::Type(t) => cast(column, t).unwrap(),
            To::Nested => nested(column),
            To::WallClock => wall_clock(column, zone),
        };
        fields.push(Field::new(field.name(), array.data_type().clone(), true));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn wall_clock(column: &ArrayRef, zone: chrono_tz::Tz) -> ArrayRef {
    let instants = column.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
    let local: TimestampMicrosecondArray = instants
        .iter()
        .map(|v| {
            v.map(|us| {
                let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
                t.with_timezone(&zone)
                    .naive_local()
                    .and_utc()
                    .timestamp_micros()
            })
        })
        .collect();
    Arc::new(local)
}

/// jsonb text as nested arrays: lists of integers, lists of objects (fields of their first
/// object, in that order), and objects of booleans (fields in name order, not jsonb's).
fn nested(column: &ArrayRef) -> ArrayRef {
    let text = cast(column, &DataType::Utf8).unwrap();
    let text = text.as_string::<i32>();
    let values: Vec<Option<Value>> = (0..text.len())
        .map(|i| {
            text.is_valid(i)
                .then(|| serde_json::from_str(text.value(i)).unwrap())
        })
        .collect();
    let objects = values.iter().flatten().any(|v| {
        v.as_array()
            .is_some_and(|a| a.first().is_some_and(Value::is_object))
    });
    if let Some(Value::Object(first)) = values.iter().flatten().next() {
        let mut keys: Vec<&String> = first.keys().collect();
        keys.sort();
        let fields: Fields = keys
            .iter()
            .map(|k| Field::new(k.as_str(), DataType::Boolean, true))
            .collect();
        let mut b = StructBuilder::from_fields(fields, values.len());
        for v in &values {
            for (i, k) in keys.iter().enumerate() {
                let flag = v.as_ref().and_then(|v| v[k.as_str()].as_bool());
                b.field_builder::<BooleanBuilder>(i)
                    .unwrap()
                    .append_option(flag);
            }
            b.append(v.is_some());
        }
        return Arc::new(b.finish());
    }
    if objects {
        let fields = Fields::from(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("rank", DataType::Utf8, true),
        ]);
        let mut b = ListBuilder::new(StructBuilder::from_fields(fields, 0));
        for v in &values {
            for item in v.as_ref().and_then(Value::as_array).into_iter().flatten() {
                let s = b.values();
                s.field_builder::<Int64Builder>(0)
                    .unwrap()
                    .append_option(item["id"].as_i64());
                s.field_builder::<StringBuilder>(1)
                    .unwrap()
                    .append_option(item["name"].as_str());
                s.field_builder::<StringBuilder>(2)
                    .unwrap()
                    .append_option(item["rank"].as_str());
                s.append(true);
            }
            b.append(v.is_some());
        }
        return Arc::new(b.finish());
    }
    let mut b = ListBuilder::new(Int64Builder::new());
    for v in &values {
        for item in v.as_ref().and_then(Value::as_array).into_iter().flatten() {
            b.values().append_value(item.as_i64().expect("integers"));
        }
        // A JSON null literal becomes SQL NULL (a nested type has no other null).
        b.append(v.as_ref().is_some_and(|v| !v.is_null()));
    }
    Arc::new(b.finish())
}
