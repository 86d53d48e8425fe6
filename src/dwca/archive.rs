//! Writing a Darwin Core Archive (antenna-exports-dwca.md §1.3, §1.9, §1.11): the four TSV files
//! streamed from their queries straight into zip members, then `meta.xml` and `eml.xml`, then
//! the structural validation gate.

use super::eml::{eml_xml, EmlInput};
use super::validate::{validate, ValidationReport};
use crate::engine::exports::DwcaQueries;
use crate::engine::rows::{to_rows, RowExt};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::exports::text_csv::text_columns;
use datafusion::arrow::array::{Array, AsArray};
use futures::StreamExt;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// The constant `meta.xml` (§1.9).
pub const META_XML: &str = include_str!("meta.xml");

/// What a written archive holds and how validation went.
pub struct ArchiveWritten {
    /// Data rows of each TSV file, in member order.
    pub rows: Vec<(&'static str, u64)>,
    pub report: ValidationReport,
}

impl ArchiveWritten {
    /// The export's record count: the occurrences (`occurrence.txt` data rows).
    pub fn occurrences(&self) -> u64 {
        self.rows
            .iter()
            .find(|(n, _)| *n == "occurrence.txt")
            .map_or(0, |(_, r)| *r)
    }
}

/// One TSV field: quoted only when it holds a tab, a `"` or an LF (a lone CR is not quoted,
/// as Python's csv module with `lineterminator="\n"` writes it).
fn push_field(line: &mut String, value: &str) {
    if value.contains(['\t', '"', '\n']) {
        line.push('"');
        line.push_str(&value.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(value);
    }
}

fn zip_error(path: &Path, e: impl Into<crate::error::Source>) -> Error {
    Error::io(path, std::io::Error::other(e))
}

/// The archive's file as a [`ZipWriter`] sees it. Once the archive is abandoned (an export that
/// failed, or a write to the file that failed: a full disk), reads, writes and seeks go nowhere:
/// `ZipWriter`'s drop would otherwise try to finish the central directory of an archive that is
/// about to be removed, and print its own error (glued to occlens's line) when that fails too.
struct Abandonable<W> {
    inner: W,
    abandoned: Arc<AtomicBool>,
    /// The position and length the zip writer has seen (kept so that an abandoned archive's
    /// last writes land where it expects them).
    pos: u64,
    len: u64,
}

impl<W> Abandonable<W> {
    fn new(inner: W, abandoned: Arc<AtomicBool>) -> Self {
        Abandonable {
            inner,
            abandoned,
            pos: 0,
            len: 0,
        }
    }

    fn gone(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }

    /// A real operation's result: a failure abandons the archive.
    fn track<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if r.is_err() {
            self.abandoned.store(true, Ordering::Relaxed);
        }
        r
    }

    fn advance(&mut self, n: usize) {
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
    }
}

impl<W: Write> Write for Abandonable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = if self.gone() {
            buf.len()
        } else {
            let r = self.inner.write(buf);
            self.track(r)?
        };
        self.advance(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.gone() {
            return Ok(());
        }
        let r = self.inner.flush();
        self.track(r)
    }
}

impl<W: std::io::Read> std::io::Read for Abandonable<W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.gone() {
            return Ok(0);
        }
        let r = self.inner.read(buf);
        let n = self.track(r)?;
        self.advance(n);
        Ok(n)
    }
}

impl<W: Seek> Seek for Abandonable<W> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        if self.gone() {
            let target = match to {
                SeekFrom::Start(n) => Some(n),
                SeekFrom::Current(d) => self.pos.checked_add_signed(d),
                SeekFrom::End(d) => self.len.checked_add_signed(d),
            };
            self.pos = target.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
            })?;
            return Ok(self.pos);
        }
        let r = self.inner.seek(to);
        self.pos = self.track(r)?;
        if let SeekFrom::End(d) = to {
            self.len = self.pos.checked_add_signed(-d).unwrap_or(self.pos);
        }
        self.len = self.len.max(self.pos);
        Ok(self.pos)
    }
}

/// Abandons its archive when dropped: declared after the [`ZipWriter`], it is dropped before
/// it on every early return.
struct AbandonOnDrop(Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Write the archive of `project` to `path` (a local file), then validate it. A failing archive
/// gains `VALIDATION_ERRORS.txt` (§1.11); the caller decides what that means for the exit code.
pub async fn write_archive(
    engine: &Engine,
    project: i64,
    collection: Option<i64>,
    packaged_at: &str,
    path: &Path,
    progress: &dyn Fn(u64),
) -> Result<ArchiveWritten> {
    let queries = engine.dwca_queries(project, collection).await?;
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let abandoned = Arc::new(AtomicBool::new(false));
    let mut zip = ZipWriter::new(Abandonable::new(
        std::io::BufWriter::new(file),
        abandoned.clone(),
    ));
    let _abandon = AbandonOnDrop(abandoned);
    // The members' times are the packaging time (`--packaged-at`, else now): the same
    // snapshot and time give the same bytes.
    let stamp = chrono::NaiveDateTime::parse_from_str(packaged_at, "%Y-%m-%dT%H:%M:%S")
        .unwrap_or_else(|_| chrono::Local::now().naive_local());
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        // Deflate's fastest level: SF1 project 1's 460 MB of text (detections as multimedia
        // and measurements) compressed at level 6 set the export's pace.
        .compression_level(Some(1))
        .last_modified_time(zip_time(stamp));
    let mut rows = Vec::new();
    let mut total = 0u64;
    for (name, sql) in &queries.files {
        zip.start_file(*name, options)
            .map_err(|e| zip_error(path, e))?;
        let mut stream = queries
            .stream(sql)
            .await
            .map_err(|e| Error::Query(format!("dwca {name}: {e}")))?;
        let schema = stream.schema();
        let mut line = String::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            push_field(&mut line, field.name());
        }
        line.push('\n');
        zip.write_all(line.as_bytes())
            .map_err(|e| zip_error(path, e))?;
        let mut count = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let columns = text_columns(&batch)?;
            let columns: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
            let mut text = String::new();
            for r in 0..batch.num_rows() {
                for (i, col) in columns.iter().enumerate() {
                    if i > 0 {
                        text.push('\t');
                    }
                    if col.is_valid(r) {
                        push_field(&mut text, col.value(r));
                    }
                }
                text.push('\n');
            }
            zip.write_all(text.as_bytes())
                .map_err(|e| zip_error(path, e))?;
            count += batch.num_rows() as u64;
            total += batch.num_rows() as u64;
            progress(total);
        }
        rows.push((*name, count));
    }
    zip.start_file("meta.xml", options)
        .map_err(|e| zip_error(path, e))?;
    zip.write_all(META_XML.as_bytes())
        .map_err(|e| zip_error(path, e))?;
    let eml = eml_input(&queries, packaged_at).await?;
    zip.start_file("eml.xml", options)
        .map_err(|e| zip_error(path, e))?;
    zip.write_all(eml_xml(&eml).as_bytes())
        .map_err(|e| zip_error(path, e))?;
    let mut out = zip.finish().map_err(|e| zip_error(path, e))?;
    out.flush().map_err(|e| zip_error(path, e))?;
    drop(out);

    let report = validate(path, &[]);
    if !report.ok() {
        append_report(path, &report, options)?;
    }
    Ok(ArchiveWritten { rows, report })
}

async fn eml_input(queries: &DwcaQueries, packaged_at: &str) -> Result<EmlInput> {
    let batches = queries.session.sql(&queries.eml).await?.collect().await?;
    let row = to_rows(&batches)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Query("dwca.eml returned no row".into()))?;
    let s = |k: &str| row.str(k).unwrap_or_default().to_string();
    let o = |k: &str| row.str(k).map(String::from);
    Ok(EmlInput {
        name: s("name"),
        description: s("description"),
        owner_name: s("owner_name"),
        license: s("license"),
        rights_holder: s("rights_holder"),
        slug: s("slug"),
        events: row.i64("events").unwrap_or(0),
        west: o("west"),
        east: o("east"),
        north: o("north"),
        south: o("south"),
        begin_date: o("begin_date"),
        end_date: o("end_date"),
        packaged_at: packaged_at.to_string(),
    })
}

fn zip_time(t: chrono::NaiveDateTime) -> zip::DateTime {
    use chrono::{Datelike, Timelike};
    zip::DateTime::from_date_and_time(
        t.year().clamp(1980, 2107) as u16,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .unwrap_or_default()
}

/// `VALIDATION_ERRORS.txt` (§1.11 step 5.1).
pub fn report_text(report: &ValidationReport) -> String {
    let mut text = format!(
        "DwC-A archive failed structural validation.\n\nErrors ({}):\n",
        report.errors.len()
    );
    for e in &report.errors {
        text.push_str(&format!("  - {e}\n"));
    }
    if !report.warnings.is_empty() {
        text.push_str(&format!("\nWarnings ({}):\n", report.warnings.len()));
        for w in &report.warnings {
            text.push_str(&format!("  - {w}\n"));
        }
    }
    text
}

/// Append `VALIDATION_ERRORS.txt` to an existing archive.
pub fn append_report(
    path: &Path,
    report: &ValidationReport,
    options: SimpleFileOptions,
) -> Result<()> {
    let file = File::options()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| zip_error(path, e))?;
    let abandoned = Arc::new(AtomicBool::new(false));
    let mut zip = ZipWriter::new_append(Abandonable::new(file, abandoned.clone()))
        .map_err(|e| zip_error(path, e))?;
    let _abandon = AbandonOnDrop(abandoned);
    zip.start_file("VALIDATION_ERRORS.txt", options)
        .map_err(|e| zip_error(path, e))?;
    zip.write_all(report_text(report).as_bytes())
        .map_err(|e| zip_error(path, e))?;
    zip.finish().map_err(|e| zip_error(path, e))?;
    Ok(())
}

/// The job's failure message (§1.11 step 5.3).
pub fn failure_message(report: &ValidationReport) -> String {
    format!(
        "DwC-A archive failed structural validation ({} errors). First: {}. See VALIDATION_ERRORS.txt inside the archive for the full report.",
        report.errors.len(),
        report.errors.first().map_or("", String::as_str)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_quoting() {
        let mut s = String::new();
        for v in ["plain", "a\tb", "say \"hi\"", "two\nlines", "cr\ronly"] {
            push_field(&mut s, v);
            s.push('|');
        }
        assert_eq!(
            s,
            "plain|\"a\tb\"|\"say \"\"hi\"\"\"|\"two\nlines\"|cr\ronly|"
        );
    }

    #[test]
    fn report_layout() {
        let report = ValidationReport {
            errors: vec!["one".into(), "duplicate core id: 'E1'".into()],
            warnings: vec!["w".into()],
        };
        assert_eq!(
            report_text(&report),
            "DwC-A archive failed structural validation.\n\nErrors (2):\n  - one\n  - duplicate core id: 'E1'\n\nWarnings (1):\n  - w\n"
        );
    }
}
