//! Writing tables column by column: builders for the columns a generator sets (the rest are
//! written NULL) and a Parquet sink that appears under its name only when complete.

use crate::error::{Error, Result};
use crate::snapshot::contract::{self, Kind, Table};
use datafusion::arrow::array::{
    new_null_array, ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn parquet(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Query(format!("{}: {e}", path.display()))
}

/// Builders of one table's columns; the columns a generator does not set are written NULL.
pub struct ColumnBuilders {
    pub table: &'static Table,
    i64s: HashMap<&'static str, Int64Builder>,
    i32s: HashMap<&'static str, Int32Builder>,
    f64s: HashMap<&'static str, Float64Builder>,
    strs: HashMap<&'static str, StringBuilder>,
    bools: HashMap<&'static str, BooleanBuilder>,
    tss: HashMap<&'static str, TimestampMicrosecondBuilder>,
    pub rows: usize,
}

impl ColumnBuilders {
    pub fn new(table: &str, set: &[&'static str]) -> Self {
        let table = contract::table(table).expect("contract table");
        let mut c = ColumnBuilders {
            table,
            i64s: HashMap::new(),
            i32s: HashMap::new(),
            f64s: HashMap::new(),
            strs: HashMap::new(),
            bools: HashMap::new(),
            tss: HashMap::new(),
            rows: 0,
        };
        for name in set {
            let col = table.column(name).expect("contract column");
            match col.kind {
                Kind::I64 => drop(c.i64s.insert(col.name, Int64Builder::new())),
                Kind::I32 => drop(c.i32s.insert(col.name, Int32Builder::new())),
                Kind::F64 => drop(c.f64s.insert(col.name, Float64Builder::new())),
                Kind::Str | Kind::Json => drop(c.strs.insert(col.name, StringBuilder::new())),
                Kind::Bool => drop(c.bools.insert(col.name, BooleanBuilder::new())),
                Kind::Ts => drop(c.tss.insert(
                    col.name,
                    TimestampMicrosecondBuilder::new().with_timezone("UTC"),
                )),
                k => panic!("scale generator does not write {k:?} columns"),
            }
        }
        c
    }
    pub fn i(&mut self, name: &str, v: Option<i64>) {
        self.i64s
            .get_mut(name)
            .expect("i64 column")
            .append_option(v);
    }
    pub fn i32(&mut self, name: &str, v: Option<i32>) {
        self.i32s
            .get_mut(name)
            .expect("i32 column")
            .append_option(v);
    }
    pub fn f(&mut self, name: &str, v: Option<f64>) {
        self.f64s
            .get_mut(name)
            .expect("f64 column")
            .append_option(v);
    }
    pub fn s(&mut self, name: &str, v: Option<&str>) {
        self.strs
            .get_mut(name)
            .expect("str column")
            .append_option(v);
    }
    pub fn b(&mut self, name: &str, v: bool) {
        self.bools
            .get_mut(name)
            .expect("bool column")
            .append_value(v);
    }
    pub fn t(&mut self, name: &str, v: Option<i64>) {
        self.tss.get_mut(name).expect("ts column").append_option(v);
    }
    pub fn row(&mut self) {
        self.rows += 1;
    }

    /// The rows so far as one batch of the contract schema; the builders start over.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let schema = Arc::new(self.table.schema());
        let columns: Vec<ArrayRef> = self
            .table
            .columns
            .iter()
            .map(|col| -> ArrayRef {
                let n = col.name;
                if let Some(b) = self.i64s.get_mut(n) {
                    Arc::new(b.finish())
                } else if let Some(b) = self.i32s.get_mut(n) {
                    Arc::new(b.finish())
                } else if let Some(b) = self.f64s.get_mut(n) {
                    Arc::new(b.finish())
                } else if let Some(b) = self.strs.get_mut(n) {
                    Arc::new(b.finish())
                } else if let Some(b) = self.bools.get_mut(n) {
                    Arc::new(b.finish())
                } else if let Some(b) = self.tss.get_mut(n) {
                    Arc::new(b.finish())
                } else {
                    new_null_array(&col.kind.data_type(), self.rows)
                }
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// A Parquet file (zstd, row groups of up to 1M rows, page statistics) written under a
/// temporary name and renamed into place by `close`.
pub struct Sink {
    path: PathBuf,
    tmp: PathBuf,
    writer: ArrowWriter<File>,
}

impl Sink {
    pub fn create(path: &Path, schema: SchemaRef) -> Result<Sink> {
        let tmp = path.with_extension("parquet.tmp");
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3).expect("valid level"),
            ))
            .set_max_row_group_row_count(Some(1 << 20))
            .set_data_page_row_count_limit(crate::snapshot::PAGE_ROWS)
            .build();
        let writer =
            ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| parquet(path, e))?;
        Ok(Sink {
            path: path.to_path_buf(),
            tmp,
            writer,
        })
    }

    /// `dir/<table>.parquet` with the contract schema of `table`.
    pub fn for_table(dir: &Path, table: &Table) -> Result<Sink> {
        Sink::create(
            &dir.join(format!("{}.parquet", table.name)),
            Arc::new(table.schema()),
        )
    }

    pub fn write_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| parquet(&self.path, e))
    }

    /// Write the rows gathered in `columns` (which start over).
    pub fn write(&mut self, columns: &mut ColumnBuilders) -> Result<()> {
        let batch = columns.finish()?;
        self.write_batch(&batch)
    }

    pub fn close(self) -> Result<()> {
        self.writer.close().map_err(|e| parquet(&self.path, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}
