//! Where a statement's batches go: kept for the terminal, or streamed to `--out FILE` (a
//! temporary sibling renamed into place when complete, as the exports do); and the progress
//! line of a long statement.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::ExecutionPlan;
use occlens::engine::even_parquet::EvenWriter;
use occlens::staging::{publish_file, Temp};
use occlens::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What receives a statement's result.
pub trait Sink {
    fn start(&mut self, schema: &SchemaRef) -> Result<()>;
    fn batch(&mut self, batch: &RecordBatch) -> Result<()>;
}

/// The batches, kept to be printed (an empty result keeps its schema as one empty batch).
#[derive(Default)]
pub struct Collect {
    pub batches: Vec<RecordBatch>,
}

impl Sink for Collect {
    fn start(&mut self, schema: &SchemaRef) -> Result<()> {
        self.batches.push(RecordBatch::new_empty(schema.clone()));
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.batches.len() == 1 && self.batches[0].num_rows() == 0 {
            self.batches.clear();
        }
        if batch.num_rows() > 0 {
            self.batches.push(batch.clone());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Parquet,
    Csv,
    Json,
    Ndjson,
}

/// `--out FILE`, its format named by its extension.
#[derive(Debug, Clone)]
pub struct Out {
    pub path: PathBuf,
    pub kind: FileFormat,
    pub overwrite: bool,
}

impl Out {
    /// Check `--out` before anything runs: a local path (a `file://` URL is one; another
    /// `scheme://` URL is refused), a known extension, an existing folder, and no file there
    /// unless `overwrite`.
    pub fn parse(path: &Path, overwrite: bool) -> Result<Out> {
        // A URL would be read as a relative path (`s3:/bucket/x.csv`): refused, not written
        // to a local folder named like it. Only `scheme://` is one: `list-10:30.csv` is a
        // file name.
        let text = path.to_string_lossy();
        let url = text
            .contains("://")
            .then(|| url::Url::parse(&text).ok())
            .flatten();
        let local;
        let path = match url {
            Some(u) if u.scheme() == "file" => {
                local = u.to_file_path().map_err(|_| {
                    Error::Usage(format!("--out {text}: not a local path"))
                })?;
                local.as_path()
            }
            Some(u) => {
                return Err(Error::Usage(format!(
                    "--out {}: occlens sql writes a local file, not {}:// (occlens export --out writes to object stores)",
                    occlens::redact::redact(&text),
                    u.scheme()
                )))
            }
            None => path,
        };
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let kind = match ext.as_str() {
            "parquet" => FileFormat::Parquet,
            "csv" => FileFormat::Csv,
            "json" => FileFormat::Json,
            "ndjson" | "jsonl" => FileFormat::Ndjson,
            _ => {
                return Err(Error::Usage(format!(
                    "--out {}: the format is taken from the extension: .parquet, .csv, .json or .ndjson",
                    path.display()
                )))
            }
        };
        if path.is_dir() {
            return Err(Error::Usage(format!(
                "--out {}: is a directory (expected a file name)",
                path.display()
            )));
        }
        if !overwrite && std::fs::symlink_metadata(path).is_ok() {
            return Err(occlens::staging::exists(path));
        }
        if let Some(why) = occlens::staging::missing_folder(path) {
            return Err(Error::Usage(format!("--out {}: {why}", path.display())));
        }
        Ok(Out {
            path: path.to_path_buf(),
            kind,
            overwrite,
        })
    }

    /// A sink writing to a temporary sibling of the file; [`ToFile::publish`] renames it.
    pub fn sink(&self) -> ToFile {
        ToFile {
            out: self.clone(),
            tmp: Temp::sibling_of(&self.path, "sql"),
            writer: None,
            rows: 0,
        }
    }
}

enum Writer {
    Parquet(EvenWriter<BufWriter<File>>),
    Csv(datafusion::arrow::csv::Writer<BufWriter<File>>),
    Json(datafusion::arrow::json::ArrayWriter<BufWriter<File>>),
    Ndjson(datafusion::arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

/// A result streamed to `--out`'s temporary (removed if dropped before [`ToFile::publish`]).
pub struct ToFile {
    out: Out,
    tmp: Temp,
    writer: Option<Writer>,
    pub rows: u64,
}

impl ToFile {
    /// An error writing the temporary, named as the output's (the user named --out, not the
    /// hidden temporary beside it).
    fn io(&self, e: std::io::Error) -> Error {
        Error::io(&self.out.path, e)
    }

    /// Finish the file and rename it to `--out` (refused if a file appeared there meanwhile,
    /// unless --overwrite).
    pub fn publish(mut self) -> Result<u64> {
        let file = match self.writer.take() {
            Some(Writer::Parquet(w)) => w.into_inner().map_err(parquet)?,
            Some(Writer::Csv(w)) => w.into_inner(),
            Some(Writer::Json(mut w)) => {
                w.finish()?;
                let mut f = w.into_inner();
                f.write_all(b"\n").map_err(|e| self.io(e))?;
                f
            }
            Some(Writer::Ndjson(mut w)) => {
                w.finish()?;
                w.into_inner()
            }
            None => return Err(Error::Query("--out: the statement gave no result".into())),
        };
        let file = file.into_inner().map_err(|e| self.io(e.into_error()))?;
        file.sync_all().map_err(|e| self.io(e))?;
        drop(file);
        publish_file(self.tmp, &self.out.path, self.out.overwrite)?;
        Ok(self.rows)
    }
}

impl Sink for ToFile {
    fn start(&mut self, schema: &SchemaRef) -> Result<()> {
        let file = File::create(self.tmp.path()).map_err(|e| self.io(e))?;
        let file = BufWriter::with_capacity(1 << 20, file);
        self.writer = Some(match self.out.kind {
            FileFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(parquet)?))
                    .build();
                Writer::Parquet(EvenWriter::try_new(file, schema.clone(), props).map_err(parquet)?)
            }
            FileFormat::Csv => {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(file);
                // The header even when no row follows.
                w.write(&RecordBatch::new_empty(schema.clone()))?;
                Writer::Csv(w)
            }
            FileFormat::Json => Writer::Json(datafusion::arrow::json::ArrayWriter::new(file)),
            FileFormat::Ndjson => {
                Writer::Ndjson(datafusion::arrow::json::LineDelimitedWriter::new(file))
            }
        });
        Ok(())
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        match self.writer.as_mut() {
            Some(Writer::Parquet(w)) => w.write(batch).map_err(parquet)?,
            Some(Writer::Csv(w)) => w.write(batch)?,
            Some(Writer::Json(w)) => w.write(batch)?,
            Some(Writer::Ndjson(w)) => w.write(batch)?,
            None => {}
        }
        Ok(())
    }
}

/// A spinner on stderr once a statement has run for a second (terminals only): rows out so
/// far, and rows and bytes scanned from the plan's metrics. Cleared when dropped.
pub struct Progress {
    bar: indicatif::ProgressBar,
    pub rows: Arc<AtomicU64>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    pub fn start(plan: Arc<dyn ExecutionPlan>) -> Progress {
        let rows = Arc::new(AtomicU64::new(0));
        let bar = indicatif::ProgressBar::hidden();
        let task = std::io::stderr().is_terminal().then(|| {
            let (bar, rows) = (bar.clone(), rows.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                        .expect("valid template"),
                );
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                loop {
                    let (scanned, bytes) = scanned(plan.as_ref());
                    bar.set_message(format!(
                        "{} rows; scanned {scanned} rows, {} (Ctrl-C cancels)",
                        rows.load(Ordering::Relaxed),
                        indicatif::HumanBytes(bytes as u64)
                    ));
                    bar.tick();
                    tokio::time::sleep(Duration::from_millis(150)).await;
                }
            })
        });
        Progress { bar, rows, task }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.bar.finish_and_clear();
    }
}

/// Rows produced by the plan's leaves and bytes its scans read, so far.
fn scanned(plan: &dyn ExecutionPlan) -> (usize, usize) {
    let metrics = plan.metrics();
    let bytes = metrics
        .as_ref()
        .and_then(|m| m.sum_by_name("bytes_scanned"))
        .map_or(0, |v| v.as_usize());
    let children = plan.children();
    let mut rows = if children.is_empty() {
        metrics.and_then(|m| m.output_rows()).unwrap_or(0)
    } else {
        0
    };
    let mut bytes = bytes;
    for c in children {
        let (r, b) = scanned(c.as_ref());
        rows += r;
        bytes += b;
    }
    (rows, bytes)
}

fn parquet(e: ParquetError) -> Error {
    datafusion::error::DataFusionError::from(e).into()
}
