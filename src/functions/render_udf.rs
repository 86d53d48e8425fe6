//! Scalar functions that render values the way Python and Django print them, so that the export
//! queries of `queries/` can produce their files' text columns directly. Each one wraps a
//! function of [`crate::render`]; none holds an Antenna rule.

use crate::render::{media, pyfmt, slug};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int64Type, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

type Body = fn(&[ArrayRef]) -> Result<ArrayRef>;

/// A scalar function: its inputs are cast to `inputs`, then `body` maps whole arrays.
#[derive(Debug)]
struct Render {
    name: &'static str,
    signature: Signature,
    inputs: Vec<DataType>,
    output: DataType,
    body: Body,
}

/// Functions are identified by name (each name is registered once).
impl PartialEq for Render {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Render {}

impl std::hash::Hash for Render {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for Render {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(self.output.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = args
            .args
            .iter()
            .zip(&self.inputs)
            .map(|(a, t)| cast(&a.to_array(args.number_rows)?, t).map_err(Into::into))
            .collect::<Result<Vec<_>>>()?;
        Ok(ColumnarValue::Array((self.body)(&arrays)?))
    }
}

fn udf(name: &'static str, inputs: Vec<DataType>, output: DataType, body: Body) -> ScalarUDF {
    ScalarUDF::from(Render {
        name,
        signature: Signature::any(inputs.len(), Volatility::Immutable),
        inputs,
        output,
        body,
    })
}

/// `wall_clock(instant)`: the naive wall-clock reading of a UTC instant in the snapshot's
/// configured zone (Antenna's `USE_TZ = False` rendering), as `Timestamp(us)` without a zone.
#[derive(Debug, PartialEq, Eq, Hash)]
struct WallClock {
    tz: chrono_tz::Tz,
    signature: Signature,
}

impl ScalarUDFImpl for WallClock {
    fn name(&self) -> &str {
        "wall_clock"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(TimeUnit::Microsecond, None))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // In microseconds whatever the argument's unit (a column of a user's statement may
        // hold nanoseconds).
        let instant = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let utc = cast(&args.args[0].to_array(args.number_rows)?, &instant)?;
        let utc = cast(&utc, &DataType::Int64)?;
        let local: TimestampMicrosecondArray = utc
            .as_primitive::<Int64Type>()
            .iter()
            .map(|us| {
                us.map(|us| {
                    crate::render::timefmt::local(us, self.tz)
                        .and_utc()
                        .timestamp_micros()
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(local)))
    }
}

/// `wall_clock` for the zone `tz`.
pub fn wall_clock(tz: chrono_tz::Tz) -> ScalarUDF {
    ScalarUDF::from(WallClock {
        tz,
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// The zone of a `wall_clock` function (None: another function). The function's one piece of
/// state, which plans sent to other processes carry with it (`cluster::codec`).
pub fn wall_clock_zone(f: &ScalarUDF) -> Option<chrono_tz::Tz> {
    f.inner().downcast_ref::<WallClock>().map(|w| w.tz)
}

/// Register `wall_clock` for the zone `tz` (it depends on the engine's configuration).
pub fn register_wall_clock(ctx: &SessionContext, tz: chrono_tz::Tz) {
    ctx.register_udf(wall_clock(tz));
}

pub fn register(ctx: &SessionContext) {
    use DataType::{Float64, Int64, Utf8};
    let naive = DataType::Timestamp(TimeUnit::Microsecond, None);
    for f in [
        udf("py_float", vec![Float64], Utf8, py_float),
        udf("py_round", vec![Float64, Int64], Float64, py_round),
        udf("fixed", vec![Float64, Int64], Utf8, fixed),
        udf("iso_dt", vec![naive], Utf8, iso_dt),
        udf("capture_url", vec![Utf8, Utf8], Utf8, capture_url),
        udf("media_url", vec![Utf8, Utf8], Utf8, media_url),
        udf("py_json", vec![Utf8], Utf8, py_json),
        udf("slugify", vec![Utf8], Utf8, slugify),
        udf("json_parents", vec![Utf8], parents_type(), json_parents),
    ] {
        ctx.register_udf(f);
    }
}

fn strings(a: &ArrayRef) -> &StringArray {
    a.as_string::<i32>()
}

fn map_str(a: &ArrayRef, f: impl Fn(&str) -> Option<String>) -> ArrayRef {
    let a = strings(a);
    Arc::new(
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| f(a.value(i))).flatten())
            .collect::<StringArray>(),
    )
}

/// `py_float(x)`: Python's `repr(float)` (`45.0`, `1e-05`, `nan`).
fn py_float(a: &[ArrayRef]) -> Result<ArrayRef> {
    let x = a[0].as_primitive::<Float64Type>();
    Ok(Arc::new(
        x.iter()
            .map(|v| v.map(pyfmt::py_repr_lower))
            .collect::<StringArray>(),
    ))
}

/// Apply `f` to each (x, n) pair of a (Float64, Int64) argument list; NULL in, NULL out.
fn with_digits<T>(a: &[ArrayRef], f: impl Fn(f64, i64) -> T) -> impl Iterator<Item = Option<T>> {
    let (x, n) = (
        a[0].as_primitive::<Float64Type>().clone(),
        a[1].as_primitive::<Int64Type>().clone(),
    );
    (0..x.len()).map(move |i| (x.is_valid(i) && n.is_valid(i)).then(|| f(x.value(i), n.value(i))))
}

/// `py_round(x, n)`: Python's `round(x, n)` (ties to even on the exact binary value; any `n`).
fn py_round(a: &[ArrayRef]) -> Result<ArrayRef> {
    Ok(Arc::new(
        with_digits(a, pyfmt::py_round).collect::<Float64Array>(),
    ))
}

/// `fixed(x, n)`: `f"{x:.nf}"`; `n` outside `0..=65535` is an error.
fn fixed(a: &[ArrayRef]) -> Result<ArrayRef> {
    let text = with_digits(a, pyfmt::py_fixed)
        .map(Option::transpose)
        .collect::<std::result::Result<StringArray, String>>()
        .map_err(|e| datafusion::error::DataFusionError::Execution(format!("fixed(x, n): {e}")))?;
    Ok(Arc::new(text))
}

/// `iso_dt(wall_clock)`: `YYYY-MM-DDTHH:MM:SS[.ffffff]` of a naive (already local) timestamp.
fn iso_dt(a: &[ArrayRef]) -> Result<ArrayRef> {
    let us = cast(&a[0], &DataType::Int64)?;
    let us = us.as_primitive::<Int64Type>();
    Ok(Arc::new(
        us.iter()
            .map(|v| v.map(|v| crate::render::timefmt::iso(v, chrono_tz::UTC)))
            .collect::<StringArray>(),
    ))
}

/// `capture_url(public_base_url, path)`: the public capture URL, NULL when there is none.
fn capture_url(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (base, path) = (strings(&a[0]), strings(&a[1]));
    let mut urls = media::CaptureUrls::default();
    Ok(Arc::new(
        (0..path.len())
            .map(|i| {
                let b = base.is_valid(i).then(|| base.value(i));
                path.is_valid(i)
                    .then(|| urls.url(b, path.value(i)))
                    .flatten()
            })
            .collect::<StringArray>(),
    ))
}

/// `media_url(path, media_base)`: a detection crop URL, NULL for a NULL or empty path.
fn media_url(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (path, base) = (strings(&a[0]), strings(&a[1]));
    Ok(Arc::new(
        (0..path.len())
            .map(|i| {
                let p = path.is_valid(i).then(|| path.value(i));
                media::media_url(p, if base.is_valid(i) { base.value(i) } else { "" })
            })
            .collect::<StringArray>(),
    ))
}

/// `py_json(text)`: JSON text re-serialised as Python's `json.dumps` writes it; NULL when the
/// text does not parse.
fn py_json(a: &[ArrayRef]) -> Result<ArrayRef> {
    Ok(map_str(&a[0], |s| {
        serde_json::from_str(s).ok().map(|v| pyfmt::dumps(&v))
    }))
}

/// `slugify(text)`: Django's `slugify`.
fn slugify(a: &[ArrayRef]) -> Result<ArrayRef> {
    Ok(map_str(&a[0], |s| Some(slug::slugify(s))))
}

fn parent_fields() -> Fields {
    Fields::from(vec![
        Field::new("position", DataType::Int64, false),
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("rank", DataType::Utf8, true),
    ])
}

fn parents_type() -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(parent_fields()),
        true,
    )))
}

/// `json_parents(parents_json)`: the entries of a taxon's `parents_json` array in stored order,
/// as `{position, id, name, rank}` structs (position 0 = the first entry). NULL for NULL, and
/// for text that is not such a list (Antenna's `TaxonParent` list): JSON that is not an array,
/// or an entry that is not an object with an integer `id` and, where given, text `name` and
/// `rank` (`check.parents` counts them).
fn json_parents(a: &[ArrayRef]) -> Result<ArrayRef> {
    let text = strings(&a[0]);
    let (mut position, mut id, mut name, mut rank) = (vec![], vec![], vec![], vec![]);
    let mut offsets = vec![0usize];
    let mut valid = Vec::with_capacity(text.len());
    for i in 0..text.len() {
        let items = text
            .is_valid(i)
            .then(|| parents_of(text.value(i)))
            .flatten();
        valid.push(items.is_some());
        let items = items.unwrap_or_default();
        for (p, item) in items.iter().enumerate() {
            position.push(p as i64);
            id.push(item.get("id").and_then(json_integer));
            let text_of = |k: &str| item.get(k).and_then(|v| v.as_str()).map(String::from);
            name.push(text_of("name"));
            rank.push(text_of("rank"));
        }
        offsets.push(position.len());
    }
    let entries = StructArray::try_new(
        parent_fields(),
        vec![
            Arc::new(Int64Array::from(position)),
            Arc::new(Int64Array::from(id)),
            Arc::new(StringArray::from(name)),
            Arc::new(StringArray::from(rank)),
        ],
        None,
    )?;
    let item = Arc::new(Field::new("item", DataType::Struct(parent_fields()), true));
    Ok(Arc::new(ListArray::try_new(
        item,
        OffsetBuffer::from_lengths(offsets.windows(2).map(|w| w[1] - w[0])),
        Arc::new(entries),
        Some(NullBuffer::from(valid)),
    )?))
}

/// The entries of `text` when it is a list of parents (see [`json_parents`]).
fn parents_of(text: &str) -> Option<Vec<serde_json::Value>> {
    let serde_json::Value::Array(items) = serde_json::from_str(text).ok()? else {
        return None;
    };
    let text_or_null =
        |v: Option<&serde_json::Value>| v.is_none_or(|v| v.is_null() || v.is_string());
    items
        .iter()
        .all(|item| {
            item.is_object()
                && item.get("id").and_then(json_integer).is_some()
                && text_or_null(item.get("name"))
                && text_or_null(item.get("rank"))
        })
        .then_some(items)
}

/// A JSON integer, or a number with no fraction (`3.0`).
fn json_integer(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::TimestampNanosecondArray;
    use datafusion::arrow::datatypes::Field;
    use datafusion::logical_expr::ScalarUDF;

    /// `wall_clock` of an instant in nanoseconds is the reading of the same instant in
    /// microseconds (not the nanosecond count read as microseconds).
    #[test]
    fn wall_clock_reads_any_unit() {
        let udf: ScalarUDF = wall_clock(chrono_tz::America::New_York);
        // 2023-06-11T01:00:00Z is 21:00 in New York.
        let ns = 1_686_445_200_000_000_000_i64;
        let input: ArrayRef =
            Arc::new(TimestampNanosecondArray::from(vec![Some(ns), None]).with_timezone("UTC"));
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(input.clone())],
            arg_fields: vec![Arc::new(Field::new("t", input.data_type().clone(), true))],
            number_rows: 2,
            return_field: Arc::new(Field::new(
                "w",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                true,
            )),
            config_options: Arc::new(Default::default()),
        };
        let ColumnarValue::Array(out) = udf.invoke_with_args(args).unwrap() else {
            panic!("an array")
        };
        let out = out.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(out.value(0), 1_686_430_800_000_000);
        assert!(out.is_null(1));
    }
}
