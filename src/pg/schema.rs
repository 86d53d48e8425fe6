//! What is exported from each table: its columns as PostgreSQL describes them, their Arrow
//! types (the contract of `SCHEMA.md`), and the `COPY` query that reads them in id order.

use crate::error::{Error, Result};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::types::Type;

/// How a column is read and stored.
#[derive(Debug, Clone, PartialEq)]
pub enum PgKind {
    I64,
    I32,
    I16,
    F64,
    F32,
    Bool,
    /// text, varchar, bpchar, name
    Text,
    /// json, jsonb, uuid: read as `col::text` (the text PostgreSQL prints)
    AsText,
    TsTz,
    Ts,
    Date,
    List(Box<PgKind>),
}

impl PgKind {
    fn of(udt: &str) -> Option<PgKind> {
        Some(match udt {
            "int8" => PgKind::I64,
            "int4" => PgKind::I32,
            "int2" => PgKind::I16,
            "float8" => PgKind::F64,
            "float4" => PgKind::F32,
            "bool" => PgKind::Bool,
            "text" | "varchar" | "bpchar" | "name" => PgKind::Text,
            "json" | "jsonb" | "uuid" => PgKind::AsText,
            "timestamptz" => PgKind::TsTz,
            "timestamp" => PgKind::Ts,
            "date" => PgKind::Date,
            array if array.starts_with('_') => {
                let item = PgKind::of(&array[1..])?;
                match item {
                    PgKind::List(_) | PgKind::AsText => return None,
                    item => PgKind::List(Box::new(item)),
                }
            }
            _ => return None,
        })
    }

    pub fn arrow(&self) -> DataType {
        match self {
            PgKind::I64 => DataType::Int64,
            PgKind::I32 => DataType::Int32,
            PgKind::I16 => DataType::Int16,
            PgKind::F64 => DataType::Float64,
            PgKind::F32 => DataType::Float32,
            PgKind::Bool => DataType::Boolean,
            PgKind::Text | PgKind::AsText => DataType::Utf8,
            PgKind::TsTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            PgKind::Ts => DataType::Timestamp(TimeUnit::Microsecond, None),
            PgKind::Date => DataType::Date32,
            PgKind::List(item) => {
                DataType::List(Arc::new(Field::new("element", item.arrow(), true)))
            }
        }
    }

    /// The type the binary COPY stream carries for this column.
    pub fn wire(&self) -> Type {
        match self {
            PgKind::I64 => Type::INT8,
            PgKind::I32 => Type::INT4,
            PgKind::I16 => Type::INT2,
            PgKind::F64 => Type::FLOAT8,
            PgKind::F32 => Type::FLOAT4,
            PgKind::Bool => Type::BOOL,
            PgKind::Text | PgKind::AsText => Type::TEXT,
            PgKind::TsTz => Type::TIMESTAMPTZ,
            PgKind::Ts => Type::TIMESTAMP,
            PgKind::Date => Type::DATE,
            PgKind::List(item) => match **item {
                PgKind::I64 => Type::INT8_ARRAY,
                PgKind::I32 => Type::INT4_ARRAY,
                PgKind::I16 => Type::INT2_ARRAY,
                PgKind::F64 => Type::FLOAT8_ARRAY,
                PgKind::F32 => Type::FLOAT4_ARRAY,
                PgKind::Bool => Type::BOOL_ARRAY,
                PgKind::TsTz => Type::TIMESTAMPTZ_ARRAY,
                PgKind::Ts => Type::TIMESTAMP_ARRAY,
                PgKind::Date => Type::DATE_ARRAY,
                _ => Type::TEXT_ARRAY,
            },
        }
    }
}

/// A column of a PostgreSQL table.
#[derive(Debug, Clone)]
pub struct PgColumn {
    pub name: String,
    /// `information_schema.columns.data_type`, arrays as `float8[]` (the `pg_type` metadata).
    pub pg_type: String,
    pub nullable: bool,
    pub kind: PgKind,
}

impl PgColumn {
    pub fn field(&self) -> Field {
        Field::new(&self.name, self.kind.arrow(), self.nullable).with_metadata(HashMap::from([
            ("pg_type".to_string(), self.pg_type.clone()),
            (
                "pg_nullable".to_string(),
                if self.nullable { "YES" } else { "NO" }.to_string(),
            ),
        ]))
    }

    fn select(&self) -> String {
        let quoted = format!("\"{}\"", self.name.replace('"', "\"\""));
        match self.kind {
            PgKind::AsText => format!("{quoted}::text"),
            _ => quoted,
        }
    }
}

/// One table's export.
#[derive(Debug, Clone)]
pub struct PgTable {
    pub name: String,
    pub columns: Vec<PgColumn>,
    /// Columns of the table left out (PII, classification arrays).
    pub omitted: Vec<String>,
}

impl PgTable {
    pub fn schema(&self) -> Arc<Schema> {
        Arc::new(
            Schema::new(self.columns.iter().map(PgColumn::field).collect::<Vec<_>>())
                .with_metadata(HashMap::from([("pg_table".to_string(), self.name.clone())])),
        )
    }

    /// `COPY (SELECT … WHERE condition ORDER BY id) TO STDOUT (FORMAT binary)`.
    pub fn copy_sql(&self, condition: Option<&str>) -> String {
        let columns: Vec<String> = self.columns.iter().map(PgColumn::select).collect();
        let order = if self.columns.iter().any(|c| c.name == "id") {
            "\"id\"".to_string()
        } else {
            columns[0].clone()
        };
        format!(
            "COPY (SELECT {} FROM \"{}\"{} ORDER BY {order}) TO STDOUT (FORMAT binary)",
            columns.join(", "),
            self.name,
            condition.map(|c| format!(" WHERE {c}")).unwrap_or_default()
        )
    }
}

/// The columns kept from `users_user` unless `--include-pii`.
pub const USER_COLUMNS: &[&str] = &["id", "name", "email", "image"];
/// The classification columns dropped by `--classification-arrays skip`.
pub const CLASSIFICATION_ARRAYS: &[&str] = &["logits", "scores"];

/// Describe `table` from `information_schema` (in the transaction `client` runs), keeping the
/// columns `keep` accepts. `None` when the table does not exist.
pub async fn describe(
    client: &tokio_postgres::Transaction<'_>,
    table: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<Option<PgTable>> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text, udt_name::text, is_nullable::text
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
             ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .map_err(|e| {
            Error::postgres(format!("table {table}: {}", super::connect::one_line(&e))).because(e)
        })?;
    if rows.is_empty() {
        return Ok(None);
    }
    let (mut columns, mut omitted) = (Vec::new(), Vec::new());
    for row in rows {
        let (name, data_type, udt, nullable): (String, String, String, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if !keep(&name) {
            omitted.push(name);
            continue;
        }
        let kind = PgKind::of(&udt).ok_or_else(|| {
            Error::postgres(format!(
                "table {table}: column {name}: unsupported PostgreSQL type {data_type} ({udt})"
            ))
        })?;
        let pg_type = if data_type == "ARRAY" {
            format!("{}[]", &udt[1..])
        } else {
            data_type
        };
        columns.push(PgColumn {
            name,
            pg_type,
            nullable: nullable == "YES",
            kind,
        });
    }
    Ok(Some(PgTable {
        name: table.to_string(),
        columns,
        omitted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            PgKind::of("_float8"),
            Some(PgKind::List(Box::new(PgKind::F64)))
        );
        assert_eq!(PgKind::of("jsonb"), Some(PgKind::AsText));
        assert_eq!(PgKind::of("numeric"), None);
        assert_eq!(PgKind::of("_jsonb"), None);
    }

    #[test]
    fn copy_query() {
        let t = PgTable {
            name: "main_taxon".into(),
            columns: vec![
                PgColumn {
                    name: "id".into(),
                    pg_type: "bigint".into(),
                    nullable: false,
                    kind: PgKind::I64,
                },
                PgColumn {
                    name: "parents_json".into(),
                    pg_type: "jsonb".into(),
                    nullable: false,
                    kind: PgKind::AsText,
                },
            ],
            omitted: vec![],
        };
        assert_eq!(
            t.copy_sql(Some("id < 3")),
            "COPY (SELECT \"id\", \"parents_json\"::text FROM \"main_taxon\" WHERE id < 3 ORDER BY \"id\") TO STDOUT (FORMAT binary)"
        );
    }
}
