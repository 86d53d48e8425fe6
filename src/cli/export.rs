//! `occlens export` and `occlens validate-dwca`.

use super::args::{ExportArgs, ExportFormat, JsonShape, ValidateDwcaArgs};
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
use occlens::api::request::Requester;
use occlens::dwca::{archive, validate};
use occlens::engine::occurrences::Shape;
use occlens::exports::json_export::Framing;
use occlens::exports::target::Target;
use occlens::exports::{csv_export, json_export, text_csv};
use occlens::{Engine, Error, Result};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

/// How an export's writing ended, before the file is moved into place.
struct Done {
    rows: u64,
    /// A dwca archive that failed validation: kept, but the command fails.
    failure: Option<String>,
}

pub async fn export(
    engine: &Engine,
    args: &ExportArgs,
    who: &Requester,
    target: Target,
) -> Result<ExitCode> {
    let started = Instant::now();
    let tmp = target.temp();
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows ({per_sec})")
            .expect("valid template"),
    );
    let progress = |n| bar.set_position(n);
    let result = write(engine, args, who, tmp.path(), &progress).await;
    bar.finish_and_clear();
    // On an error, `tmp` is removed when dropped.
    let done = result?;
    let bytes = target.commit(tmp).await?;
    eprintln!(
        "occlens: exported {} rows, {bytes} bytes to {} in {:.2} s",
        done.rows,
        occlens::redact::redact(&target.display()),
        started.elapsed().as_secs_f64()
    );
    match done.failure {
        None => Ok(ExitCode::SUCCESS),
        Some(message) => {
            eprintln!("occlens: {message}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn write(
    engine: &Engine,
    args: &ExportArgs,
    who: &Requester,
    tmp: &Path,
    progress: &dyn Fn(u64),
) -> Result<Done> {
    let io = |e: std::io::Error| Error::Io {
        path: tmp.display().to_string(),
        source: e,
    };
    if args.format == ExportFormat::Dwca {
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
        return Ok(Done {
            rows: written.occurrences(),
            failure,
        });
    }
    if args.format == ExportFormat::Parquet {
        let df = engine
            .flat_frame("occurrence_nested", args.project, args.collection, None)
            .await?;
        let options =
            datafusion::dataframe::DataFrameWriteOptions::new().with_single_file_output(true);
        df.write_parquet(&tmp.display().to_string(), options, None)
            .await?;
        let file = std::fs::File::open(tmp).map_err(io)?;
        let reader = SerializedFileReader::new(file)
            .map_err(|e| Error::Query(format!("reading back {}: {e}", tmp.display())))?;
        let rows = reader.metadata().file_metadata().num_rows() as u64;
        progress(rows);
        return Ok(Done {
            rows,
            failure: None,
        });
    }
    let file = std::fs::File::create(tmp).map_err(io)?;
    let mut writer = std::io::BufWriter::new(file);
    let rows = match args.format {
        ExportFormat::OccurrencesSimpleCsv => {
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
        ExportFormat::OccurrencesApiJson => {
            let stream = engine
                .export_stream("occurrence_list", args.project, args.collection)
                .await?;
            json_export::write(engine, stream, &mut writer, &Framing::Antenna, progress).await?
        }
        ExportFormat::Ndjson => {
            let stream = engine
                .export_stream("occurrence_list", args.project, args.collection)
                .await?;
            let shape = match args.shape {
                JsonShape::List => Shape::List,
                JsonShape::Detail => Shape::Detail,
            };
            let framing = Framing::Lines(shape, who.clone());
            json_export::write(engine, stream, &mut writer, &framing, progress).await?
        }
        ExportFormat::Csv => {
            let df = engine
                .flat_frame(
                    "occurrence_flat",
                    args.project,
                    args.collection,
                    args.columns.as_deref(),
                )
                .await?;
            text_csv::write(df.execute_stream().await?, &mut writer, progress).await?
        }
        ExportFormat::TaxaListCsv => {
            let stream = engine
                .taxa_list_stream(args.project, args.collection)
                .await?;
            text_csv::write(stream, &mut writer, progress).await?
        }
        ExportFormat::Dwca | ExportFormat::Parquet => unreachable!("handled above"),
    };
    writer.flush().map_err(io)?;
    Ok(Done {
        rows,
        failure: None,
    })
}

/// `occlens validate-dwca`: Antenna's `validate_dwca_archive` output lines and exit status.
pub fn validate_dwca(args: &ValidateDwcaArgs) -> Result<ExitCode> {
    let required: Vec<String> = if args.no_required {
        vec![]
    } else {
        validate::default_required_terms()
            .into_iter()
            .filter(|t| !args.not_required.contains(t))
            .collect()
    };
    // An archive that cannot be opened is an error of the command, not a validation finding.
    match std::fs::metadata(&args.archive) {
        Ok(m) if m.is_dir() => {
            return Err(Error::Usage(format!(
                "{}: is a directory, not a DwC-A zip file",
                args.archive.display()
            )))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::Usage(format!(
                "{}: no such file",
                args.archive.display()
            )))
        }
        Err(e) => {
            return Err(Error::Io {
                path: args.archive.display().to_string(),
                source: e,
            })
        }
    }
    let report = validate::validate(&args.archive, &required);
    for w in &report.warnings {
        super::outln!("WARN: {w}")?;
    }
    for e in &report.errors {
        super::outln!("FAIL: {e}")?;
    }
    if report.ok() {
        super::outln!(
            "OK: {} passes structural validation",
            args.archive.display()
        )?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "occlens: Validation failed with {} error(s)",
            report.errors.len()
        );
        Ok(ExitCode::from(1))
    }
}
