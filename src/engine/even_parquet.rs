//! Parquet written from a result stream in batches of one fixed size, so that the file's bytes
//! (page and row-group boundaries) depend on the rows only, not on how the engine that computed
//! them cut its batches (one machine, a cluster's executors, another partition count).

use datafusion::arrow::compute::BatchCoalescer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::errors::{ParquetError, Result};
use datafusion::parquet::file::properties::WriterProperties;
use std::io::Write;

/// Rows per batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

pub struct EvenWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    even: BatchCoalescer,
}

impl<W: Write + Send> EvenWriter<W> {
    pub fn try_new(sink: W, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        Ok(EvenWriter {
            writer: ArrowWriter::try_new(sink, schema.clone(), Some(properties))?,
            even: BatchCoalescer::new(schema, BATCH_ROWS),
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.even.push_batch(batch.clone()).map_err(arrow)?;
        while let Some(b) = self.even.next_completed_batch() {
            self.writer.write(&b)?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        self.even.finish_buffered_batch().map_err(arrow)?;
        while let Some(b) = self.even.next_completed_batch() {
            self.writer.write(&b)?;
        }
        Ok(())
    }

    /// Write what is buffered and close the row group: the next rows start a new one.
    pub fn flush(&mut self) -> Result<()> {
        self.drain()?;
        self.writer.flush()
    }

    /// Write what is buffered and the footer; the sink.
    pub fn into_inner(mut self) -> Result<W> {
        self.drain()?;
        self.writer.into_inner()
    }
}

fn arrow(e: datafusion::arrow::error::ArrowError) -> ParquetError {
    ParquetError::External(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn file(cuts: &[usize]) -> Vec<u8> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let n = 30_000usize;
        let ids = Int64Array::from_iter_values(0..n as i64);
        let names =
            StringArray::from_iter((0..n).map(|i| (i % 7 != 0).then(|| format!("t{}", i % 97))));
        let all =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(names)]).unwrap();
        let mut w = EvenWriter::try_new(Vec::new(), schema, WriterProperties::default()).unwrap();
        let mut start = 0;
        for &end in cuts.iter().chain([&n]) {
            w.write(&all.slice(start, end - start)).unwrap();
            start = end;
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn bytes_do_not_depend_on_batch_boundaries() {
        let one = file(&[]);
        assert_eq!(one, file(&[1, 5000, 5001, 17_000]));
        assert_eq!(one, file(&[8192, 16_384, 16_385]));
    }
}
