//! CSV of a stream whose columns are already the file's text (Python's `excel` dialect: comma,
//! CRLF, quotes only where needed; NULL is an empty field). Used by `taxa_list_csv` and `csv`.

use crate::error::{Error, Result};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::io::Write;

/// A CSV writer's error; one of the output (a full disk) is the output's I/O error, which the
/// command names with its file.
fn csv_error(e: csv::Error) -> Error {
    if !e.is_io_error() {
        return Error::export(format!("writing CSV: {e}")).because(e);
    }
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::io("export", source),
        kind => Error::export(format!("writing CSV: {kind:?}")),
    }
}

/// Every column of `batch` as text (Arrow's cast to Utf8; NULL stays NULL).
pub fn text_columns(batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    Ok(batch
        .columns()
        .iter()
        .map(|c| cast(c, &DataType::Utf8))
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Write the header and every row of `stream` to `out`; returns the rows written.
pub async fn write(
    mut stream: SendableRecordBatchStream,
    out: &mut dyn Write,
    progress: &dyn Fn(u64),
) -> Result<u64> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let schema = stream.schema();
    w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
        .map_err(csv_error)?;
    let mut n = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let columns = text_columns(&batch)?;
        let columns: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
        for r in 0..batch.num_rows() {
            w.write_record(
                columns
                    .iter()
                    .map(|c| if c.is_valid(r) { c.value(r) } else { "" }),
            )
            .map_err(csv_error)?;
        }
        n += batch.num_rows() as u64;
        progress(n);
    }
    // The output's error (a full disk: the file is written in large blocks, so this may be
    // the first write), which the command names with its file.
    w.flush().map_err(|e| Error::io("export", e))?;
    Ok(n)
}
