//! Scalar functions the SQL in `queries/` names. They decode data, they hold no Antenna rule.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Builder, ListBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(JsonArrayIds::new()));
    ctx.register_udf(ScalarUDF::from(JsonValid::new()));
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
