//! Columns that other tools wrote with other Arrow types than the contract's, and how each is
//! read as the contract's type, so that `queries/` always sees one type per column.
//!
//! - A narrower integer (`int32` ids from a tool that kept PostgreSQL's `integer`), `float32`
//!   numbers, timestamps with a zone in seconds, milliseconds or nanoseconds, `date64`,
//!   dictionary-encoded strings, a column of nulls only (pyarrow's `null` type): cast by
//!   DataFusion's Parquet reader to the contract's type.
//! - Strings stored as bytes (`binary`, Parquet's BYTE_ARRAY without the UTF-8 annotation):
//!   each value checked, and one that is not UTF-8 is an error naming the column (the Parquet
//!   reader, asked for text, panics on such bytes).
//! - A wider integer (`int64` where PostgreSQL had `integer`, `uint64`), or integers stored as
//!   floating-point numbers (pandas writes an integer column with nulls as `double`): each
//!   value checked; one with a fraction, out of range, or a `double` at or beyond 2^53 (which
//!   may have been rounded) is an error naming the column, never a NULL.
//! - A jsonb column an exporter decoded into a nested type (spec §2.15: `bbox` as
//!   `list<int64>`, `parents_json` as a list of structs, `feature_flags` as a struct): read as
//!   the text PostgreSQL prints for the jsonb value (`[1, 2]`, `{"id": 1, "name": "x"}`: keys
//!   by length then bytes, `", "` and `": "` separators), which is what the queries parse.
//! - A timestamp without a time zone: a wall-clock time in the configured zone (spec §1.1:
//!   Antenna's database session returns naive New York times), turned into the instant it
//!   names. A time the zone's clocks show twice (the hour when summer time ends) is the later
//!   instant, and one they skip is read with the offset before the change, as PostgreSQL
//!   reads such input. (INT96 timestamps, Spark's default, are read as UTC instants:
//!   `engine::tuning`.)
//!
//! The last three are occlens's functions, in a view over the files as stored (`view`), which
//! a Ballista cluster's executors do not run: such snapshots are read locally.

use super::contract::{Kind, Table};
use chrono_tz::Tz;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

mod instants;
mod jsonb;

pub use instants::instants;
pub use jsonb::jsonb_text;

/// How a column found in a file is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// As found: the contract accepts the type.
    AsIs,
    /// Cast to this type by DataFusion's Parquet reader (lossless, or an error).
    Cast(DataType),
    /// Converted by one of occlens's functions, in a view over the table as stored.
    Convert(Conversion),
}

/// What occlens does to a column that DataFusion's casts cannot (or cannot with an error
/// naming the column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Conversion {
    /// A nested type, read as the jsonb text it was decoded from.
    JsonText,
    /// A timestamp without a time zone, read as a wall-clock time of the configured zone.
    WallClock,
    /// Integers of a type that may not hold every value of the contract's (a wider integer,
    /// an unsigned 64-bit one), or floating-point numbers holding integers (pandas stores an
    /// integer column with nulls as `double`): a value with a fraction, or out of range, is
    /// an error naming the column.
    Integer(Kind),
    /// Bytes that must be UTF-8 text.
    Text,
    /// A column the table's parts store with different types, read as one type by the Parquet
    /// reader (`merge`): passed through as it is, so that DataFusion does not answer from the
    /// parts' statistics, which keep each part's own type (`SELECT max(id)` was answered from
    /// those of the parts of the table's type only: 306 for 460, no error).
    Parts,
}

/// How a column of contract kind `kind` found as `found` is read; `None` when it cannot be.
pub fn reading(kind: Kind, found: &DataType) -> Option<Reading> {
    use DataType as T;
    if kind.accepts(found) {
        return Some(Reading::AsIs);
    }
    let integer = found.is_integer();
    let cast = |t: DataType| Some(Reading::Cast(t));
    let convert = |c: Conversion| Some(Reading::Convert(c));
    match (kind, found) {
        (Kind::I64 | Kind::I32, _) if integer && widens(found, kind) => cast(kind.data_type()),
        (Kind::I64 | Kind::I32, _) if integer => convert(Conversion::Integer(kind)),
        (Kind::I64 | Kind::I32, T::Float16 | T::Float32 | T::Float64) => {
            convert(Conversion::Integer(kind))
        }
        // A column of nulls only.
        (_, T::Null) => cast(kind.data_type()),
        (Kind::F64, T::Float16 | T::Float32) => cast(T::Float64),
        (Kind::F64, _) if integer => cast(T::Float64),
        (Kind::Ts, T::Timestamp(_, Some(zone))) => {
            cast(T::Timestamp(TimeUnit::Microsecond, Some(zone.clone())))
        }
        (Kind::Ts, T::Timestamp(_, None)) => convert(Conversion::WallClock),
        (Kind::Date, T::Date64) => cast(T::Date32),
        // Strings of another layout (`large_string`, `string_view`): one type downstream, so
        // that outputs (the Parquet export's schema) do not follow the input's layout.
        (Kind::Str | Kind::Json, T::LargeUtf8 | T::Utf8View) => cast(T::Utf8),
        (Kind::Str | Kind::Json, T::Dictionary(_, value)) if is_text(value) => cast(T::Utf8),
        (Kind::ListF64, T::List(item) | T::LargeList(item))
            if item.data_type().is_floating() || item.data_type().is_integer() =>
        {
            cast(kind.data_type())
        }
        (Kind::ListStr, T::List(item) | T::LargeList(item)) if is_text(item.data_type()) => {
            cast(kind.data_type())
        }
        (Kind::Str | Kind::Json, t) if is_bytes(t) => convert(Conversion::Text),
        (Kind::Str | Kind::Json, T::Dictionary(_, value)) if is_bytes(value) => {
            convert(Conversion::Text)
        }
        (
            Kind::Json,
            T::List(_) | T::LargeList(_) | T::FixedSizeList(..) | T::Struct(_) | T::Map(..),
        ) => convert(Conversion::JsonText),
        _ => None,
    }
}

/// Whether every value of the integer type `t` is a value of `kind`'s.
fn widens(t: &DataType, kind: Kind) -> bool {
    use DataType as T;
    match kind {
        Kind::I32 => matches!(t, T::Int8 | T::Int16 | T::UInt8 | T::UInt16),
        _ => matches!(
            t,
            T::Int8 | T::Int16 | T::Int32 | T::UInt8 | T::UInt16 | T::UInt32
        ),
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_bytes(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    )
}

/// How a table's files are read as the contract's types.
pub struct Adapted {
    /// The schema to register the files with: the contract's types where DataFusion's Parquet
    /// reader casts, the types as stored where occlens converts.
    pub schema: SchemaRef,
    /// The columns occlens converts, in a view over the table as stored.
    pub converted: Vec<(&'static str, Conversion)>,
}

/// `found` (a table's files' schema) adapted to `table`'s columns, those the queries read and
/// the others (a statement may read them all the same); `None` when it is read as it is. A
/// column whose type cannot be read is left as found, for `validate` to name it when the
/// queries read it.
pub fn adapt(table: &Table, found: &Schema) -> Option<Adapted> {
    let mut fields: Vec<Field> = found.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut converted = Vec::new();
    let mut changed = false;
    for field in fields.iter_mut() {
        let Some(column) = table.column(field.name()) else {
            continue;
        };
        match reading(column.kind, field.data_type()) {
            None | Some(Reading::AsIs) => {}
            Some(Reading::Cast(t)) => {
                *field = Field::new(field.name(), t, true).with_metadata(field.metadata().clone());
                changed = true;
            }
            Some(Reading::Convert(c)) => converted.push((column.name, c)),
        }
    }
    (changed || !converted.is_empty()).then(|| Adapted {
        schema: Arc::new(Schema::new_with_metadata(fields, found.metadata().clone())),
        converted,
    })
}

/// One schema for part files whose schemas differ (`(file, schema)` of each): a column stored
/// with different types takes one that holds them all (integers and floating-point numbers:
/// `double` when any part has one, else `int64`; timestamps: microseconds; strings of any
/// encoding: `string`, or `binary` when a part stores bytes; a column of nulls only: the other's type), each part's values cast to
/// it when read; a column the contract reads as something else is then converted as usual
/// (`adapt`: integers read through `double` are checked below 2^53, where `double` holds every
/// integer exactly). Other mixes are an error naming the column and two files.
pub fn merge(table: &Table, parts: &[(String, SchemaRef)]) -> Result<SchemaRef, String> {
    let mut fields: Vec<Field> = Vec::new();
    let mut first: Vec<&str> = Vec::new();
    for (file, schema) in parts {
        for f in schema.fields() {
            match fields.iter().position(|g| g.name() == f.name()) {
                None => {
                    fields.push(f.as_ref().clone().with_nullable(true));
                    first.push(file);
                }
                Some(i) if fields[i].data_type() == f.data_type() => {}
                Some(i) => match common(fields[i].data_type(), f.data_type()) {
                    Some(t) => fields[i] = Field::new(f.name(), t, true),
                    None => {
                        return Err(format!(
                            "column {} is stored as {} in {} and as {} in {}, which no one type holds{}",
                            f.name(),
                            fields[i].data_type(),
                            first[i],
                            f.data_type(),
                            file,
                            table
                                .column(f.name())
                                .map(|c| format!(" (expected {})", c.kind.describe()))
                                .unwrap_or_default()
                        ))
                    }
                },
            }
        }
    }
    // A contract column that some parts lack would read as NULLs in their rows, silently.
    for (field, first) in fields.iter().zip(&first) {
        if table.column(field.name()).is_none() {
            continue;
        }
        if let Some((file, _)) = parts
            .iter()
            .find(|(_, schema)| schema.field_with_name(field.name()).is_err())
        {
            return Err(format!(
                "column {} is in {first} but not in {file} (every part file must hold the table's columns)",
                field.name()
            ));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// A type that holds every value of `a` and of `b`.
fn common(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as T;
    let number = |t: &DataType| t.is_integer() || t.is_floating();
    let text = |t: &DataType| match t {
        T::Dictionary(_, v) => is_text(v),
        t => is_text(t),
    };
    let text_or_bytes = |t: &DataType| match t {
        T::Dictionary(_, v) => is_text(v) || is_bytes(v),
        t => is_text(t) || is_bytes(t),
    };
    match (a, b) {
        _ if a == b => Some(a.clone()),
        (T::Null, t) | (t, T::Null) => Some(t.clone()),
        _ if number(a) && number(b) => Some(if a.is_floating() || b.is_floating() {
            T::Float64
        } else {
            T::Int64
        }),
        (T::Timestamp(_, x), T::Timestamp(_, y)) if x.is_some() == y.is_some() => Some(
            T::Timestamp(TimeUnit::Microsecond, x.clone().or_else(|| y.clone())),
        ),
        (T::Date32 | T::Date64, T::Date32 | T::Date64) => Some(T::Date32),
        _ if text(a) && text(b) => Some(T::Utf8),
        // Bytes in some parts: read as bytes, checked as UTF-8 when converted (`adapt`).
        _ if text_or_bytes(a) && text_or_bytes(b) => Some(T::Binary),
        _ => None,
    }
}

/// The name the files of `table` are registered under when a view converts some of its
/// columns (`main_detection__stored`).
pub fn stored_name(table: &str) -> String {
    format!("{table}__stored")
}

/// `table` as a view over its files registered as `stored` in `ctx`: each of the `converted`
/// columns through its function, the others as they are. Views are inlined when planned, so
/// filters and projections still reach the Parquet scan; a filter on a converted column is
/// evaluated on the function's result (the files' statistics, which describe the stored
/// values, never decide it).
pub async fn view(
    ctx: &SessionContext,
    table: &Table,
    stored: &str,
    converted: &[(String, Conversion)],
    zone: Tz,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let files = ctx.table(stored).await?;
    let columns: Vec<Expr> = files
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().as_str();
            let column = Expr::Column(Column::new_unqualified(name));
            match converted.iter().find(|(c, _)| c == name) {
                None => column,
                Some((_, conversion)) => {
                    let udf = function(*conversion, &format!("{}.{name}", table.name), zone);
                    Arc::new(udf).call(vec![column]).alias(name)
                }
            }
        })
        .collect();
    Ok(files.select(columns)?.into_view())
}

/// The function that does `conversion` to the column `column` (`table.column`, for errors).
fn function(conversion: Conversion, column: &str, zone: Tz) -> ScalarUDF {
    ScalarUDF::from(Convert {
        signature: Signature::any(1, Volatility::Immutable),
        conversion,
        column: column.to_string(),
        zone,
    })
}

/// A conversion of one column as a scalar function of the view.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Convert {
    signature: Signature,
    conversion: Conversion,
    column: String,
    zone: Tz,
}

impl ScalarUDFImpl for Convert {
    fn name(&self) -> &str {
        match self.conversion {
            Conversion::JsonText => "occlens_jsonb_text",
            Conversion::WallClock => "occlens_wall_clock_instant",
            Conversion::Integer(_) => "occlens_integers",
            Conversion::Text => "occlens_utf8_text",
            Conversion::Parts => "occlens_parts",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match self.conversion {
            Conversion::Parts => args[0].clone(),
            Conversion::JsonText => DataType::Utf8,
            Conversion::WallClock => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Conversion::Integer(kind) => kind.data_type(),
            Conversion::Text => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(match self.conversion {
            Conversion::JsonText => jsonb::jsonb_text(&input)?,
            Conversion::WallClock => Arc::new(instants(&input, self.zone, &self.column)?),
            Conversion::Integer(kind) => {
                instants::integers(&input, &kind.data_type(), &self.column)?
            }
            Conversion::Text => instants::text(&input, &self.column)?,
            Conversion::Parts => input,
        }))
    }
}

#[cfg(test)]
mod tests;
