//! Scalar functions the SQL in `queries/` names. They decode data, they hold no Antenna rule.

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Builder, Int64Builder, ListBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(JsonArrayIds::new()));
    ctx.register_udf(ScalarUDF::from(JsonValid::new()));
    ctx.register_udf(ScalarUDF::from(ExactMean::new()));
}

/// `json_valid(text) -> boolean`: whether the text is one JSON value (numbers of any size, as
/// PostgreSQL's jsonb takes them); NULL stays NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonValid {
    signature: Signature,
}

impl JsonValid {
    fn new() -> Self {
        let types = vec![DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8];
        Self {
            signature: Signature::uniform(1, types, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonValid {
    fn name(&self) -> &str {
        "json_valid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let text = cast(&input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let valid: BooleanArray = text
            .iter()
            .map(|t| t.map(|t| serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(valid) as ArrayRef))
    }
}

/// `json_array_ids(text) -> list<int64>`: the integer `id` of every object of a JSON array
/// (e.g. `main_taxon.parents_json`). NULL or non-array text gives an empty list.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonArrayIds {
    signature: Signature,
}

impl JsonArrayIds {
    fn new() -> Self {
        let types = vec![DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8];
        Self {
            signature: Signature::uniform(1, types, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for JsonArrayIds {
    fn name(&self) -> &str {
        "json_array_ids"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new(
            "item",
            DataType::Int64,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let text = cast(&input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut builder = ListBuilder::new(Int64Builder::new());
        for i in 0..text.len() {
            if text.is_valid(i) {
                if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(text.value(i)) {
                    for item in items {
                        if let Some(id) = item.get("id").and_then(json_int) {
                            builder.values().append_value(id);
                        }
                    }
                }
            }
            builder.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(builder.finish()) as ArrayRef))
    }
}

/// JSON containment compares numbers by value: `1` and `1.0` are the same id.
fn json_int(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
}

/// `exact_mean(list) -> double`: the mean of a list's non-null numbers, their sum taken exactly
/// and rounded once (Python's `math.fsum`), then divided by their count; NULL when there are
/// none. A running float sum (`avg`) depends on the order the values are added in, which
/// partitions, the Parquet layout and a cluster change, and its last bits can move a mean
/// across a rounding boundary of the output; this does not. With an infinity or NaN among
/// the values, or a partial sum past the largest double, the running sum's answer.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactMean {
    signature: Signature,
}

impl ExactMean {
    fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ExactMean {
    fn name(&self) -> &str {
        "exact_mean"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let lists = match input.as_list_opt::<i32>() {
            Some(lists) if lists.value_type().is_numeric() || lists.value_type().is_null() => lists,
            _ => {
                return datafusion::common::exec_err!(
                    "exact_mean takes a list of numbers (e.g. array_agg(x)), not {}",
                    input.data_type()
                )
            }
        };
        let values = cast(lists.values(), &DataType::Float64)?;
        let values = values.as_primitive::<Float64Type>();
        let mut means = Float64Builder::with_capacity(lists.len());
        let mut items = Vec::new();
        for (i, range) in lists.offsets().windows(2).enumerate() {
            items.clear();
            let (start, end) = (range[0] as usize, range[1] as usize);
            items.extend(
                (start..end)
                    .filter(|&j| values.is_valid(j))
                    .map(|j| values.value(j)),
            );
            if lists.is_null(i) || items.is_empty() {
                means.append_null();
                continue;
            }
            let exact = fsum::FSum::with_all(&items).value();
            let sum = if exact.is_finite() && items.iter().all(|v| v.is_finite()) {
                exact
            } else {
                items.iter().sum()
            };
            means.append_value(sum / items.len() as f64);
        }
        Ok(ColumnarValue::Array(Arc::new(means.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn mean(list: &str) -> String {
        let ctx = SessionContext::new();
        register(&ctx);
        let sql = format!("SELECT CAST(exact_mean({list}) AS VARCHAR) AS m");
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let column = cast(batches[0].column(0), &DataType::Utf8).unwrap();
        let text = column.as_string::<i32>();
        (if text.is_null(0) {
            "NULL"
        } else {
            text.value(0)
        })
        .to_string()
    }

    #[tokio::test]
    async fn exact_mean_does_not_depend_on_order() {
        // Added left to right, 0.963 + 0.317 + 0.13 + 0.409 gives a mean of
        // 0.45475000000000004 (fixed4: 0.4548), right to left 0.45475 (0.4547).
        for list in ["[0.963, 0.317, 0.13, 0.409]", "[0.409, 0.13, 0.317, 0.963]"] {
            assert_eq!(mean(list).await, "0.45475", "{list}");
        }
        assert_eq!(mean("[1e16, 1.0, -1e16, NULL]").await, "0.3333333333333333");
        assert_eq!(mean("[2, 4]").await, "3.0");
        assert_eq!(mean("[NULL]").await, "NULL");
        assert_eq!(mean("make_array()").await, "NULL");
        assert_eq!(mean("CAST(NULL AS DOUBLE[])").await, "NULL");
        assert_eq!(mean("[CAST('inf' AS DOUBLE), 1.0]").await, "inf");
        assert_eq!(mean("[1e308, 1e308]").await, "inf");
        assert_eq!(
            mean("[CAST('inf' AS DOUBLE), CAST('-inf' AS DOUBLE)]").await,
            "NaN"
        );
        assert_eq!(mean("[1, 2, 4]").await, "2.3333333333333335");
        // Not a list of numbers: an error naming the function, never a NULL.
        let ctx = SessionContext::new();
        register(&ctx);
        for bad in ["exact_mean(1)", "exact_mean(['0.5', 'x'])"] {
            let result = match ctx.sql(&format!("SELECT {bad}")).await {
                Ok(df) => df.collect().await.map(|_| ()),
                Err(e) => Err(e),
            };
            let err = result.expect_err(bad).to_string();
            assert!(
                err.contains("exact_mean takes a list of numbers"),
                "{bad}: {err}"
            );
        }
    }
}
