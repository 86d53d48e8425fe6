//! The logical column types of the snapshot contract and the Arrow types each accepts.

use datafusion::arrow::datatypes::{DataType, Field, TimeUnit};
use std::sync::Arc;

/// The logical column types of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    I64,
    I32,
    F64,
    Str,
    /// jsonb: the JSON text PostgreSQL prints, or a nested type (list, struct, map) an exporter
    /// decoded it into (spec §2.15: accept both; `types` turns the nested form into the text).
    Json,
    Bool,
    /// timestamptz: `timestamp[us, tz=UTC]`
    Ts,
    Date,
    ListF64,
    ListStr,
}

impl Kind {
    pub fn data_type(self) -> DataType {
        match self {
            Kind::I64 => DataType::Int64,
            Kind::I32 => DataType::Int32,
            Kind::F64 => DataType::Float64,
            Kind::Str | Kind::Json => DataType::Utf8,
            Kind::Bool => DataType::Boolean,
            Kind::Ts => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Date => DataType::Date32,
            Kind::ListF64 => DataType::List(Arc::new(Field::new("item", DataType::Float64, true))),
            Kind::ListStr => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        }
    }

    /// Whether a column found in a file can stand for this kind.
    pub fn accepts(self, found: &DataType) -> bool {
        match (self, found) {
            (Kind::Ts, DataType::Timestamp(TimeUnit::Microsecond, Some(_))) => true,
            // A list's item may be named otherwise (`element`, Parquet's compliant name): the
            // values are the same.
            (Kind::ListF64 | Kind::ListStr, DataType::List(item)) => match self.data_type() {
                DataType::List(want) => item.data_type() == want.data_type(),
                _ => false,
            },
            (k, t) => &k.data_type() == t,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Kind::Ts => "timestamp[us, tz=UTC]".into(),
            Kind::Str => "string".into(),
            Kind::Json => "string (JSON text) or a nested type".into(),
            k => format!("{}", k.data_type()),
        }
    }
}
