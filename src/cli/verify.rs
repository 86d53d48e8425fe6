//! `occlens verify`: exit 0 when every response matches, 1 when some differ, 2 when some URLs
//! could not be fetched, when no response was checked (every entry skipped), or on error.

use super::args::{Cli, ReportFormat, VerifyArgs};
use occlens::engine::cache::Part;
use occlens::render::pyfmt::to_json_pretty;
use occlens::verify::compare::Rules;
use occlens::verify::input::{self, path_of, Inputs, Limits};
use occlens::verify::live::Live;
use occlens::verify::report::VerifyReport;
use occlens::verify::{Verifier, VerifyOptions};
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
            if !report.failed.is_empty() {
                let n = report.failed.len();
                eprintln!(
                    "occlens: {n} URL{} could not be fetched (fetch_failed in the report)",
                    if n == 1 { "" } else { "s" }
                );
                ExitCode::from(2)
            } else if report.checked.is_empty() {
                // A check of nothing is not a pass: every entry was skipped.
                eprintln!(
                    "occlens: no response was checked ({} skipped, listed in the report): expected GET responses of an endpoint occlens answers",
                    report.skipped.len()
                );
                ExitCode::from(2)
            } else if report.mismatched() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("occlens: {}", occlens::redact::redact(&e.to_string()));
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

fn limits(args: &VerifyArgs) -> Limits {
    Limits {
        max_line_bytes: args.max_line_bytes,
        max_input_bytes: args.max_input_bytes,
    }
}

async fn fetch(args: &VerifyArgs, api_url: &str) -> Result<Inputs> {
    // Checked before any request (each one failed with the HTTP client's message), and never
    // quoted.
    if let Some(token) = &args.token {
        if reqwest::header::HeaderValue::from_str(&format!("Token {token}")).is_err() {
            return Err(occlens::Error::Usage(
                "--token: not usable in an Authorization header (a newline or another control character)".into(),
            ));
        }
        // DRF reads `Token` and one key: an empty key is "No credentials provided", a key
        // with a space "should not contain spaces", on every URL.
        if token.trim().is_empty() || token.contains(char::is_whitespace) {
            return Err(occlens::Error::Usage(
                "--token: empty or holding whitespace (expected the API token, one word)".into(),
            ));
        }
    }
    let live = Live {
        api_url: api_url.to_string(),
        token: args.token.clone(),
        concurrency: args.concurrency,
        retries: args.retries,
        timeout: args.timeout,
        backoff: Duration::from_millis(250),
        max_body_bytes: args.max_body_bytes,
        max_walk_bytes: args.max_input_bytes,
    };
    let mut inputs = Inputs::default();
    let fetched = if let Some(file) = &args.urls {
        let name = file.display().to_string();
        let f = std::fs::File::open(file).map_err(|e| Error::io(&name, e))?;
        let mut lines = input::Lines::new(&name, std::io::BufReader::new(f), limits(args));
        let mut urls = Vec::new();
        while let Some((_, line)) = lines.next_text()? {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let path = path_of(line);
            if input::is_answered(&path) {
                urls.push(path);
            } else {
                inputs
                    .skipped
                    .push((line.to_string(), "not an endpoint occlens answers".into()));
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
    for f in fetched {
        match f {
            Ok(recorded) => inputs.responses.push(recorded),
            Err(failed) => inputs.failed.push((failed.url, failed.cause)),
        }
    }
    Ok(inputs)
}

async fn run(cli: &Cli, args: &VerifyArgs) -> Result<VerifyReport> {
    let options = VerifyOptions {
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
    if let Some(url) = &args.api_url {
        check_api_url(url)?;
    }
    // The snapshot first: one that cannot answer fails before a live API is fetched.
    // Hyperlinks as the live API writes them: never with the URL's credentials.
    let base = args
        .api_url
        .as_deref()
        .map(occlens::redact::strip_userinfo)
        .unwrap_or_else(|| super::LOCAL_BASE.into());
    let parts = [Part::Taxa, Part::Lists, Part::Facts];
    let engine = super::open_with_base(cli, base.trim_end_matches('/'), &parts).await?;
    // (--as was checked by the open, before the cache's parts were built.)
    engine.check_keys().await?;
    let inputs = match (&args.responses, &args.api_url) {
        (Some(file), _) => input::read_with(file, limits(args))?,
        (None, Some(url)) => fetch(args, url).await?,
        (None, None) => unreachable!("clap requires --responses or --api-url"),
    };
    let verifier = Verifier::new(&engine, options).await?;
    let progress = bar(Some(inputs.responses.len() as u64), "checked");
    let mut report = VerifyReport {
        skipped: inputs.skipped,
        failed: inputs.failed,
        ..VerifyReport::default()
    };
    for recorded in &inputs.responses {
        report.checked.push(verifier.check(recorded).await?);
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(report)
}

/// `--api-url`: an http(s) URL of the API's scheme and host (and the prefix it is served
/// under, if any); the request paths (`/api/v2/…`) are added to it. A query, a fragment or
/// a path that already names the API would make every request a 404 compared as a difference.
fn check_api_url(given: &str) -> Result<()> {
    let shown = occlens::redact::redact(given);
    let bad = |why: &str| {
        Error::Usage(format!(
            "--api-url {shown}: {why} (expected the API's scheme and host, e.g. https://antenna.example.org; the request paths /api/v2/… are added)"
        ))
    };
    let url = url::Url::parse(given).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(&format!("{}:// is not http or https", url.scheme())));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a query or fragment"));
    }
    // Sent as `Authorization: Basic …` beside --token's `Token …`: Django joins the two and
    // DRF then reads neither (the run is anonymous).
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials in the URL (give the API's token with --token)",
        ));
    }
    // As the server reads it (`/%61pi/` is `/api/`).
    let path = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    if path.contains("/api/") || path.trim_end_matches('/').ends_with("/api") {
        return Err(bad(&format!(
            "the path {} already names the API",
            url.path()
        )));
    }
    Ok(())
}
