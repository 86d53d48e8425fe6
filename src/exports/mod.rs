//! The exports: [`write`] is the one entry (`occlens export` calls it); the writers are
//! Antenna's CSV and JSON byte for byte (`csv_export`, `json_export`), the flat CSV of data
//! tools (`text_csv`), Parquet (DataFusion's writer) and the Darwin Core Archive
//! (`crate::dwca`); `target` is where an export goes (a file or an object store).

pub mod csv_export;
pub mod direct;
pub mod json_export;
pub mod target;
pub mod text_csv;

use crate::api::request::Requester;
use crate::dwca::archive;
use crate::engine::related::RelatedFor;
use crate::engine::Engine;
use crate::error::{Error, Result};
use direct::DirectFile;
use json_export::Framing;
use std::path::Path;

/// An export format (`occlens export --format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Antenna's `occurrences_simple_csv` (28 columns, byte-identical)
    #[value(name = "occurrences_simple_csv")]
    OccurrencesSimpleCsv,
    /// Antenna's `occurrences_api_json` (detail shape, anonymous, byte-identical)
    #[value(name = "occurrences_api_json")]
    OccurrencesApiJson,
    /// Darwin Core Archive, April 2026 draft (event core + occurrence, multimedia, MoF), validated
    #[value(name = "dwca")]
    Dwca,
    /// Per-taxon summary (39 columns; default filters applied)
    #[value(name = "taxa_list_csv")]
    TaxaListCsv,
    /// One JSON object per line, in the API's list or detail shape (--shape), as --as sees it
    #[value(name = "ndjson")]
    Ndjson,
    /// Flat CSV of the list values (--columns to choose), wall-clock times
    #[value(name = "csv")]
    Csv,
    /// Flat Parquet table; best prediction and identification as structs
    #[value(name = "parquet")]
    Parquet,
}

impl Format {
    /// A Parquet file or a zip archive, not text.
    pub fn is_binary(self) -> bool {
        matches!(self, Format::Parquet | Format::Dwca)
    }
}

/// The object shape of an `ndjson` export: the API's list item or detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ObjectShape {
    List,
    Detail,
}

/// One export: what it selects and how it is shaped.
pub struct Export {
    pub format: Format,
    pub project: i64,
    /// Only occurrences with a detection in this capture set (Antenna's only export filter).
    pub collection: Option<i64>,
    /// ndjson: the object shape.
    pub shape: ObjectShape,
    /// csv: the columns of the flat table (None: all).
    pub columns: Option<Vec<String>>,
    /// ndjson: who the objects are shaped for.
    pub who: Requester,
    /// dwca: the EML packageId time (None: now, local wall clock).
    pub packaged_at: Option<String>,
}

/// How an export's writing ended, before the file is moved into place.
pub struct Written {
    pub rows: u64,
    /// A dwca archive that failed validation: kept, but the command fails.
    pub failure: Option<String>,
}

/// A column list is for the `csv` format only (the others write their own columns); checked
/// by [`write`], and by the command line before the snapshot is opened.
pub fn check_columns(format: Format, columns: Option<&[String]>) -> Result<()> {
    if columns.is_some() && format != Format::Csv {
        return Err(Error::Usage(
            "--columns: only --format csv takes a column list (the other formats write their own columns)"
                .into(),
        ));
    }
    // `--columns ''`, `a,,b` or a trailing comma: a name that is empty.
    if let Some(columns) = columns.filter(|c| c.is_empty() || c.iter().any(|c| c.trim().is_empty()))
    {
        return Err(Error::Usage(format!(
            "--columns {:?}: an empty column name (expected comma-separated names of occurrence_flat's columns, e.g. id,determination_name)",
            columns.join(",")
        )));
    }
    Ok(())
}

/// Write the export `args` asks for to the file `tmp` (a temporary the caller renames into
/// place); `progress` gets the rows made so far (the JSON exports' writer follows a few
/// thousand rows behind).
pub async fn write(
    engine: &Engine,
    args: &Export,
    tmp: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Written> {
    let io = |e: std::io::Error| Error::io(tmp, e);
    check_columns(args.format, args.columns.as_deref())?;
    if args.format == Format::Dwca {
        let packaged_at = args.packaged_at.clone().unwrap_or_else(|| {
            chrono::Local::now()
                .naive_local()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string()
        });
        let written = archive::write_archive(
            engine,
            args.project,
            args.collection,
            &packaged_at,
            tmp,
            progress,
        )
        .await?;
        let failure = (!written.report.ok()).then(|| archive::failure_message(&written.report));
        return Ok(Written {
            rows: written.occurrences(),
            failure,
        });
    }
    if args.format == Format::Parquet {
        let df = engine
            .flat_frame("occurrence_nested", args.project, args.collection, None)
            .await?;
        // Written here from the result stream (also when a cluster computes it), with the
        // session's Parquet settings.
        let state = engine.ctx.state();
        let mut parquet = state.table_options().parquet.clone();
        // ArrowWriter adds the Arrow schema itself (DataFusion's check expects it already there).
        parquet.global.skip_arrow_metadata = true;
        let properties =
            datafusion::common::file_options::parquet_writer::ParquetWriterOptions::try_from(
                &parquet,
            )?
            .writer_options()
            .clone();
        let mut stream = engine.frame_stream(df, args.project).await?;
        let file = DirectFile::create(tmp).map_err(io)?;
        // The output's error (a full disk) is the file's I/O error, which the command names
        // with the file asked for.
        let bad = |e: datafusion::parquet::errors::ParquetError| match e {
            datafusion::parquet::errors::ParquetError::External(e) => {
                match e.downcast::<std::io::Error>() {
                    Ok(e) => io(*e),
                    Err(e) => Error::export(format!("writing {}: {e}", tmp.display())).because(e),
                }
            }
            e => Error::export(format!("writing {}: {e}", tmp.display())).because(e),
        };
        let mut writer =
            crate::engine::even_parquet::EvenWriter::try_new(file, stream.schema(), properties)
                .map_err(bad)?;
        let mut rows = 0u64;
        while let Some(batch) = futures::StreamExt::next(&mut stream).await {
            let batch = batch?;
            rows += batch.num_rows() as u64;
            writer.write(&batch).map_err(bad)?;
            progress(rows);
        }
        writer.into_inner().map_err(bad)?.finish().map_err(io)?;
        return Ok(Written {
            rows,
            failure: None,
        });
    }
    let mut writer = DirectFile::create(tmp).map_err(io)?;
    let rows = match args.format {
        Format::OccurrencesSimpleCsv => {
            let stream = engine
                .export_stream("export_simple_csv", args.project, args.collection)
                .await?;
            let config = &engine.config;
            csv_export::write(
                stream,
                &mut writer,
                config.time_zone,
                &config.media_url,
                progress,
            )
            .await?
        }
        Format::OccurrencesApiJson => {
            let (rows, w) = json_export::write(
                engine,
                args.project,
                args.collection,
                writer,
                &Framing::Antenna,
                progress,
            )
            .await?;
            writer = w;
            rows
        }
        Format::Ndjson => {
            let shape = match args.shape {
                ObjectShape::List => RelatedFor::List,
                ObjectShape::Detail => RelatedFor::Detail,
            };
            let framing = Framing::Lines(shape, args.who.clone());
            let (rows, w) = json_export::write(
                engine,
                args.project,
                args.collection,
                writer,
                &framing,
                progress,
            )
            .await?;
            writer = w;
            rows
        }
        Format::Csv => {
            let df = engine
                .flat_frame(
                    "occurrence_flat",
                    args.project,
                    args.collection,
                    args.columns.as_deref(),
                )
                .await?;
            let stream = engine.frame_stream(df, args.project).await?;
            text_csv::write(stream, &mut writer, progress).await?
        }
        Format::TaxaListCsv => {
            let stream = engine
                .taxa_list_stream(args.project, args.collection)
                .await?;
            text_csv::write(stream, &mut writer, progress).await?
        }
        Format::Dwca | Format::Parquet => unreachable!("handled above"),
    };
    writer.finish().map_err(io)?;
    Ok(Written {
        rows,
        failure: None,
    })
}
