//! Live mode: GET each URL from a running Antenna API with bounded concurrency, a request
//! timeout, and retries with exponential backoff on 429, 5xx and transport errors (a
//! `Retry-After` in seconds is honoured, up to the timeout). The last answer is the one
//! checked: a 500 that persists is compared like any other status. A timed-out request is
//! retried at most once (a slow page would only be slow again, and load the server); a URL
//! that still fails is a [`Failed`] row with the cause, and the run goes on. Bodies are
//! streamed and capped at `max_body_bytes`.

use super::input::{human_bytes, is_answered, path_of, Recorded};
use crate::error::{Error, Result};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// A URL that could not be fetched: the URL (path and query) and why (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub url: String,
    pub cause: String,
}

/// One URL's outcome.
pub type Fetched = std::result::Result<Recorded, Failed>;

/// Why one attempt failed.
enum Attempt {
    /// A transport error (retried); `timeout`: it was a timeout (retried at most once).
    Transport { timeout: bool, message: String },
    /// Not worth retrying (a body over the cap).
    Fatal(String),
}

/// The longest backoff between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where and how to fetch.
#[derive(Debug, Clone)]
pub struct Live {
    /// Scheme and host, e.g. `https://antenna.example.org`.
    pub api_url: String,
    /// DRF token (`Authorization: Token …`); never printed.
    pub token: Option<String>,
    pub concurrency: usize,
    pub retries: u32,
    pub timeout: Duration,
    /// First backoff; doubled on each retry (at most 30 s, and at most `timeout`).
    pub backoff: Duration,
    /// The largest response body read; a larger one fails the URL.
    pub max_body_bytes: u64,
    /// The most bytes of pages a `--project` walk holds (`--max-input-bytes`); past it the
    /// walk stops with a [`Failed`] row.
    pub max_walk_bytes: u64,
}

impl Live {
    fn client(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| Error::Usage(format!("--api-url: cannot build an HTTP client: {e}")))
    }

    /// The wait before retry number `attempt + 1`.
    fn backoff_for(&self, attempt: u32) -> Duration {
        self.backoff
            .checked_mul(2u32.saturating_pow(attempt))
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF)
            .min(self.timeout)
    }

    /// GET `url` (a path and query), retrying as described above; the cause when it fails.
    async fn fetch_one(
        &self,
        client: &reqwest::Client,
        url: &str,
    ) -> std::result::Result<Recorded, String> {
        let full = format!("{}{url}", self.api_url.trim_end_matches('/'));
        let mut attempt = 0u32;
        let mut timeouts = 0u32;
        loop {
            let mut request = client.get(&full).header("Accept", "application/json");
            if let Some(token) = &self.token {
                request = request.header("Authorization", format!("Token {token}"));
            }
            let wait = self.backoff_for(attempt);
            let failure = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let retryable = status == 429 || status >= 500;
                    if retryable && attempt < self.retries {
                        // A server asking for more than the timeout is not waited for longer.
                        tokio::time::sleep(retry_after.unwrap_or(wait).min(self.timeout)).await;
                        attempt += 1;
                        continue;
                    }
                    // Still overloaded or unreachable behind a gateway: no answer to compare
                    // (a 500 is the application's own answer, and is compared).
                    if matches!(status, 429 | 502 | 503 | 504) {
                        let tries = if attempt == 1 { "retry" } else { "retries" };
                        return Err(format!(
                            "HTTP {} (after {attempt} {tries})",
                            response.status()
                        ));
                    }
                    match self.body(response).await {
                        Ok(bytes) => {
                            let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                                Value::String(String::from_utf8_lossy(&bytes).into_owned())
                            });
                            return Ok(Recorded {
                                url: url.to_string(),
                                status,
                                body,
                                as_user: None,
                                origin: None,
                            });
                        }
                        Err(f) => f,
                    }
                }
                Err(e) => transport(&e, self.timeout),
            };
            match failure {
                Attempt::Fatal(cause) => return Err(cause),
                Attempt::Transport { timeout, message } => {
                    if attempt >= self.retries || (timeout && timeouts >= 1) {
                        let tries = if attempt == 1 { "retry" } else { "retries" };
                        return Err(format!("{message} (after {attempt} {tries})"));
                    }
                    timeouts += u32::from(timeout);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    /// The body of `response`, streamed, at most `max_body_bytes`.
    async fn body(&self, mut response: reqwest::Response) -> std::result::Result<Vec<u8>, Attempt> {
        let cap = self.max_body_bytes;
        let too_large = || {
            Attempt::Fatal(format!(
                "response body larger than {}, the limit of --max-body-bytes",
                human_bytes(cap)
            ))
        };
        if response.content_length().is_some_and(|n| n > cap) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(e) => return Err(transport(&e, self.timeout)),
            }
        }
    }

    /// GET every URL, at most `concurrency` at a time; outcomes in input order.
    pub async fn fetch_all(
        &self,
        urls: &[String],
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<Fetched>> {
        let client = self.client()?;
        let fetches = futures::stream::iter(urls)
            .map(|url| {
                let client = &client;
                async move {
                    let r = self.fetch_one(client, url).await;
                    progress();
                    r.map_err(|cause| Failed {
                        url: url.clone(),
                        cause,
                    })
                }
            })
            .buffered(self.concurrency.max(1));
        Ok(fetches.collect::<Vec<_>>().await)
    }

    /// Every page of `project`'s list (default filters, `limit=100`, following `next`) and
    /// every listed occurrence's detail. A `next` link to a page already fetched (a loop), to
    /// something that is not an occurrences list, or after an empty page stops the walk with
    /// a [`Failed`] row naming it; so does a page that cannot be fetched.
    pub async fn walk_project(
        &self,
        project: i64,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<Fetched>> {
        let client = self.client()?;
        let mut out = Vec::new();
        let mut visited = HashSet::new();
        let mut ids = Vec::new();
        let mut seen_ids = HashSet::new();
        let mut next = Some(format!(
            "/api/v2/occurrences/?project_id={project}&limit=100"
        ));
        // Results and bytes of the pages so far: a `next` link once the pages hold the
        // page's own `count` of results, or past --max-input-bytes, ends the walk (a server
        // whose links never end once held 4 GB after 30 s).
        let (mut listed, mut held) = (0u64, 0u64);
        while let Some(url) = next.take() {
            let stop = |cause: &str| {
                Err(Failed {
                    url: url.clone(),
                    cause: cause.to_string(),
                })
            };
            if !is_answered(&url) {
                out.push(stop(
                    "the previous page's `next` link is not an endpoint occlens answers; stopped walking",
                ));
                break;
            }
            if !visited.insert(url.clone()) {
                out.push(stop(
                    "the previous page's `next` link repeats a page already fetched (a loop); stopped walking",
                ));
                break;
            }
            let page = self.fetch_one(&client, &url).await;
            progress();
            match page {
                Ok(page) => {
                    let results = page.body["results"].as_array().cloned().unwrap_or_default();
                    for id in results.iter().filter_map(|item| item["id"].as_i64()) {
                        if seen_ids.insert(id) {
                            ids.push(id);
                        }
                    }
                    next = page.body["next"].as_str().map(path_of);
                    listed += results.len() as u64;
                    held += serde_json::to_vec(&page.body).map_or(0, |b| b.len() as u64);
                    let count = page.body["count"].as_u64();
                    let why = match (&next, count) {
                        (Some(_), Some(count)) if listed >= count => Some(format!(
                            "`next` link after {listed} results, the page's count being {count}; stopped walking"
                        )),
                        (Some(_), _) if held > self.max_walk_bytes => Some(format!(
                            "the pages fetched hold more than {}, the limit of --max-input-bytes; stopped walking",
                            human_bytes(self.max_walk_bytes)
                        )),
                        _ => None,
                    };
                    if let Some(cause) = why {
                        let after = next.take().unwrap_or_default();
                        out.push(Ok(page));
                        out.push(Err(Failed { url: after, cause }));
                        break;
                    }
                    if results.is_empty() {
                        if let Some(after) = next.take() {
                            out.push(Ok(page));
                            out.push(Err(Failed {
                                url: after,
                                cause: "`next` link after a page without results; stopped walking"
                                    .into(),
                            }));
                            break;
                        }
                    }
                    out.push(Ok(page));
                }
                Err(cause) => {
                    out.push(Err(Failed {
                        url: url.clone(),
                        cause: format!("{cause}; the pages after it were not walked"),
                    }));
                }
            }
        }
        let details: Vec<String> = ids
            .iter()
            .map(|id| format!("/api/v2/occurrences/{id}/?project_id={project}"))
            .collect();
        out.extend(self.fetch_all(&details, progress).await?);
        Ok(out)
    }
}

/// A transport failure as one line (the token is in a header, never in the message; the URL
/// is the row's, not repeated here).
fn transport(e: &reqwest::Error, timeout: Duration) -> Attempt {
    let message = if e.is_timeout() {
        format!("timed out after {} s (--timeout)", timeout.as_secs_f64())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        crate::error::chain(e)
    };
    if e.is_builder() {
        // The URL itself is unusable (a scheme reqwest does not speak): retrying cannot help.
        return Attempt::Fatal(message);
    }
    Attempt::Transport {
        timeout: e.is_timeout(),
        message,
    }
}
