//! Query results as rows of JSON scalars, for the output layer to shape.
//!
//! Timestamps, durations and times of day become integer microseconds (UTC instants for
//! timestamps); the output layer renders them in the configured time zone.

use crate::error::Result;
use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};

pub type Row = Map<String, Value>;

pub fn to_rows(batches: &[RecordBatch]) -> Result<Vec<Row>> {
    let mut rows = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for batch in batches {
        let mut columns = batch
            .columns()
            .iter()
            .map(|c| Ok(column_values(c.as_ref())?.into_iter()))
            .collect::<Result<Vec<_>>>()?;
        let schema = batch.schema();
        for _ in 0..batch.num_rows() {
            let mut row = Map::with_capacity(columns.len());
            for (field, values) in schema.fields().iter().zip(&mut columns) {
                row.insert(field.name().clone(), values.next().unwrap_or(Value::Null));
            }
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The rows of each group of batches, each group decoded on a thread of its own.
pub fn to_rows_each(groups: &[Vec<RecordBatch>]) -> Result<Vec<Vec<Row>>> {
    std::thread::scope(|scope| {
        let decoding: Vec<_> = groups.iter().map(|g| scope.spawn(|| to_rows(g))).collect();
        decoding
            .into_iter()
            .map(|h| h.join().expect("decoding does not panic"))
            .collect()
    })
}

fn column_values(array: &dyn Array) -> Result<Vec<Value>> {
    let n = array.len();
    let mut out = Vec::with_capacity(n);
    macro_rules! ints {
        ($arr:expr) => {{
            let a = $arr;
            for i in 0..n {
                out.push(if a.is_valid(i) {
                    Value::from(a.value(i) as i64)
                } else {
                    Value::Null
                });
            }
        }};
    }
    match array.data_type() {
        DataType::Int64 => ints!(array.as_primitive::<Int64Type>()),
        DataType::Int32 => ints!(array.as_primitive::<Int32Type>()),
        DataType::UInt64 | DataType::Int16 | DataType::Int8 | DataType::UInt32 => {
            let c = cast(array, &DataType::Int64)?;
            ints!(c.as_primitive::<Int64Type>())
        }
        DataType::Timestamp(..)
        | DataType::Duration(_)
        | DataType::Time64(_)
        | DataType::Date32 => {
            let micros = to_micros(array)?;
            ints!(micros.as_primitive::<Int64Type>())
        }
        DataType::Float64 | DataType::Float32 => {
            let c = cast(array, &DataType::Float64)?;
            let a = c.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            for i in 0..n {
                out.push(if a.is_valid(i) {
                    serde_json::Number::from_f64(a.value(i)).map_or(Value::Null, Value::Number)
                } else {
                    Value::Null
                });
            }
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            for i in 0..n {
                out.push(if a.is_valid(i) {
                    Value::Bool(a.value(i))
                } else {
                    Value::Null
                });
            }
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let c = cast(array, &DataType::Utf8)?;
            let a = c.as_string::<i32>();
            for i in 0..n {
                out.push(if a.is_valid(i) {
                    Value::from(a.value(i))
                } else {
                    Value::Null
                });
            }
        }
        DataType::List(_) | DataType::LargeList(_) => {
            let c = cast(array, &DataType::new_list(DataType::Utf8, true))?;
            let a = c.as_list::<i32>();
            for i in 0..n {
                if a.is_valid(i) {
                    out.push(Value::Array(column_values(a.value(i).as_ref())?));
                } else {
                    out.push(Value::Null);
                }
            }
        }
        DataType::Null => out.resize(n, Value::Null),
        _ => {
            let c = cast(array, &DataType::Utf8)?;
            let a = c.as_string::<i32>();
            for i in 0..n {
                out.push(if a.is_valid(i) {
                    Value::from(a.value(i))
                } else {
                    Value::Null
                });
            }
        }
    }
    Ok(out)
}

/// One column of a batch cast once to the type writers read: integers, timestamps, durations
/// and times as Int64 (microseconds), floats as Float64, text as Utf8, booleans.
pub enum CastColumn {
    Int(Int64Array),
    Float(Float64Array),
    Str(StringArray),
    Bool(BooleanArray),
    Null,
}

/// One value of a [`CastColumn`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
}

impl CastColumn {
    pub fn of(array: &dyn Array) -> Result<CastColumn> {
        Ok(match array.data_type() {
            DataType::Null => CastColumn::Null,
            DataType::Boolean => CastColumn::Bool(array.as_boolean().clone()),
            DataType::Float64 | DataType::Float32 => {
                CastColumn::Float(cast(array, &DataType::Float64)?.as_primitive().clone())
            }
            DataType::Timestamp(..)
            | DataType::Duration(_)
            | DataType::Time64(_)
            | DataType::Time32(_)
            | DataType::Date32 => CastColumn::Int(to_micros(array)?.as_primitive().clone()),
            t if t.is_integer() => {
                CastColumn::Int(cast(array, &DataType::Int64)?.as_primitive().clone())
            }
            _ => CastColumn::Str(cast(array, &DataType::Utf8)?.as_string::<i32>().clone()),
        })
    }

    pub fn cell(&self, i: usize) -> Cell<'_> {
        match self {
            CastColumn::Int(a) if a.is_valid(i) => Cell::Int(a.value(i)),
            CastColumn::Float(a) if a.is_valid(i) => Cell::Float(a.value(i)),
            CastColumn::Str(a) if a.is_valid(i) => Cell::Str(a.value(i)),
            CastColumn::Bool(a) if a.is_valid(i) => Cell::Bool(a.value(i)),
            _ => Cell::Null,
        }
    }

    pub fn i64(&self, i: usize) -> Option<i64> {
        match self.cell(i) {
            Cell::Int(v) => Some(v),
            _ => None,
        }
    }

    pub fn str(&self, i: usize) -> Option<&str> {
        match self.cell(i) {
            Cell::Str(v) => Some(v),
            _ => None,
        }
    }
}

/// A batch's columns as [`CastColumn`]s, looked up by name.
pub struct Columns {
    names: Vec<String>,
    columns: Vec<CastColumn>,
}

impl Columns {
    pub fn new(batch: &RecordBatch) -> Result<Columns> {
        Ok(Columns {
            names: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            columns: batch
                .columns()
                .iter()
                .map(|c| CastColumn::of(c.as_ref()))
                .collect::<Result<_>>()?,
        })
    }

    /// The column `name`; an error names it when the query did not produce it.
    pub fn get(&self, name: &str) -> Result<&CastColumn> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
            .ok_or_else(|| crate::error::Error::Query(format!("the query has no column {name}")))
    }
}

/// Timestamp, duration, time and date arrays as Int64 microseconds (days for dates).
fn to_micros(array: &dyn Array) -> Result<std::sync::Arc<dyn Array>> {
    let scale = |unit: &TimeUnit| match unit {
        TimeUnit::Second => 1_000_000i64,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1,
        TimeUnit::Nanosecond => -1_000,
    };
    let (raw, factor) = match array.data_type() {
        DataType::Timestamp(u, _) | DataType::Duration(u) | DataType::Time64(u) => {
            (cast(array, &DataType::Int64)?, scale(u))
        }
        DataType::Time32(u) => (
            cast(&cast(array, &DataType::Int32)?, &DataType::Int64)?,
            scale(u),
        ),
        _ => (cast(&cast(array, &DataType::Int32)?, &DataType::Int64)?, 1),
    };
    if factor == 1 {
        return Ok(raw);
    }
    let a = raw.as_primitive::<Int64Type>();
    let scaled: datafusion::arrow::array::Int64Array = a
        .iter()
        .map(|v| v.map(|x| if factor > 0 { x * factor } else { x / -factor }))
        .collect();
    Ok(std::sync::Arc::new(scaled))
}

/// Typed access to a row's values.
pub trait RowExt {
    fn i64(&self, key: &str) -> Option<i64>;
    fn f64(&self, key: &str) -> Option<f64>;
    fn str(&self, key: &str) -> Option<&str>;
    fn bool(&self, key: &str) -> Option<bool>;
}

impl RowExt for Row {
    fn i64(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::as_i64)
    }
    fn f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }
    fn str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
    fn bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }
}
