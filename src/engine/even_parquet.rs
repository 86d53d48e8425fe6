//! Parquet written from a result stream in batches of one fixed size, so that the file's bytes
//! (page and row-group boundaries) depend on the rows only, not on how the engine that computed
//! them cut its batches (one machine, a cluster's executors, another partition count).
//!
//! Each batch's columns are encoded in parallel (arrow-rs's `ArrowColumnWriter`s, one set of
//! columns per core) and each row group's column chunks appended in order: the same bytes as
//! one `ArrowWriter` writing the same batches (a unit test compares them).

use datafusion::arrow::compute::BatchCoalescer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::errors::{ParquetError, Result};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;
use std::io::Write;

/// Rows per batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

/// Some fields' column writers (the field's index, its leaves' writers), encoded by one thread.
type Lane = Vec<(usize, Vec<ArrowColumnWriter>)>;

pub struct EvenWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    even: BatchCoalescer,
    /// The writers of the row group being written (none between groups), and its rows.
    lanes: Vec<Lane>,
    group_rows: usize,
    max_group_rows: usize,
    groups: usize,
}

impl<W: Write + Send> EvenWriter<W> {
    pub fn try_new(sink: W, schema: SchemaRef, properties: WriterProperties) -> Result<Self> {
        // No limit: one row group, as ArrowWriter writes. (A byte limit or content-defined
        // chunking, which ArrowWriter applies while writing, is never set here.)
        let max_group_rows = properties
            .max_row_group_row_count()
            .unwrap_or(usize::MAX)
            .max(1);
        // ArrowWriter sets the file up (Parquet schema, the Arrow schema in its metadata).
        let (file, factory) = ArrowWriter::try_new(sink, schema.clone(), Some(properties))?
            .into_serialized_writer()?;
        Ok(EvenWriter {
            file,
            factory,
            schema: schema.clone(),
            even: BatchCoalescer::new(schema, BATCH_ROWS),
            lanes: Vec::new(),
            group_rows: 0,
            max_group_rows,
            groups: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.even.push_batch(batch.clone()).map_err(arrow)?;
        while let Some(b) = self.even.next_completed_batch() {
            self.gather(b)?;
        }
        Ok(())
    }

    /// Encode `batch` into the row group, closing each group as it fills.
    fn gather(&mut self, mut batch: RecordBatch) -> Result<()> {
        while batch.num_rows() > 0 {
            let take = batch.num_rows().min(self.max_group_rows - self.group_rows);
            let part = batch.slice(0, take);
            if self.lanes.is_empty() {
                self.lanes = self.start_group(&part)?;
            }
            self.encode(&part)?;
            self.group_rows += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if self.group_rows == self.max_group_rows {
                self.write_group()?;
            }
        }
        Ok(())
    }

    /// The column writers of a new row group, each field's (a struct has several leaves)
    /// given to one of the lanes, one lane per core.
    fn start_group(&self, first: &RecordBatch) -> Result<Vec<Lane>> {
        let mut writers = self.factory.create_column_writers(self.groups)?.into_iter();
        let mut fields: Vec<(usize, Vec<ArrowColumnWriter>)> = Vec::new();
        for (i, field) in self.schema.fields().iter().enumerate() {
            let leaves = compute_leaves(field, &first.column(i).slice(0, 0))?.len();
            fields.push((i, writers.by_ref().take(leaves).collect()));
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(fields.len())
            .max(1);
        let mut lanes: Vec<Lane> = (0..threads).map(|_| Vec::new()).collect();
        for (k, field) in fields.into_iter().enumerate() {
            lanes[k % threads].push(field);
        }
        Ok(lanes)
    }

    /// Encode `batch` into the row group's writers, the lanes in parallel (the writers keep
    /// their encoded pages, as ArrowWriter does: the batch is not held).
    fn encode(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = &self.schema;
        let encode = |lane: &mut Lane| -> Result<()> {
            for (i, writers) in lane.iter_mut() {
                let leaves = compute_leaves(&schema.fields()[*i], batch.column(*i))?;
                for (writer, leaf) in writers.iter_mut().zip(&leaves) {
                    writer.write(leaf)?;
                }
            }
            Ok(())
        };
        let (first, others) = self.lanes.split_first_mut().expect("a started group");
        std::thread::scope(|scope| {
            let handles: Vec<_> = others
                .iter_mut()
                .map(|lane| scope.spawn(move || encode(lane)))
                .collect();
            encode(first)?;
            for handle in handles {
                handle
                    .join()
                    .map_err(|_| ParquetError::General("a column encoder panicked".into()))??;
            }
            Ok(())
        })
    }

    /// Close the row group being written (if any) and append its column chunks in order.
    fn write_group(&mut self) -> Result<()> {
        if self.lanes.is_empty() {
            return Ok(());
        }
        let mut done: Vec<(usize, Vec<ArrowColumnChunk>)> = Vec::new();
        for (i, writers) in std::mem::take(&mut self.lanes).into_iter().flatten() {
            let chunks = writers
                .into_iter()
                .map(|w| w.close())
                .collect::<Result<_>>()?;
            done.push((i, chunks));
        }
        done.sort_by_key(|(i, _)| *i);
        let mut row_group = self.file.next_row_group()?;
        for chunk in done.into_iter().flat_map(|(_, chunks)| chunks) {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        self.groups += 1;
        self.group_rows = 0;
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        self.even.finish_buffered_batch().map_err(arrow)?;
        while let Some(b) = self.even.next_completed_batch() {
            self.gather(b)?;
        }
        Ok(())
    }

    /// Write what is buffered and close the row group: the next rows start a new one.
    pub fn flush(&mut self) -> Result<()> {
        self.drain()?;
        self.write_group()
    }

    /// Write what is buffered and the footer; the sink.
    pub fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        self.file.into_inner()
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

    /// Columns encoded in parallel: the bytes one ArrowWriter writes from the same batches.
    #[test]
    fn the_same_bytes_as_one_arrow_writer() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("score", DataType::Int64, true),
        ]));
        let n = 30_000usize;
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
                Arc::new(StringArray::from_iter(
                    (0..n).map(|i| (i % 7 != 0).then(|| format!("t{}", i % 97))),
                )),
                Arc::new(Int64Array::from_iter(
                    (0..n as i64).map(|i| (i % 3 != 0).then_some(i * 7)),
                )),
            ],
        )
        .unwrap();
        let props = || {
            WriterProperties::builder()
                .set_max_row_group_row_count(Some(10_000))
                .build()
        };
        let mut even = EvenWriter::try_new(Vec::new(), schema.clone(), props()).unwrap();
        even.write(&batch).unwrap();
        let even = even.into_inner().unwrap();
        let mut arrow = ArrowWriter::try_new(Vec::new(), schema, Some(props())).unwrap();
        let mut start = 0;
        while start < n {
            let len = BATCH_ROWS.min(n - start);
            arrow.write(&batch.slice(start, len)).unwrap();
            start += len;
        }
        assert_eq!(even, arrow.into_inner().unwrap());
    }
}
