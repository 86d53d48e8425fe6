//! Columns that other tools wrote with other Arrow types than the contract's, and how each is
//! read as the contract's type, so that `queries/` always sees one type per column.
//!
//! - A wider or narrower integer (`int32` ids from a tool that kept PostgreSQL's `integer`,
//!   `int64` counts from pandas), `float32` numbers, timestamps in seconds, milliseconds or
//!   nanoseconds, `date64`, dictionary-encoded or binary strings: cast by DataFusion's Parquet
//!   reader to the contract's type. A value that does not fit (an `int64` count above 2³¹, bytes
//!   that are not UTF-8) fails the statement; nothing is read as NULL in its place.
//! - A jsonb column an exporter decoded into a nested type (spec §2.15: `bbox` as
//!   `list<int64>`, `parents_json` as a list of structs, `feature_flags` as a struct): read as
//!   the text PostgreSQL prints for the jsonb value (`[1, 2]`, `{"id": 1, "name": "x"}`: keys
//!   by length then bytes, `", "` and `": "` separators), which is what the queries parse.
//! - A timestamp without a time zone: a wall-clock time in the configured zone (spec §1.1:
//!   Antenna's database session returns naive New York times), turned into the instant it
//!   names. A time the zone's clocks show twice (the hour when summer time ends) is the later
//!   instant, and one they skip is read with the offset before the change, as PostgreSQL
//!   reads such input.
//!
//! The last two are done by this module's reader (a `PhysicalExprAdapterFactory` of the
//! table), which a Ballista cluster's executors do not have: such snapshots are read locally.

use super::contract::{Kind, Table};
use chrono::{NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, StringBuilder, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, Schema, SchemaRef, TimeUnit, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{exec_err, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_expr_adapter::{
    DefaultPhysicalExprAdapterFactory, PhysicalExprAdapter, PhysicalExprAdapterFactory,
};
use std::fmt::Write as _;
use std::sync::Arc;

/// How a column found in a file is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// As found: the contract accepts the type.
    AsIs,
    /// Cast to this type by DataFusion's Parquet reader (a value that does not fit is an error).
    Cast(DataType),
    /// A nested type, read as the jsonb text it was decoded from.
    JsonText,
    /// A timestamp without a time zone, read as a wall-clock time of the configured zone.
    WallClock,
}

/// How a column of contract kind `kind` found as `found` is read; `None` when it cannot be.
pub fn reading(kind: Kind, found: &DataType) -> Option<Reading> {
    use DataType as T;
    if kind.accepts(found) {
        return Some(Reading::AsIs);
    }
    let integer = found.is_integer();
    let cast = |t: DataType| Some(Reading::Cast(t));
    match (kind, found) {
        (Kind::I64 | Kind::I32, _) if integer => cast(kind.data_type()),
        (Kind::F64, T::Float16 | T::Float32) => cast(T::Float64),
        (Kind::F64, _) if integer => cast(T::Float64),
        (Kind::Ts, T::Timestamp(_, Some(zone))) => {
            cast(T::Timestamp(TimeUnit::Microsecond, Some(zone.clone())))
        }
        (Kind::Ts, T::Timestamp(_, None)) => Some(Reading::WallClock),
        (Kind::Date, T::Date64) => cast(T::Date32),
        (Kind::Str | Kind::Json, T::Dictionary(_, value)) if is_text(value) => cast(T::Utf8),
        (Kind::Str | Kind::Json, T::Binary | T::LargeBinary | T::BinaryView) => cast(T::Utf8),
        (
            Kind::Json,
            T::List(_) | T::LargeList(_) | T::FixedSizeList(..) | T::Struct(_) | T::Map(..),
        ) => Some(Reading::JsonText),
        _ => None,
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The table schema that reads `found` (a table's files' schema) as the contract's types,
/// the reader that does it when DataFusion's own casts do not, and the columns only that
/// reader can read (`None`: `found` is read as it is).
pub struct Adapted {
    pub schema: SchemaRef,
    pub reader: Option<Arc<dyn PhysicalExprAdapterFactory>>,
    pub reader_only: Vec<&'static str>,
}

/// `found` adapted to `table`'s columns (see the module's comment), those the queries read
/// and the others (a statement may read them all the same); a column whose type cannot be
/// read is left as found, for `validate` to name it when the queries read it.
pub fn adapt(table: &Table, found: &Schema, zone: Tz) -> Option<Adapted> {
    let mut fields: Vec<Field> = found.fields().iter().map(|f| f.as_ref().clone()).collect();
    let (mut json, mut wall_clock) = (Vec::new(), Vec::new());
    let mut changed = false;
    for field in fields.iter_mut() {
        let Some(column) = table.column(field.name()) else {
            continue;
        };
        let to = match reading(column.kind, field.data_type()) {
            None | Some(Reading::AsIs) => continue,
            Some(Reading::Cast(t)) => t,
            Some(Reading::JsonText) => {
                json.push(column.name);
                DataType::Utf8
            }
            Some(Reading::WallClock) => {
                wall_clock.push(column.name);
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
        };
        *field = Field::new(field.name(), to, true).with_metadata(field.metadata().clone());
        changed = true;
    }
    if !changed {
        return None;
    }
    let reader_only: Vec<&'static str> = json.iter().chain(&wall_clock).copied().collect();
    let reader = (!reader_only.is_empty()).then(|| {
        Arc::new(ContractReader {
            json,
            wall_clock,
            zone,
        }) as Arc<dyn PhysicalExprAdapterFactory>
    });
    Some(Adapted {
        schema: Arc::new(Schema::new_with_metadata(fields, found.metadata().clone())),
        reader,
        reader_only,
    })
}

/// Reads the `json` columns as jsonb text and the `wall_clock` ones as instants; every other
/// column as DataFusion does.
#[derive(Debug)]
struct ContractReader {
    json: Vec<&'static str>,
    wall_clock: Vec<&'static str>,
    zone: Tz,
}

impl PhysicalExprAdapterFactory for ContractReader {
    fn create(
        &self,
        logical_file_schema: SchemaRef,
        physical_file_schema: SchemaRef,
    ) -> Result<Arc<dyn PhysicalExprAdapter>> {
        let default = DefaultPhysicalExprAdapterFactory
            .create(logical_file_schema, Arc::clone(&physical_file_schema))?;
        let convert = |udf: ScalarUDF| Arc::new(udf);
        Ok(Arc::new(FileReader {
            default,
            physical: physical_file_schema,
            json: self.json.clone(),
            wall_clock: self.wall_clock.clone(),
            jsonb_text: convert(ScalarUDF::from(JsonbText::new())),
            wall_clock_instant: convert(ScalarUDF::from(WallClockInstant::new(self.zone))),
        }))
    }
}

#[derive(Debug)]
struct FileReader {
    default: Arc<dyn PhysicalExprAdapter>,
    physical: SchemaRef,
    json: Vec<&'static str>,
    wall_clock: Vec<&'static str>,
    jsonb_text: Arc<ScalarUDF>,
    wall_clock_instant: Arc<ScalarUDF>,
}

impl PhysicalExprAdapter for FileReader {
    fn rewrite(&self, expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
        expr.transform_up(|e| {
            let Some(column) = e.downcast_ref::<Column>() else {
                return Ok(Transformed::no(e));
            };
            let name = column.name();
            let udf = if self.json.contains(&name) {
                &self.jsonb_text
            } else if self.wall_clock.contains(&name) {
                &self.wall_clock_instant
            } else {
                return Ok(Transformed::yes(self.default.rewrite(e)?));
            };
            let Ok(index) = self.physical.index_of(name) else {
                // Not in this file: DataFusion's reader fills it with NULL.
                return Ok(Transformed::yes(self.default.rewrite(e)?));
            };
            let arg: Arc<dyn PhysicalExpr> = Arc::new(Column::new(name, index));
            let call = ScalarFunctionExpr::try_new(
                Arc::clone(udf),
                vec![arg],
                &self.physical,
                Arc::new(ConfigOptions::default()),
            )?;
            Ok(Transformed::yes(Arc::new(call) as Arc<dyn PhysicalExpr>))
        })
        .data()
    }
}

/// `jsonb_text(nested)`: the text PostgreSQL prints for the jsonb value a nested column was
/// decoded from.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonbText {
    signature: Signature,
}

impl JsonbText {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonbText {
    fn name(&self) -> &str {
        "occlens_jsonb_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(jsonb_text(&input)?))
    }
}

/// Each value of `array` as jsonb text (SQL NULL stays NULL).
pub fn jsonb_text(array: &ArrayRef) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(array.len(), array.len() * 16);
    let mut text = String::new();
    for i in 0..array.len() {
        if array.is_null(i) {
            out.append_null();
        } else {
            text.clear();
            write_json(array.as_ref(), i, &mut text)?;
            out.append_value(&text);
        }
    }
    Ok(Arc::new(out.finish()))
}

fn write_json(array: &dyn Array, i: usize, out: &mut String) -> Result<()> {
    use DataType as T;
    if array.is_null(i) {
        out.push_str("null");
        return Ok(());
    }
    macro_rules! number {
        ($t:ty) => {{
            let v = array.as_primitive::<$t>().value(i);
            out.push_str(&serde_json::to_string(&v).unwrap_or_else(|_| "null".into()));
        }};
    }
    macro_rules! float {
        ($t:ty) => {{
            let v = f64::from(array.as_primitive::<$t>().value(i));
            // JSON has no NaN or infinity (nor does jsonb): such a value reads as null.
            out.push_str(&serde_json::to_string(&v).unwrap_or_else(|_| "null".into()));
        }};
    }
    match array.data_type() {
        T::Boolean => out.push_str(if array.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        T::Int8 => number!(Int8Type),
        T::Int16 => number!(Int16Type),
        T::Int32 => number!(Int32Type),
        T::Int64 => number!(Int64Type),
        T::UInt8 => number!(UInt8Type),
        T::UInt16 => number!(UInt16Type),
        T::UInt32 => number!(UInt32Type),
        T::UInt64 => number!(UInt64Type),
        T::Float16 => {
            let v = f64::from(array.as_primitive::<Float16Type>().value(i).to_f32());
            out.push_str(&serde_json::to_string(&v).unwrap_or_else(|_| "null".into()));
        }
        T::Float32 => {
            // The shortest text of the 32-bit value (0.1, not 0.10000000149011612).
            let v = array.as_primitive::<Float32Type>().value(i);
            out.push_str(&serde_json::to_string(&v).unwrap_or_else(|_| "null".into()));
        }
        T::Float64 => float!(Float64Type),
        T::Utf8 => string(array.as_string::<i32>().value(i), out),
        T::LargeUtf8 => string(array.as_string::<i64>().value(i), out),
        T::Utf8View => string(array.as_string_view().value(i), out),
        T::List(_) => items(array.as_list::<i32>().value(i).as_ref(), out)?,
        T::LargeList(_) => items(array.as_list::<i64>().value(i).as_ref(), out)?,
        T::FixedSizeList(..) => items(array.as_fixed_size_list().value(i).as_ref(), out)?,
        T::Struct(fields) => {
            let s = array.as_struct();
            let entries: Vec<(String, &dyn Array, usize)> = fields
                .iter()
                .zip(s.columns())
                .map(|(f, c)| (f.name().clone(), c.as_ref(), i))
                .collect();
            object(entries, out)?;
        }
        T::Map(..) => {
            let map = array.as_map();
            let (start, end) = (
                map.value_offsets()[i] as usize,
                map.value_offsets()[i + 1] as usize,
            );
            let (keys, values) = (map.keys(), map.values());
            let mut entries = Vec::with_capacity(end - start);
            for j in start..end {
                let mut key = String::new();
                display(keys.as_ref(), j, &mut key)?;
                entries.push((key, values.as_ref(), j));
            }
            object(entries, out)?;
        }
        _ => {
            // Dates, decimals, dictionaries, …: as their text.
            let mut text = String::new();
            display(array, i, &mut text)?;
            string(&text, out);
        }
    }
    Ok(())
}

/// A JSON string with the escapes PostgreSQL's jsonb output uses (`\"`, `\\`, `\b`, `\f`,
/// `\n`, `\r`, `\t`, `\u00XX` for other control characters; everything else as it is).
fn string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string serializes"));
}

fn display(array: &dyn Array, i: usize, out: &mut String) -> Result<()> {
    if let DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View = array.data_type() {
        let mut quoted = String::new();
        write_json(array, i, &mut quoted)?;
        let unquoted: String = serde_json::from_str(&quoted).unwrap_or(quoted);
        out.push_str(&unquoted);
        return Ok(());
    }
    let formatter = ArrayFormatter::try_new(array, &FormatOptions::default())?;
    write!(out, "{}", formatter.value(i))
        .map_err(|e| datafusion::error::DataFusionError::Execution(format!("jsonb text: {e}")))
}

fn items(list: &dyn Array, out: &mut String) -> Result<()> {
    out.push('[');
    for j in 0..list.len() {
        if j > 0 {
            out.push_str(", ");
        }
        write_json(list, j, out)?;
    }
    out.push(']');
    Ok(())
}

/// An object's entries in jsonb's key order: shorter keys first, then by bytes; of keys
/// given twice, the last.
fn object(mut entries: Vec<(String, &dyn Array, usize)>, out: &mut String) -> Result<()> {
    entries.reverse();
    entries.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
    entries.dedup_by(|later, earlier| later.0 == earlier.0);
    out.push('{');
    for (n, (key, values, j)) in entries.into_iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        string(&key, out);
        out.push_str(": ");
        write_json(values, j, out)?;
    }
    out.push('}');
    Ok(())
}

/// `wall_clock_instant(timestamp without zone)`: the instant a wall-clock time of `zone`
/// names, in microseconds, as `timestamp[us, tz=UTC]`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WallClockInstant {
    signature: Signature,
    zone: Tz,
}

impl WallClockInstant {
    fn new(zone: Tz) -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
            zone,
        }
    }
}

impl ScalarUDFImpl for WallClockInstant {
    fn name(&self) -> &str {
        "occlens_wall_clock_instant"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(instants(&input, self.zone)?)))
    }
}

/// Each wall-clock time of `array` (a timestamp without zone, any unit) in `zone` as an
/// instant in microseconds (see the module's comment for the times a zone shows twice or
/// skips).
pub fn instants(array: &ArrayRef, zone: Tz) -> Result<TimestampMicrosecondArray> {
    use datafusion::arrow::datatypes::{
        TimestampMicrosecondType as Us, TimestampMillisecondType as Ms,
        TimestampNanosecondType as Ns, TimestampSecondType as S,
    };
    let micros: Vec<Option<i64>> = match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, None) => {
            let a = array.as_primitive::<S>();
            a.iter()
                .map(|v| v.and_then(|s| s.checked_mul(1_000_000)))
                .collect()
        }
        DataType::Timestamp(TimeUnit::Millisecond, None) => {
            let a = array.as_primitive::<Ms>();
            a.iter()
                .map(|v| v.and_then(|s| s.checked_mul(1_000)))
                .collect()
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            array.as_primitive::<Us>().iter().collect()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, None) => {
            let a = array.as_primitive::<Ns>();
            a.iter().map(|v| v.map(|n| n.div_euclid(1_000))).collect()
        }
        other => return exec_err!("a timestamp without a time zone was expected, found {other}"),
    };
    let mut out = Vec::with_capacity(micros.len());
    for (i, m) in micros.into_iter().enumerate() {
        if array.is_null(i) {
            out.push(None);
            continue;
        }
        let Some(local) = m.and_then(chrono::DateTime::from_timestamp_micros) else {
            return exec_err!("a timestamp without a time zone is out of range");
        };
        out.push(Some(instant(local.naive_utc(), zone)));
    }
    Ok(TimestampMicrosecondArray::from(out).with_timezone("UTC"))
}

/// The instant the wall-clock time `local` of `zone` names, in microseconds since the epoch.
fn instant(local: NaiveDateTime, zone: Tz) -> i64 {
    use chrono::LocalResult;
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp_micros(),
        // Shown twice (summer time ends): the later instant, as PostgreSQL reads it.
        LocalResult::Ambiguous(_, later) => later.timestamp_micros(),
        // Skipped (summer time starts): read with the offset in force before the change.
        LocalResult::None => {
            let before = local - chrono::Duration::days(1);
            let offset = zone.offset_from_utc_datetime(&before).fix();
            (local - offset).and_utc().timestamp_micros()
        }
    }
}

#[cfg(test)]
mod tests;
