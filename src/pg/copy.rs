//! Binary `COPY … TO STDOUT` rows into Arrow record batches, a batch at a time.

use super::schema::{PgKind, PgTable};
use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int16Builder, Int32Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;
use tokio_postgres::binary_copy::BinaryCopyOutRow;

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn days(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// One column's builder.
enum Builder {
    I64(Int64Builder),
    I32(Int32Builder),
    I16(Int16Builder),
    F64(Float64Builder),
    F32(Float32Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    TsTz(TimestampMicrosecondBuilder),
    Ts(TimestampMicrosecondBuilder),
    Date(Date32Builder),
    ListF64(ListBuilder<Float64Builder>),
    ListF32(ListBuilder<Float32Builder>),
    ListI64(ListBuilder<Int64Builder>),
    ListI32(ListBuilder<Int32Builder>),
    ListBool(ListBuilder<BooleanBuilder>),
    ListText(ListBuilder<StringBuilder>),
}

fn list<B: ArrayBuilder>(item: B, kind: &PgKind) -> ListBuilder<B> {
    ListBuilder::new(item).with_field(Arc::new(Field::new("element", kind.arrow(), true)))
}

impl Builder {
    fn new(kind: &PgKind) -> Result<Builder> {
        Ok(match kind {
            PgKind::I64 => Builder::I64(Int64Builder::new()),
            PgKind::I32 => Builder::I32(Int32Builder::new()),
            PgKind::I16 => Builder::I16(Int16Builder::new()),
            PgKind::F64 => Builder::F64(Float64Builder::new()),
            PgKind::F32 => Builder::F32(Float32Builder::new()),
            PgKind::Bool => Builder::Bool(BooleanBuilder::new()),
            PgKind::Text | PgKind::AsText => Builder::Text(StringBuilder::new()),
            PgKind::TsTz => Builder::TsTz(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
            PgKind::Ts => Builder::Ts(TimestampMicrosecondBuilder::new()),
            PgKind::Date => Builder::Date(Date32Builder::new()),
            PgKind::List(item) => match **item {
                PgKind::F64 => Builder::ListF64(list(Float64Builder::new(), item)),
                PgKind::F32 => Builder::ListF32(list(Float32Builder::new(), item)),
                PgKind::I64 => Builder::ListI64(list(Int64Builder::new(), item)),
                PgKind::I32 => Builder::ListI32(list(Int32Builder::new(), item)),
                PgKind::Bool => Builder::ListBool(list(BooleanBuilder::new(), item)),
                PgKind::Text => Builder::ListText(list(StringBuilder::new(), item)),
                ref other => {
                    return Err(Error::postgres(format!(
                        "arrays of {other:?} are not supported"
                    )))
                }
            },
        })
    }

    fn push(
        &mut self,
        row: &BinaryCopyOutRow,
        i: usize,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        macro_rules! list_of {
            ($b:expr, $t:ty) => {{
                match row.try_get::<Option<Vec<Option<$t>>>>(i)? {
                    Some(items) => {
                        for item in items {
                            $b.values().append_option(item);
                        }
                        $b.append(true);
                    }
                    None => $b.append(false),
                }
            }};
        }
        match self {
            Builder::I64(b) => b.append_option(row.try_get::<Option<i64>>(i)?),
            Builder::I32(b) => b.append_option(row.try_get::<Option<i32>>(i)?),
            Builder::I16(b) => b.append_option(row.try_get::<Option<i16>>(i)?),
            Builder::F64(b) => b.append_option(row.try_get::<Option<f64>>(i)?),
            Builder::F32(b) => b.append_option(row.try_get::<Option<f32>>(i)?),
            Builder::Bool(b) => b.append_option(row.try_get::<Option<bool>>(i)?),
            Builder::Text(b) => b.append_option(row.try_get::<Option<&str>>(i)?),
            Builder::TsTz(b) => b.append_option(
                row.try_get::<Option<DateTime<Utc>>>(i)?
                    .map(|t| t.timestamp_micros()),
            ),
            Builder::Ts(b) => b.append_option(
                row.try_get::<Option<NaiveDateTime>>(i)?
                    .map(|t| t.and_utc().timestamp_micros()),
            ),
            Builder::Date(b) => b.append_option(row.try_get::<Option<NaiveDate>>(i)?.map(days)),
            Builder::ListF64(b) => list_of!(b, f64),
            Builder::ListF32(b) => list_of!(b, f32),
            Builder::ListI64(b) => list_of!(b, i64),
            Builder::ListI32(b) => list_of!(b, i32),
            Builder::ListBool(b) => list_of!(b, bool),
            Builder::ListText(b) => list_of!(b, String),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::TsTz(b) | Builder::Ts(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::ListF64(b) => Arc::new(b.finish()),
            Builder::ListF32(b) => Arc::new(b.finish()),
            Builder::ListI64(b) => Arc::new(b.finish()),
            Builder::ListI32(b) => Arc::new(b.finish()),
            Builder::ListBool(b) => Arc::new(b.finish()),
            Builder::ListText(b) => Arc::new(b.finish()),
        }
    }
}

/// Rows of one table accumulated into batches.
pub struct Batcher {
    table: String,
    names: Vec<String>,
    schema: Arc<Schema>,
    builders: Vec<Builder>,
    pub rows: usize,
}

impl Batcher {
    pub fn new(table: &PgTable) -> Result<Batcher> {
        Ok(Batcher {
            table: table.name.clone(),
            names: table.columns.iter().map(|c| c.name.clone()).collect(),
            schema: table.schema(),
            builders: table
                .columns
                .iter()
                .map(|c| {
                    Builder::new(&c.kind).map_err(|e| {
                        Error::postgres(format!("table {}: column {}: {e}", table.name, c.name))
                            .because(e)
                    })
                })
                .collect::<Result<_>>()?,
            rows: 0,
        })
    }

    pub fn push(&mut self, row: &BinaryCopyOutRow) -> Result<()> {
        for (i, b) in self.builders.iter_mut().enumerate() {
            b.push(row, i).map_err(|e| {
                Error::postgres(format!(
                    "table {}: column {}: {}",
                    self.table,
                    self.names[i],
                    super::connect::one_line(&e)
                ))
                .because(e)
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows pushed since the last call, as one batch.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
