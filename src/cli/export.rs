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

pub async fn export<F: Future<Output = Result<()>>>(
    engine: &Engine,
    args: &ExportArgs,
    who: &Requester,
    target: Target,
    checks: impl Fn() -> F,
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
        checks,
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

/// `work`'s result once `checks()` has passed, the two run at once (the checks' statements
/// while the export's is planned and scanned). The checks' error wins: when they fail first,
/// `work` is dropped (its statement cancelled); when `work` ends first, they are awaited and
/// their error, if any, is the answer, whatever `work` gave. Checks that ran out of memory
/// beside `work` (DataFusion's "Resources exhausted" under `--memory-limit`; the two share
/// one memory pool) are run again alone once `work` has ended, as they ran before it.
async fn gated<T, F: Future<Output = Result<()>>>(
    work: impl Future<Output = Result<T>>,
    checks: impl Fn() -> F,
) -> Result<T> {
    let first = checks();
    tokio::pin!(work, first);
    let (done, checked) = tokio::select! {
        biased;
        c = &mut first => match c {
            Err(e) if !e.out_of_memory() => return Err(e),
            c => (work.await, c),
        },
        w = &mut work => (w, first.await),
    };
    match checked {
        Err(e) if e.out_of_memory() => checks().await?,
        c => c?,
    }
    done
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
    use std::future::{pending, Future};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn usage<T>(m: &str) -> Result<T> {
        Err(Error::Usage(m.into()))
    }

    /// A check that fails with `m` after yielding once (the work runs first).
    fn failing(
        m: &'static str,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<()>>>> {
        move || {
            Box::pin(async move {
                tokio::task::yield_now().await;
                usage(m)
            })
        }
    }
    #[tokio::test]
    async fn the_checks_error_wins_and_a_failed_check_cancels_the_work() {
        // Both pass: the work's value.
        let value = gated(async { Ok(7) }, || async { Ok(()) }).await;
        assert_eq!(value.unwrap(), 7);
        // The work ends first, the check fails after: the check's error, not the value.
        let e = gated(async { Ok(7) }, failing("bad keys")).await;
        assert_eq!(e.unwrap_err().to_string(), "bad keys");
        // Both fail: the check's error, whichever ends first.
        let e = gated(async { usage::<i32>("bad work") }, failing("bad keys")).await;
        assert_eq!(e.unwrap_err().to_string(), "bad keys");
        // The check fails while the work runs (started, then waiting): its error, the work
        // dropped without ending.
        let (started, dropped) = (AtomicBool::new(false), AtomicBool::new(false));
        struct Flag<'a>(&'a AtomicBool);
        impl Drop for Flag<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(&dropped);
        let work = async {
            let _flag = flag;
            started.store(true, Ordering::SeqCst);
            pending::<Result<i32>>().await
        };
        let e = gated(work, failing("bad keys")).await.unwrap_err();
        assert_eq!(e.to_string(), "bad keys");
        assert!(started.load(Ordering::SeqCst) && dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn checks_out_of_memory_beside_the_work_run_again_after_it() {
        // The first run of the checks runs out of memory, the second (alone) passes: the
        // work's value, the work not cancelled.
        let runs = AtomicUsize::new(0);
        let checks = || {
            let run = runs.fetch_add(1, Ordering::SeqCst);
            async move {
                match run {
                    0 => Err(Error::Query(
                        "Resources exhausted: Failed to allocate".into(),
                    )),
                    _ => Ok(()),
                }
            }
        };
        let work = async {
            tokio::task::yield_now().await;
            Ok(7)
        };
        assert_eq!(gated(work, checks).await.unwrap(), 7);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Again out of memory when alone: that error is the answer.
        let checks = || async { Err(Error::Query("Resources exhausted: again".into())) };
        let e = gated(async { Ok(7) }, checks).await.unwrap_err();
        assert!(e.to_string().contains("again"), "{e}");
        // Any other error of the checks is not run again.
        let runs = AtomicUsize::new(0);
        let checks = || {
            runs.fetch_add(1, Ordering::SeqCst);
            async { usage("bad keys") }
        };
        assert!(gated(async { Ok(7) }, checks).await.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
