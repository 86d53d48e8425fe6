//! Recorded responses: JSON lines `{"url", "status", "body"[, "as_user"]}` (plain or gzip, the
//! format of the shared fixtures and of `occlens api --batch`), or a browser's HAR file, whose
//! `GET …/api/v2/occurrences…` entries are checked and the others counted as skipped.

use crate::error::{Error, Result};
use base64::Engine as _;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};

/// One recorded answer of the API.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query, e.g. `/api/v2/occurrences/?project_id=1`.
    pub url: String,
    pub status: u16,
    pub body: Value,
    /// Who asked: `anonymous` or a user's email; `None` means the `--as` requester.
    pub as_user: Option<String>,
    /// Where it was read, for messages: `FILE: line N`, `FILE: log.entries[I]`; None for a
    /// response fetched live.
    pub origin: Option<String>,
}

/// What the input holds: responses to check, and entries that are not checked (and why).
#[derive(Debug, Default)]
pub struct Inputs {
    pub responses: Vec<Recorded>,
    pub skipped: Vec<(String, String)>,
    /// Live URLs that could not be fetched (after their retries): the URL and the cause.
    pub failed: Vec<(String, String)>,
}

/// The path and query of `url`, which may be absolute (`https://host/api/…`).
pub fn path_of(url: &str) -> String {
    match url.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        },
        None => url.to_string(),
    }
}

/// Whether `path` (with or without its query) names an endpoint occlens answers: the
/// occurrence endpoints and the families of `api::route`.
pub fn is_answered(path: &str) -> bool {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    path.starts_with("/api/v2/occurrences") || crate::api::route::label(path) != "other"
}

/// Bounds on what is read, so that `/dev/zero`, a gzip bomb or a stuck stream cannot take
/// the machine's memory: a line longer than `max_line_bytes`, or more than `max_input_bytes`
/// in all (counted after gzip decompression), is a one-line error naming the input, the line
/// number and the limit. Nothing beyond a limit is read into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_line_bytes: u64,
    pub max_input_bytes: u64,
}

/// `--max-line-bytes` default: 64 MiB.
pub const DEFAULT_MAX_LINE_BYTES: u64 = 64 << 20;
/// `--max-input-bytes` default: 4 GiB.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 4 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

/// `n` bytes for messages: `64 MiB`, `4 GiB`, `1000 bytes`.
pub fn human_bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// Lines of a text input, each at most `max_line_bytes` long, at most `max_input_bytes` in all.
pub struct Lines<R> {
    name: String,
    reader: R,
    limits: Limits,
    /// Bytes read so far.
    total: u64,
    /// The number of the last line returned (1-based).
    line: usize,
    /// Whether the bytes are decompressed gzip (said in the error).
    gzip: bool,
}

impl<R: BufRead> Lines<R> {
    /// `name` is what errors call the input (a path, `-`, `--batch -`).
    pub fn new(name: &str, reader: R, limits: Limits) -> Self {
        Lines {
            name: name.to_string(),
            reader,
            limits,
            total: 0,
            line: 0,
            gzip: false,
        }
    }

    /// The next line's number and bytes (without `\n` or `\r\n`); `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<(usize, Vec<u8>)>> {
        let n = self.line + 1;
        let mut buf = Vec::new();
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Usage(format!(
                        "{}: line {n}: cannot read: {e}",
                        self.name
                    )))
                }
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (content, take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i, i + 1, true),
                None => (available.len(), available.len(), false),
            };
            if self.total + take as u64 > self.limits.max_input_bytes {
                let what = if self.gzip { " (decompressed)" } else { "" };
                return Err(Error::Usage(format!(
                    "{}: line {n}: input larger than {}{what}, the limit of --max-input-bytes",
                    self.name,
                    human_bytes(self.limits.max_input_bytes)
                )));
            }
            if (buf.len() + content) as u64 > self.limits.max_line_bytes {
                return Err(Error::Usage(format!(
                    "{}: line {n}: line longer than {}, the limit of --max-line-bytes",
                    self.name,
                    human_bytes(self.limits.max_line_bytes)
                )));
            }
            buf.extend_from_slice(&available[..content]);
            self.reader.consume(take);
            self.total += take as u64;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        self.line = n;
        Ok(Some((n, buf)))
    }

    /// The next line as text (an error naming the line when it is not UTF-8).
    pub fn next_text(&mut self) -> Result<Option<(usize, String)>> {
        match self.next_line()? {
            None => Ok(None),
            Some((n, bytes)) => String::from_utf8(bytes)
                // A byte-order mark before the first line (Windows editors write one) is
                // not part of it: the first URL read `\u{feff}/api/…`, a silent 404.
                .map(|t| match t.strip_prefix('\u{feff}') {
                    Some(rest) if n == 1 => Some((n, rest.to_string())),
                    _ => Some((n, t)),
                })
                .map_err(|_| Error::Usage(format!("{}: line {n}: not UTF-8 text", self.name))),
        }
    }
}

/// Read `name` (a file path, or `-` for stdin) with the default [`Limits`].
pub fn read(name: &str) -> Result<Inputs> {
    read_with(name, Limits::default())
}

/// Read `name` (a file path, or `-` for stdin): gzip is recognised by its magic bytes, a HAR
/// file by its `{"log": …}` shape, anything else is read as JSON lines; within `limits`.
pub fn read_with(name: &str, limits: Limits) -> Result<Inputs> {
    let inputs = read_any(name, limits)?;
    // A check of nothing is not a pass.
    if inputs.responses.is_empty() && inputs.skipped.is_empty() {
        let name = if name == "-" {
            "--responses - (stdin)"
        } else {
            name
        };
        return Err(Error::Usage(format!(
            "{name}: no responses (expected JSON lines {{\"url\", \"status\", \"body\"}} or a HAR file with entries)"
        )));
    }
    Ok(inputs)
}

/// [`read_with`], whatever the number of responses.
fn read_any(name: &str, limits: Limits) -> Result<Inputs> {
    let io = |e: std::io::Error| Error::io(name, e);
    let raw: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(name).map_err(io)?)
    };
    let mut reader = BufReader::new(raw);
    let gzip = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    };
    // Messages name the input; stdin as the flag that chose it.
    let name = if name == "-" {
        "--responses - (stdin)"
    } else {
        name
    };
    let mut lines = Lines::new(name, reader, limits);
    lines.gzip = gzip;
    let mut inputs = Inputs::default();
    let mut first = true;
    while let Some((n, line)) = lines.next_text()? {
        if line.trim().is_empty() {
            continue;
        }
        if std::mem::take(&mut first) {
            match serde_json::from_str::<Value>(line.trim()) {
                // A HAR file on one line.
                Ok(har) if har.get("log").is_some() && har.get("url").is_none() => {
                    while let Some((m, rest)) = lines.next_text()? {
                        if !rest.trim().is_empty() {
                            return Err(Error::Usage(format!(
                                "{name}: line {m}: text after the HAR document"
                            )));
                        }
                    }
                    return from_har(name, &har);
                }
                Ok(_) => {}
                // A document over several lines: a HAR file is one JSON document with a
                // "log"; anything else is reported as JSON lines (their first line's error).
                Err(_) => {
                    let mut document = line.clone();
                    while let Some((_, rest)) = lines.next_text()? {
                        document.push('\n');
                        document.push_str(&rest);
                    }
                    match serde_json::from_str::<Value>(&document) {
                        Ok(har) if har.get("log").is_some() => return from_har(name, &har),
                        Ok(_) => {}
                        // A HAR file (`{` then `"log"` as its first key) that ends early or
                        // breaks: its own error, not the first line's as JSON lines.
                        Err(e) if starts_as_har(&document) => {
                            return Err(Error::Usage(format!(
                                "{name}: an incomplete or invalid HAR document: {e} (expected one JSON document {{\"log\": {{\"entries\": […]}}}})"
                            )))
                        }
                        Err(_) => {}
                    }
                }
            }
        }
        push_line(name, n, line.trim(), &mut inputs)?;
    }
    Ok(inputs)
}

/// Whether `document` opens as a HAR file does: `{`, then the key `"log"` first.
fn starts_as_har(document: &str) -> bool {
    document
        .trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"log\""))
}

/// JSON lines in a string (tests, small inputs).
pub fn from_lines(name: &str, text: &str) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.is_empty() {
            push_line(name, n + 1, line, &mut inputs)?;
        }
    }
    Ok(inputs)
}

/// What kind of JSON value `v` is, for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Line `n` (1-based, not empty) of a JSON lines input.
fn push_line(name: &str, n: usize, line: &str, inputs: &mut Inputs) -> Result<()> {
    let bad = |what: &str| {
        Error::Usage(format!(
            "{name}: line {n}: {what} (expected {{\"url\", \"status\", \"body\"[, \"as_user\"]}})"
        ))
    };
    let v: Value = serde_json::from_str(line).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    let url = v["url"].as_str().ok_or_else(|| bad("missing \"url\""))?;
    let status = v["status"]
        .as_u64()
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| bad("missing or invalid \"status\""))?;
    let body = v
        .get("body")
        .cloned()
        .ok_or_else(|| bad("missing \"body\""))?;
    // Never a silent fallback to --as (which may be a superuser): a present as_user is a string.
    let as_user = match v.get("as_user") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(bad(&format!(
                "\"as_user\" is {}, expected a string (\"anonymous\" or an email; leave it out to ask as --as)",
                json_kind(other)
            )))
        }
    };
    let path = path_of(url);
    if !is_answered(&path) {
        inputs
            .skipped
            .push((url.to_string(), "not an endpoint occlens answers".into()));
        return Ok(());
    }
    inputs.responses.push(Recorded {
        url: path,
        status: status as u16,
        body,
        as_user,
        origin: Some(format!("{name}: line {n}")),
    });
    Ok(())
}

/// HAR 1.2 (`log.entries[].request.{method,url}`, `response.{status,content.{text,encoding}}`).
fn from_har(name: &str, har: &Value) -> Result<Inputs> {
    let entries = har["log"]["entries"]
        .as_array()
        .ok_or_else(|| Error::Usage(format!("{name}: HAR file without log.entries")))?;
    let mut inputs = Inputs::default();
    for (i, entry) in entries.iter().enumerate() {
        let method = entry["request"]["method"].as_str().unwrap_or("");
        let url = entry["request"]["url"].as_str().unwrap_or("");
        let path = path_of(url);
        if method != "GET" || !is_answered(&path) {
            inputs.skipped.push((
                format!("{method} {url}"),
                "not a GET of an endpoint occlens answers".into(),
            ));
            continue;
        }
        // 0 (or none): the browser recorded no response. Anything else must be an HTTP status,
        // never wrapped into one.
        let status = match &entry["response"]["status"] {
            Value::Null => 0,
            v => match v.as_u64() {
                Some(s) if s == 0 || (100..=599).contains(&s) => s as u16,
                _ => {
                    return Err(Error::Usage(format!(
                        "{name}: log.entries[{i}] (GET {url}): response status {v} is not an HTTP status (expected 100 to 599, or 0 for no response)"
                    )))
                }
            },
        };
        // What a browser records without a body: a 304 (answered from its own cache), or an
        // entry saved without its content. Nothing to compare: skipped, named.
        let content = &entry["response"]["content"];
        let why = match (status, content["text"].as_str()) {
            (304, _) => Some("304 Not Modified: the browser's cached body, not recorded"),
            (s, None) if s != 0 => Some("no response body recorded"),
            _ => None,
        };
        if let Some(why) = why {
            inputs.skipped.push((format!("GET {url}"), why.into()));
            continue;
        }
        let text = content["text"].as_str().unwrap_or("");
        let text = if content["encoding"].as_str() == Some("base64") {
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => {
                    return Err(Error::Usage(format!(
                        "{name}: entry {i}: response content is not valid base64: {e}"
                    )))
                }
            }
        } else {
            text.to_string()
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status == 0 {
            inputs
                .skipped
                .push((format!("GET {url}"), "no response recorded".into()));
            continue;
        }
        inputs.responses.push(Recorded {
            url: path,
            status,
            body,
            as_user: None,
            origin: Some(format!("{name}: log.entries[{i}]")),
        });
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_skipped() {
        let text = "\u{feff}/a/\r\n\u{feff}/b/\n";
        let mut lines = Lines::new(
            "t",
            std::io::Cursor::new(text.as_bytes()),
            Limits::default(),
        );
        let first = lines.next_text().unwrap().unwrap();
        let second = lines.next_text().unwrap().unwrap();
        assert_eq!(first.1.trim(), "/a/");
        // Only the first line's: elsewhere it is the line's text.
        assert_eq!(second.1.trim(), "\u{feff}/b/");
    }

    #[test]
    fn paths() {
        assert_eq!(
            path_of("https://h.org/api/v2/occurrences/?a=1"),
            "/api/v2/occurrences/?a=1"
        );
        assert_eq!(path_of("/api/v2/occurrences/1/"), "/api/v2/occurrences/1/");
        assert_eq!(path_of("http://h"), "/");
    }

    fn lines_of(bytes: &[u8], limits: Limits) -> Result<Vec<(usize, String)>> {
        let mut lines = Lines::new("in", bytes, limits);
        let mut out = Vec::new();
        while let Some(l) = lines.next_text()? {
            out.push(l);
        }
        Ok(out)
    }

    #[test]
    fn bounded_lines() {
        let limits = Limits {
            max_line_bytes: 5,
            max_input_bytes: 20,
        };
        assert_eq!(
            lines_of(b"ab\r\n\ncde\nfghij", limits).unwrap(),
            vec![
                (1, "ab".to_string()),
                (2, String::new()),
                (3, "cde".to_string()),
                (4, "fghij".to_string())
            ]
        );
        let e = lines_of(b"ab\nabcdef\n", limits).unwrap_err().to_string();
        assert_eq!(
            e,
            "in: line 2: line longer than 5 bytes, the limit of --max-line-bytes"
        );
        let e = lines_of(&[b'\n'; 30], limits).unwrap_err().to_string();
        assert_eq!(
            e,
            "in: line 21: input larger than 20 bytes, the limit of --max-input-bytes"
        );
        assert_eq!(human_bytes(64 << 20), "64 MiB");
        assert_eq!(human_bytes(4 << 30), "4 GiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }

    #[test]
    fn as_user_must_be_a_string() {
        for bad in ["1", "null", "true", "[\"a\"]", "{\"email\": \"a@t\"}"] {
            let line =
                format!("{{\"url\": \"/api/v2/occurrences/1/\", \"status\": 200, \"body\": {{}}, \"as_user\": {bad}}}");
            let e = from_lines("f.jsonl", &format!("\n{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("f.jsonl: line 2: \"as_user\" is "), "{e}");
        }
        let ok = from_lines(
            "f",
            "{\"url\": \"/api/v2/occurrences/1/\", \"status\": 200, \"body\": {}, \"as_user\": \"anonymous\"}",
        )
        .unwrap();
        assert_eq!(ok.responses[0].as_user.as_deref(), Some("anonymous"));
    }

    #[test]
    fn har_status_out_of_range() {
        for status in [
            serde_json::json!(70000),
            serde_json::json!(-1),
            serde_json::json!("200"),
            serde_json::json!(99),
        ] {
            let har = serde_json::json!({"log": {"entries": [
                {"request": {"method": "GET", "url": "http://x/api/v2/occurrences/1/"},
                 "response": {"status": status, "content": {"text": "{}"}}}]}});
            let e = from_har("h.har", &har).unwrap_err().to_string();
            assert!(
                e.starts_with(
                    "h.har: log.entries[0] (GET http://x/api/v2/occurrences/1/): response status"
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn har_entries_without_a_body_are_skipped() {
        let har = serde_json::json!({"log": {"entries": [
            {"request": {"method": "GET", "url": "http://x/api/v2/occurrences/1/"},
             "response": {"status": 304, "content": {"size": 0}}},
            {"request": {"method": "GET", "url": "http://x/api/v2/occurrences/2/"},
             "response": {"status": 200, "content": {"size": 10}}},
            {"request": {"method": "GET", "url": "http://x/api/v2/occurrences/3/"},
             "response": {"status": 200, "content": {"text": "{}"}}},
        ]}});
        let inputs = from_har("h.har", &har).unwrap();
        assert_eq!(inputs.responses.len(), 1);
        assert_eq!(inputs.responses[0].url, "/api/v2/occurrences/3/");
        let why: Vec<&str> = inputs.skipped.iter().map(|(_, w)| w.as_str()).collect();
        assert_eq!(
            why,
            [
                "304 Not Modified: the browser's cached body, not recorded",
                "no response body recorded"
            ]
        );
    }

    #[test]
    fn har_entries() {
        let har = serde_json::json!({"log": {"entries": [
            {"request": {"method": "GET", "url": "http://x/api/v2/occurrences/1/"},
             "response": {"status": 200, "content": {"text": "eyJpZCI6MX0=", "encoding": "base64"}}},
            {"request": {"method": "GET", "url": "http://x/api/v2/jobs/"},
             "response": {"status": 200, "content": {"text": "{}"}}},
            {"request": {"method": "POST", "url": "http://x/api/v2/occurrences/"},
             "response": {"status": 201, "content": {"text": "{}"}}}
        ]}});
        let inputs = from_har("h.har", &har).unwrap();
        assert_eq!(inputs.responses.len(), 1);
        assert_eq!(inputs.responses[0].url, "/api/v2/occurrences/1/");
        assert_eq!(inputs.responses[0].body, serde_json::json!({"id": 1}));
        assert_eq!(inputs.skipped.len(), 2);
    }
}
