//! Writing query results for people and machines: an aligned table (like DuckDB's and
//! datafusion-cli's), CSV, a JSON array, or JSON lines.

use crate::error::{Error, Result};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
}

/// A writer that remembers whether its reader went away: Arrow's CSV writer reports I/O
/// errors as text, and a closed pipe (`| head`) must stay recognisable as one.
struct Watched<'a> {
    out: &'a mut dyn Write,
    broken_pipe: bool,
}

impl Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.out.write(buf);
        self.broken_pipe |= matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe);
        r
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.out.flush();
        self.broken_pipe |= matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe);
        r
    }
}

pub fn write(out: &mut dyn Write, batches: &[RecordBatch], format: Format) -> Result<()> {
    let mut watched = Watched {
        out,
        broken_pipe: false,
    };
    match write_to(&mut watched, batches, format) {
        Err(_) if watched.broken_pipe => Err(Error::Io {
            path: "stdout".into(),
            source: std::io::ErrorKind::BrokenPipe.into(),
        }),
        r => r,
    }
}

fn write_to(out: &mut dyn Write, batches: &[RecordBatch], format: Format) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        path: "stdout".into(),
        source: e,
    };
    match format {
        Format::Table => {
            let text = pretty_format_batches(batches)?;
            writeln!(out, "{text}").map_err(io)?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" }).map_err(io)?;
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Ndjson => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}
