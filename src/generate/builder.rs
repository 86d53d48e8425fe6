//! Building a snapshot from rows: every table of the contract, written as Parquet with the
//! contract's exact types. Used by `occlens generate` and by the tests' tiny snapshots.

use super::columnar::Sink;
use crate::error::{Error, Result};
use crate::snapshot::contract::{Column, Kind, Table, TABLES};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int32Builder, Int64Builder,
    ListBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// Rows per table, as JSON objects keyed by column name. Missing columns get NULL when
/// nullable, else Antenna's application default (`terminal` true, `parents_json` `[]`, …).
#[derive(Default, Clone)]
pub struct SnapshotBuilder {
    rows: BTreeMap<&'static str, Vec<Map<String, Value>>>,
}

fn contract_table(name: &str) -> Result<&'static Table> {
    crate::snapshot::contract::table(name)
        .ok_or_else(|| Error::Usage(format!("unknown table {name}")))
}

impl SnapshotBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a row (a JSON object) to `table`. Panics on a name outside the contract: this is
    /// for generators and tests, whose tables are fixed.
    pub fn add(&mut self, table: &str, row: Value) -> &mut Self {
        let t = contract_table(table).expect("table of the contract");
        let Value::Object(map) = row else {
            panic!("rows are JSON objects")
        };
        for k in map.keys() {
            assert!(t.column(k).is_some(), "table {table} has no column {k}");
        }
        self.rows.entry(t.name).or_default().push(map);
        self
    }

    /// Mark identification `id` withdrawn (a newer one by the same user replaced it). Looked
    /// for from the newest row (generators withdraw a recent one: a scan from the first row
    /// made `generate --shape edge-cases` quadratic in the number of occurrences).
    pub fn withdraw(&mut self, id: i64) {
        if let Some(r) = self.rows.get_mut("main_identification").and_then(|rows| {
            rows.iter_mut()
                .rev()
                .find(|r| r.get("id").and_then(Value::as_i64) == Some(id))
        }) {
            r.insert("withdrawn".into(), Value::Bool(true));
        }
    }

    pub fn len(&self, table: &str) -> usize {
        self.rows.get(table).map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.rows.values().all(Vec::is_empty)
    }

    /// One Arrow batch of `table`'s rows with the contract schema.
    pub fn batch(&self, table: &Table) -> Result<RecordBatch> {
        let empty = Vec::new();
        let rows = self.rows.get(table.name).unwrap_or(&empty);
        let columns: Vec<ArrayRef> = table
            .columns
            .iter()
            .map(|c| column(table, c, rows))
            .collect::<Result<_>>()?;
        Ok(RecordBatch::try_new(Arc::new(table.schema()), columns)?)
    }

    /// Write every contract table to `dir/<table>.parquet` (zstd), each through a temporary
    /// name renamed into place when complete.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for table in TABLES {
            let batch = self.batch(table)?;
            let path = dir.join(format!("{}.parquet", table.name));
            write_parquet(&path, &[batch])?;
        }
        Ok(())
    }
}

/// Write `batches` (at least one) to `path`, through a temporary name renamed into place.
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let schema = batches
        .first()
        .map(|b| b.schema())
        .expect("at least one batch");
    let mut sink = Sink::create(path, schema)?;
    for b in batches {
        sink.write_batch(b)?;
    }
    sink.close()
}

/// Antenna's application defaults for NOT NULL columns a row leaves out.
fn default_value(c: &Column) -> Value {
    match (c.name, c.kind) {
        ("terminal", _) => Value::Bool(true),
        ("parents_json", _) | ("feature_flags", _) | ("data", _) => Value::from("[]"),
        ("version", Kind::I32) => Value::from(1),
        ("default_filters_score_threshold", _) => Value::from(0.5),
        ("session_time_gap_seconds", _) => Value::from(7200),
        // Project.active, Taxon.active (default True) and Project.priority (default 1).
        ("active", Kind::Bool) => Value::Bool(true),
        ("priority", _) => Value::from(1),
        ("labels", _) => Value::Array(vec![]),
        (_, Kind::Ts) => Value::from("2024-01-01T00:00:00Z"),
        (_, Kind::Str | Kind::Json) => Value::from(""),
        (_, Kind::Bool) => Value::Bool(false),
        (_, Kind::F64) => Value::from(0.0),
        (_, Kind::I64 | Kind::I32) => Value::from(0),
        (_, Kind::Date) => Value::from("2024-01-01"),
        (_, Kind::ListF64 | Kind::ListStr) => Value::Array(vec![]),
    }
}

/// jsonb text as PostgreSQL prints it (`", "` and `": "` separators).
pub fn pg_json(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(pg_json).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), pg_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn micros(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_micros()),
        _ => None,
    }
}

fn column(table: &Table, c: &Column, rows: &[Map<String, Value>]) -> Result<ArrayRef> {
    let values: Vec<Value> = rows
        .iter()
        .map(|r| match r.get(c.name) {
            Some(v) => v.clone(),
            None if c.nullable => Value::Null,
            None => default_value(c),
        })
        .collect();
    let bad = |v: &Value| {
        Error::Usage(format!(
            "table {}: column {}: cannot store {v}",
            table.name, c.name
        ))
    };
    macro_rules! build {
        ($builder:expr, $conv:expr) => {{
            let mut b = $builder;
            for v in &values {
                if v.is_null() {
                    b.append_null();
                } else {
                    b.append_value($conv(v).ok_or_else(|| bad(v))?);
                }
            }
            Arc::new(b.finish()) as ArrayRef
        }};
    }
    Ok(match c.kind {
        Kind::I64 => build!(Int64Builder::new(), |v: &Value| v.as_i64()),
        Kind::I32 => build!(Int32Builder::new(), |v: &Value| v
            .as_i64()
            .map(|x| x as i32)),
        // JSON has no NaN or infinities: "NaN", "inf" and "-inf" stand for them.
        Kind::F64 => build!(Float64Builder::new(), |v: &Value| match v {
            Value::String(s) => s.parse().ok(),
            other => other.as_f64(),
        }),
        Kind::Bool => build!(BooleanBuilder::new(), |v: &Value| v.as_bool()),
        Kind::Str | Kind::Json => build!(StringBuilder::new(), |v: &Value| Some(match v {
            Value::String(s) => s.clone(),
            other => pg_json(other),
        })),
        Kind::Ts => build!(
            TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            micros
        ),
        Kind::Date => build!(Date32Builder::new(), |v: &Value| v
            .as_str()
            .and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            .map(
                |d| (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
            )),
        Kind::ListF64 => {
            let mut b = ListBuilder::new(Float64Builder::new());
            for v in &values {
                match v {
                    Value::Array(items) => {
                        for i in items {
                            b.values().append_option(i.as_f64());
                        }
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
        Kind::ListStr => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for v in &values {
                match v {
                    Value::Array(items) => {
                        for i in items {
                            b.values().append_option(i.as_str());
                        }
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
    })
}
