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
}

/// What the input holds: responses to check, and entries that are not checked (and why).
#[derive(Debug, Default)]
pub struct Inputs {
    pub responses: Vec<Recorded>,
    pub skipped: Vec<(String, String)>,
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

/// Whether `path` is an occurrences endpoint that occlens answers.
pub fn is_occurrences(path: &str) -> bool {
    path.starts_with("/api/v2/occurrences")
}

/// Read `name` (a file path, or `-` for stdin): gzip is recognised by its magic bytes, a HAR
/// file by its `{"log": …}` shape, anything else is read as JSON lines.
pub fn read(name: &str) -> Result<Inputs> {
    let io = |e: std::io::Error| Error::Io {
        path: name.to_string(),
        source: e,
    };
    let raw: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(name).map_err(io)?)
    };
    let mut reader = BufReader::new(raw);
    let gzip = reader.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    };
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(io)?;
    // A HAR file is one JSON document with a "log"; JSON lines fail to parse as one document
    // at their second line.
    if let Ok(har) = serde_json::from_str::<Value>(&text) {
        if har.get("log").is_some() {
            return from_har(name, &har);
        }
    }
    from_lines(name, &text)
}

fn from_lines(name: &str, text: &str) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let bad = |what: &str| {
            Error::Usage(format!(
                "{name}: line {}: {what} (expected {{\"url\", \"status\", \"body\"[, \"as_user\"]}})",
                n + 1
            ))
        };
        let v: Value =
            serde_json::from_str(line).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
        let url = v["url"].as_str().ok_or_else(|| bad("missing \"url\""))?;
        let status = v["status"]
            .as_u64()
            .filter(|s| (100..600).contains(s))
            .ok_or_else(|| bad("missing or invalid \"status\""))?;
        let body = v
            .get("body")
            .cloned()
            .ok_or_else(|| bad("missing \"body\""))?;
        let path = path_of(url);
        if !is_occurrences(&path) {
            inputs
                .skipped
                .push((url.to_string(), "not an occurrences endpoint".into()));
            continue;
        }
        inputs.responses.push(Recorded {
            url: path,
            status: status as u16,
            body,
            as_user: v["as_user"].as_str().map(String::from),
        });
    }
    Ok(inputs)
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
        if method != "GET" || !is_occurrences(&path) {
            inputs.skipped.push((
                format!("{method} {url}"),
                "not a GET of an occurrences endpoint".into(),
            ));
            continue;
        }
        let status = entry["response"]["status"].as_u64().unwrap_or(0) as u16;
        let content = &entry["response"]["content"];
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
        });
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path_of("https://h.org/api/v2/occurrences/?a=1"),
            "/api/v2/occurrences/?a=1"
        );
        assert_eq!(path_of("/api/v2/occurrences/1/"), "/api/v2/occurrences/1/");
        assert_eq!(path_of("http://h"), "/");
    }

    #[test]
    fn har_entries() {
        let har = serde_json::json!({"log": {"entries": [
            {"request": {"method": "GET", "url": "http://x/api/v2/occurrences/1/"},
             "response": {"status": 200, "content": {"text": "eyJpZCI6MX0=", "encoding": "base64"}}},
            {"request": {"method": "GET", "url": "http://x/api/v2/events/"},
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
