//! `occlens verify`: exit 0 when every response matches, 1 when some differ, 2 on error.

use super::args::{Cli, ReportFormat, VerifyArgs};
use occlens::compare::Rules;
use occlens::render::pyfmt::to_json_pretty;
use occlens::verify::input::{self, path_of, Inputs};
use occlens::verify::live::Live;
use occlens::verify::report::Report;
use occlens::verify::{Options, Verifier};
use occlens::{Error, Result};
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

pub async fn verify(cli: &Cli, args: &VerifyArgs) -> ExitCode {
    match run(cli, args).await {
        Ok(report) => {
            let text = match args.format {
                ReportFormat::Text => report.to_text(),
                ReportFormat::Json => to_json_pretty(&report.to_json()) + "\n",
            };
            let mut out = std::io::stdout().lock();
            if out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            if report.mismatched() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("occlens: {e}");
            ExitCode::from(2)
        }
    }
}

fn bar(len: Option<u64>, what: &str) -> indicatif::ProgressBar {
    let template = match len {
        Some(_) => format!("{{bar:30}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}})"),
        None => format!("{{spinner}} {{pos}} {what} ({{per_sec}})"),
    };
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    bar.with_style(indicatif::ProgressStyle::with_template(&template).expect("valid template"))
}

async fn fetch(args: &VerifyArgs, api_url: &str) -> Result<Inputs> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(Error::Usage(format!(
            "--timeout {}: expected a positive number of seconds",
            args.timeout
        )));
    }
    let live = Live {
        api_url: api_url.to_string(),
        token: args.token.clone(),
        concurrency: args.concurrency,
        retries: args.retries,
        timeout: Duration::from_secs_f64(args.timeout),
        backoff: Duration::from_millis(250),
    };
    let mut inputs = Inputs::default();
    let responses = if let Some(file) = &args.urls {
        let text = std::fs::read_to_string(file).map_err(|e| Error::Io {
            path: file.display().to_string(),
            source: e,
        })?;
        let mut urls = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let path = path_of(line);
            if input::is_occurrences(&path) {
                urls.push(path);
            } else {
                inputs
                    .skipped
                    .push((line.to_string(), "not an occurrences endpoint".into()));
            }
        }
        let progress = bar(Some(urls.len() as u64), "fetched");
        let r = live.fetch_all(&urls, &|| progress.inc(1)).await;
        progress.finish_and_clear();
        r?
    } else if let Some(project) = args.project {
        let progress = bar(None, "fetched");
        let r = live.walk_project(project, &|| progress.inc(1)).await;
        progress.finish_and_clear();
        r?
    } else {
        return Err(Error::Usage(
            "verify --api-url: give --urls FILE or --project P".into(),
        ));
    };
    inputs.responses = responses;
    Ok(inputs)
}

async fn run(cli: &Cli, args: &VerifyArgs) -> Result<Report> {
    let inputs = match (&args.responses, &args.api_url) {
        (Some(file), _) => input::read(file)?,
        (None, Some(url)) => fetch(args, url).await?,
        (None, None) => unreachable!("clap requires --responses or --api-url"),
    };
    let base = args.api_url.as_deref().unwrap_or("http://localhost:8000");
    let engine = super::open_with_base(cli, base.trim_end_matches('/'), true).await?;
    let options = Options {
        rules: Rules {
            float_tolerance: args.float_tolerance,
        },
        ignore: args.ignore.clone(),
        superusers: args.superuser.clone(),
        default_who: cli.who.clone(),
    };
    for pattern in &options.ignore {
        if !pattern.starts_with('/') {
            return Err(Error::Usage(format!(
                "--ignore {pattern}: expected a JSON pointer such as /results/*/updated_at"
            )));
        }
    }
    let verifier = Verifier::new(&engine, options).await?;
    let progress = bar(Some(inputs.responses.len() as u64), "checked");
    let mut report = Report {
        skipped: inputs.skipped,
        ..Report::default()
    };
    for recorded in &inputs.responses {
        report.checked.push(verifier.check(recorded).await?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(report)
}
