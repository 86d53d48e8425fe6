//! What is exported from each table: its columns as PostgreSQL describes them, their Arrow
//! types (the contract of `SCHEMA.md`), and the `COPY` query that reads them in id order.

use crate::error::{Error, Result};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::types::Type;

/// How a column is read and stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
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
    List(Box<Kind>),
}

impl Kind {
    fn of(udt: &str) -> Option<Kind> {
        Some(match udt {
            "int8" => Kind::I64,
            "int4" => Kind::I32,
            "int2" => Kind::I16,
            "float8" => Kind::F64,
            "float4" => Kind::F32,
            "bool" => Kind::Bool,
            "text" | "varchar" | "bpchar" | "name" => Kind::Text,
            "json" | "jsonb" | "uuid" => Kind::AsText,
            "timestamptz" => Kind::TsTz,
            "timestamp" => Kind::Ts,
            "date" => Kind::Date,
            array if array.starts_with('_') => {
                let item = Kind::of(&array[1..])?;
                match item {
                    Kind::List(_) | Kind::AsText => return None,
                    item => Kind::List(Box::new(item)),
                }
            }
            _ => return None,
        })
    }

    pub fn arrow(&self) -> DataType {
        match self {
            Kind::I64 => DataType::Int64,
            Kind::I32 => DataType::Int32,
            Kind::I16 => DataType::Int16,
            Kind::F64 => DataType::Float64,
            Kind::F32 => DataType::Float32,
            Kind::Bool => DataType::Boolean,
            Kind::Text | Kind::AsText => DataType::Utf8,
            Kind::TsTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Kind::Ts => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Date => DataType::Date32,
            Kind::List(item) => DataType::List(Arc::new(Field::new("element", item.arrow(), true))),
        }
    }

    /// The type the binary COPY stream carries for this column.
    pub fn wire(&self) -> Type {
        match self {
            Kind::I64 => Type::INT8,
            Kind::I32 => Type::INT4,
            Kind::I16 => Type::INT2,
            Kind::F64 => Type::FLOAT8,
            Kind::F32 => Type::FLOAT4,
            Kind::Bool => Type::BOOL,
            Kind::Text | Kind::AsText => Type::TEXT,
            Kind::TsTz => Type::TIMESTAMPTZ,
            Kind::Ts => Type::TIMESTAMP,
            Kind::Date => Type::DATE,
            Kind::List(item) => match **item {
                Kind::I64 => Type::INT8_ARRAY,
                Kind::I32 => Type::INT4_ARRAY,
                Kind::I16 => Type::INT2_ARRAY,
                Kind::F64 => Type::FLOAT8_ARRAY,
                Kind::F32 => Type::FLOAT4_ARRAY,
                Kind::Bool => Type::BOOL_ARRAY,
                Kind::TsTz => Type::TIMESTAMPTZ_ARRAY,
                Kind::Ts => Type::TIMESTAMP_ARRAY,
                Kind::Date => Type::DATE_ARRAY,
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
    pub kind: Kind,
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
            Kind::AsText => format!("{quoted}::text"),
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
pub const USER_COLUMNS: &[&str] = &["id", "name", "email"];
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
        .map_err(|e| Error::Usage(format!("table {table}: {}", super::connect::one_line(&e))))?;
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
        let kind = Kind::of(&udt).ok_or_else(|| {
            Error::Usage(format!(
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
        assert_eq!(Kind::of("_float8"), Some(Kind::List(Box::new(Kind::F64))));
        assert_eq!(Kind::of("jsonb"), Some(Kind::AsText));
        assert_eq!(Kind::of("numeric"), None);
        assert_eq!(Kind::of("_jsonb"), None);
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
                    kind: Kind::I64,
                },
                PgColumn {
                    name: "parents_json".into(),
                    pg_type: "jsonb".into(),
                    nullable: false,
                    kind: Kind::AsText,
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
