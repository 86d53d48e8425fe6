//! `occlens export` and `occlens validate-dwca`.

use super::args::{ExportArgs, ValidateDwcaArgs};
use occlens::api::request::Requester;
use occlens::dwca::validate;
use occlens::exports::target::Target;
use occlens::exports::Export;
use occlens::{Engine, Error, Result};
use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

pub async fn export(
    engine: &Engine,
    args: &ExportArgs,
    who: &Requester,
    target: Target,
    checked: impl Future<Output = Result<()>>,
) -> Result<ExitCode> {
    let started = Instant::now();
    let tmp = target.temp();
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} rows ({per_sec})")
            .expect("valid template"),
    );
    let progress = |n| bar.set_position(n);
    let export = Export {
        format: args.format,
        project: args.project,
        collection: args.collection,
        shape: args.shape.unwrap_or(occlens::exports::ObjectShape::List),
        columns: args.columns.clone(),
        who: who.clone(),
        packaged_at: args.packaged_at.clone(),
    };
    let result = gated(
        occlens::exports::write(engine, &export, tmp.path(), &progress),
        checked,
    )
    .await;
    bar.finish_and_clear();
    // On an error, `tmp` is removed when dropped. A write that failed (a full disk) names the
    // file asked for, not the hidden temporary or the writer.
    let temporary = tmp.path().display().to_string();
    let done = result.map_err(|e| match e {
        Error::Io { path, source } if path == "export" || path == temporary => {
            Error::io(occlens::redact::redact(&target.display()), source)
        }
        e => e,
    })?;
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

/// `work`'s result once `checked` has passed, the two run at once (the checks' statements
/// while the export's is planned and scanned). `checked`'s error wins: when it fails first,
/// `work` is dropped (its statement cancelled); when `work` ends first, `checked` is awaited
/// and its error, if any, is the answer, whatever `work` gave.
async fn gated<T>(
    work: impl Future<Output = Result<T>>,
    checked: impl Future<Output = Result<()>>,
) -> Result<T> {
    tokio::pin!(work, checked);
    tokio::select! {
        biased;
        c = &mut checked => {
            c?;
            work.await
        }
        w = &mut work => {
            checked.await?;
            w
        }
    }
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
        Err(e) => return Err(Error::io(&args.archive, e)),
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

#[cfg(test)]
mod tests {
    use super::gated;
    use occlens::{Error, Result};
    use std::future::pending;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn usage<T>(m: &str) -> Result<T> {
        Err(Error::Usage(m.into()))
    }

    #[tokio::test]
    async fn the_checks_error_wins_and_a_failed_check_cancels_the_work() {
        // Both pass: the work's value.
        assert_eq!(gated(async { Ok(7) }, async { Ok(()) }).await.unwrap(), 7);
        // The work ends first, the check fails after: the check's error, not the value.
        let e = gated(async { Ok(7) }, async {
            tokio::task::yield_now().await;
            usage("bad keys")
        });
        assert_eq!(
            e.await.unwrap_err().to_string(),
            Error::Usage("bad keys".into()).to_string()
        );
        // Both fail: the check's error, whichever ends first.
        let e = gated(async { usage::<i32>("bad work") }, async {
            tokio::task::yield_now().await;
            usage("bad keys")
        });
        assert!(e.await.unwrap_err().to_string().contains("bad keys"));
        // The check fails while the work still runs: its error at once, the work dropped.
        let dropped = AtomicBool::new(false);
        struct Flag<'a>(&'a AtomicBool);
        impl Drop for Flag<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(&dropped);
        let work = async move {
            let _flag = flag;
            pending::<Result<i32>>().await
        };
        let e = gated(work, async { usage("bad keys") }).await.unwrap_err();
        assert!(e.to_string().contains("bad keys"));
        assert!(dropped.load(Ordering::SeqCst));
    }
}
