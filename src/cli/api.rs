//! `occlens api`, `list` and `detail`.

use super::args::{ApiArgs, Cli};
use occlens::api::request::Requester;
use occlens::api::respond::get;
use occlens::render::pyfmt::{to_json, to_json_pretty};
use occlens::{Engine, Error, Result};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::ExitCode;

fn status_code(status: u16) -> ExitCode {
    match status {
        200..=299 => ExitCode::SUCCESS,
        400..=499 => ExitCode::from(4),
        _ => ExitCode::from(5),
    }
}

/// A request given as an absolute http(s) URL (copied from a browser, or from a response's
/// `next`): its path and query as the request, and its origin (scheme, host and port, never
/// its userinfo) for the hyperlinks when --api-base is not given, as the server it names
/// would write them. Anything else is a path and query, taken as it is.
pub fn path_and_origin(url: &str) -> (String, Option<String>) {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => (
            occlens::verify::input::path_of(url),
            Some(u.origin().ascii_serialization()),
        ),
        _ => (url.to_string(), None),
    }
}

pub async fn single(engine: &Engine, cli: &Cli, url: &str, pretty: bool) -> Result<ExitCode> {
    occlens::engine::statements::mark("engine open");
    let response = get(engine, url, &cli.who).await?;
    occlens::engine::statements::mark("response computed");
    let text = if pretty {
        to_json_pretty(&response.body)
    } else {
        to_json(&response.body)
    };
    super::outln!("{text}")?;
    occlens::engine::statements::mark("response written");
    if response.status >= 400 {
        eprintln!(
            "occlens: HTTP {} for {}",
            response.status,
            occlens::redact::redact(url)
        );
    }
    Ok(status_code(response.status))
}

pub async fn api(engine: &Engine, cli: &Cli, args: &ApiArgs) -> Result<ExitCode> {
    let Some(batch) = &args.batch else {
        let url = args
            .url
            .as_deref()
            .expect("clap requires a url without --batch");
        let (path, _) = path_and_origin(url);
        return single(engine, cli, &path, args.pretty).await;
    };
    let reader: Box<dyn BufRead> = if batch == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(batch).map_err(|e| Error::io(batch, e))?;
        Box::new(std::io::BufReader::new(f))
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let io = |e: std::io::Error| Error::io("stdout", e);
    // A spinner with the request count and rate on stderr (indicatif draws only on terminals).
    let progress = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} requests ({per_sec})")
            .expect("valid template"),
    );
    // Lines are bounded (`--max-line-bytes`): `--batch - </dev/zero` is an error, not an
    // allocation failure; the total is not (each line is answered and forgotten).
    let limits = occlens::verify::input::Limits {
        max_line_bytes: args.max_line_bytes,
        max_input_bytes: u64::MAX,
    };
    let name = if batch == "-" {
        "--batch - (stdin)"
    } else {
        batch.as_str()
    };
    let mut lines = occlens::verify::input::Lines::new(name, reader, limits);
    while let Some((n, line)) = lines.next_text()? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (url, who) = match parse_line(line, &cli.who) {
            Ok(x) => x,
            Err(msg) => return Err(Error::Usage(format!("{name}: line {n}: {msg}"))),
        };
        if who != cli.who {
            let what = format!("{name}: line {n}: as_user");
            occlens::api::request::ensure_known(engine, &who, &what).await?;
        }
        let r = get(engine, &url, &who).await?;
        // The URL as given, without its credentials (a pasted `user:password@`, a `token=`).
        let shown = occlens::redact::redact(&url);
        let record = json!({"url": shown, "status": r.status, "body": r.body});
        writeln!(out, "{}", to_json(&record)).map_err(io)?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    out.flush().map_err(io)?;
    Ok(ExitCode::SUCCESS)
}

/// A batch line: a plain `path?query`, or `{"url": …, "as_user": …}`.
fn parse_line(line: &str, default: &Requester) -> std::result::Result<(String, Requester), String> {
    if !line.starts_with('{') {
        return Ok((line.to_string(), default.clone()));
    }
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let url = match v.get("url") {
        Some(Value::String(url)) => url.clone(),
        Some(other) => {
            return Err(format!(
                "\"url\" is {}, expected a string such as \"/api/v2/occurrences/?project_id=1\"",
                occlens::verify::input::json_kind(other)
            ))
        }
        None => return Err("missing \"url\"".into()),
    };
    // Never a silent fallback to --as (which may be a superuser): a present as_user is a string.
    let who = match v.get("as_user") {
        Some(Value::String(s)) => s.parse()?,
        Some(other) => {
            return Err(format!(
                "\"as_user\" is {}, expected a string such as \"anonymous\", \"superuser\" or \"user:3\" (leave it out to ask as --as)",
                occlens::verify::input::json_kind(other)
            ))
        }
        None => default.clone(),
    };
    Ok((url, who))
}
