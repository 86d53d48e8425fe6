//! `occlens snapshot`: PostgreSQL → Parquet snapshot, with a spinner per table on terminals and
//! a one-line summary.

use super::args::{ArraysChoice, SnapshotArgs};
use occlens::pg::{snapshot as export, SnapshotOptions};
use occlens::Result;
use std::process::ExitCode;

pub async fn snapshot(args: &SnapshotArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let options = SnapshotOptions {
        from: args.from.clone(),
        out: args.out.clone(),
        project: args.project,
        classification_arrays: args.classification_arrays == ArraysChoice::Keep,
        include_pii: args.include_pii,
        rows_per_file: args.rows_per_file,
        batch_rows: 65_536,
    };
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} rows ({per_sec})")
            .expect("valid template"),
    );
    let current = std::sync::Mutex::new(String::new());
    let summary = export(&options, &|table, rows| {
        let mut current = current.lock().expect("not poisoned");
        if *current != table {
            *current = table.to_string();
            bar.reset();
            bar.set_message(table.to_string());
        }
        bar.set_position(rows);
    })
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    eprintln!(
        "occlens: wrote {} tables, {} rows, {} bytes to {} in {:.1} s",
        summary.tables,
        summary.rows,
        summary.bytes,
        occlens::redact::redact(&summary.out),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
