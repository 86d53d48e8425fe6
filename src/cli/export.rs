//! `occlens export`: stream an export to a temporary file, renamed into place when complete.

use super::args::{ExportArgs, ExportFormat};
use occlens::output::{csv_export, json_export};
use occlens::{Engine, Error, Result};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

pub async fn export(engine: &Engine, args: &ExportArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let view = match args.format {
        ExportFormat::OccurrencesSimpleCsv => "export_simple_csv",
        ExportFormat::OccurrencesApiJson => "occurrence_list",
    };
    let stream = engine
        .export_stream(view, args.project, args.collection)
        .await?;
    let out = &args.out;
    let tmp = out.with_file_name(format!(
        ".{}.occlens-tmp",
        out.file_name()
            .map_or("export".into(), |n| n.to_string_lossy().to_string())
    ));
    let io = |p: &std::path::Path, e: std::io::Error| Error::Io {
        path: p.display().to_string(),
        source: e,
    };
    let file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let mut writer = std::io::BufWriter::new(file);
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows ({per_sec})")
            .expect("valid template"),
    );
    let progress = |n| bar.set_position(n);
    let result = match args.format {
        ExportFormat::OccurrencesSimpleCsv => {
            let config = &engine.config;
            csv_export::write(
                stream,
                &mut writer,
                config.time_zone,
                &config.media_url,
                &progress,
            )
            .await
        }
        ExportFormat::OccurrencesApiJson => {
            json_export::write(engine, stream, &mut writer, &progress).await
        }
    };
    bar.finish_and_clear();
    let rows = match result.and_then(|n| writer.flush().map(|_| n).map_err(|e| io(&tmp, e))) {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    drop(writer);
    std::fs::rename(&tmp, out).map_err(|e| io(out, e))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "occlens: exported {rows} rows, {bytes} bytes to {} in {:.2} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
