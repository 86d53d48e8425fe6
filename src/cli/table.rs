//! Writing query results for people and machines: an aligned table (like DuckDB's and
//! datafusion-cli's), CSV, a JSON array, JSON lines, or a Markdown table.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use occlens::error::{Error, Result};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TableFormat {
    Table,
    Csv,
    Json,
    Ndjson,
    Markdown,
}

/// A writer that remembers whether its reader went away: Arrow's CSV writer reports I/O
/// errors as text, and a closed pipe (`| head`) must stay recognisable as one.
struct Watched<'a> {
    out: &'a mut dyn Write,
    /// The first error of writing to `out` (a closed pipe, a full disk): the error of the
    /// whole write, whatever a writer on top (Arrow's CSV or JSON) made of it.
    failed: Option<std::io::Error>,
}

impl Watched<'_> {
    fn seen<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            if self.failed.is_none() {
                self.failed = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.out.write(buf);
        self.seen(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.out.flush();
        self.seen(r)
    }
}

pub fn write(out: &mut dyn Write, batches: &[RecordBatch], format: TableFormat) -> Result<()> {
    write_limited(out, batches, format, None)
}

/// [`write`], showing at most `maxrows` rows in the table format (the footer then says
/// "N rows (M shown)"); the other formats always write every row.
pub fn write_limited(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: TableFormat,
    maxrows: Option<usize>,
) -> Result<()> {
    let mut watched = Watched { out, failed: None };
    // An error of the output is named as stdout's, once (Arrow's writers wrapped it as a
    // "Csv error" or repeated it as "E: E").
    match write_to(&mut watched, batches, format, maxrows) {
        Err(_) if watched.failed.is_some() => {
            Err(Error::io("stdout", watched.failed.take().expect("checked")))
        }
        r => r,
    }
}

fn write_to(
    out: &mut dyn Write,
    batches: &[RecordBatch],
    format: TableFormat,
    maxrows: Option<usize>,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("stdout", e);
    match format {
        TableFormat::Table => {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let shown = maxrows.map_or(rows, |m| m.min(rows));
            let text = pretty_format_batches(&head(batches, shown))?;
            writeln!(out, "{text}").map_err(io)?;
            let s = if rows == 1 { "" } else { "s" };
            if shown < rows {
                writeln!(out, "{rows} row{s} ({shown} shown)").map_err(io)?;
            } else {
                writeln!(out, "{rows} row{s}").map_err(io)?;
            }
        }
        TableFormat::Markdown => markdown(out, batches).map_err(io)?,
        TableFormat::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                w.write(b)?;
            }
        }
        TableFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            // The array ends with a newline, as the other formats do.
            writeln!(out).map_err(io)?;
        }
        TableFormat::Ndjson => {
            let mut w = datafusion::arrow::json::LineDelimitedWriter::new(out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
    }
    Ok(())
}

/// The first `n` rows of `batches` (the schema kept when `n` is 0).
fn head(batches: &[RecordBatch], n: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut left = n;
    for b in batches {
        if left == 0 && !out.is_empty() {
            break;
        }
        let take = left.min(b.num_rows());
        out.push(b.slice(0, take));
        left -= take;
    }
    out
}

/// A GitHub-flavoured Markdown table: `|` escaped, line breaks as `<br>`, NULL as empty.
fn markdown(out: &mut dyn Write, batches: &[RecordBatch]) -> std::io::Result<()> {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let cell = |s: &str| {
        s.replace('|', "\\|")
            .replace("\r\n", "<br>")
            .replace('\n', "<br>")
    };
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let schema = first.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| cell(f.name())).collect();
    writeln!(out, "| {} |", names.join(" | "))?;
    writeln!(out, "|{}", " --- |".repeat(names.len()))?;
    let options = FormatOptions::default().with_display_error(true);
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        for row in 0..b.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| cell(&f.value(row).to_string()))
                .collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
    }
    Ok(())
}
