//! Live mode: GET each URL from a running Antenna API with bounded concurrency, a request
//! timeout, and retries with exponential backoff on 429, 5xx and transport errors (a
//! `Retry-After` in seconds is honoured). The last answer is the one checked: a 500 that
//! persists is compared like any other status.

use super::input::{path_of, Recorded};
use crate::error::{Error, Result};
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;

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
    /// First backoff; doubled on each retry.
    pub backoff: Duration,
}

impl Live {
    fn client(&self) -> Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| Error::Usage(format!("--api-url: cannot build an HTTP client: {e}")))
    }

    /// GET `url` (a path and query), retrying as described above.
    async fn fetch_one(&self, client: &reqwest::Client, url: &str) -> Result<Recorded> {
        let full = format!("{}{url}", self.api_url.trim_end_matches('/'));
        let mut attempt = 0u32;
        loop {
            let mut request = client.get(&full).header("Accept", "application/json");
            if let Some(token) = &self.token {
                request = request.header("Authorization", format!("Token {token}"));
            }
            let wait = self.backoff * 2u32.saturating_pow(attempt);
            match request.send().await {
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
                        tokio::time::sleep(retry_after.unwrap_or(wait)).await;
                        attempt += 1;
                        continue;
                    }
                    let text = match response.text().await {
                        Ok(t) => t,
                        Err(_) if attempt < self.retries => {
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                            continue;
                        }
                        Err(e) => return Err(transport(&full, attempt, &e)),
                    };
                    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    return Ok(Recorded {
                        url: url.to_string(),
                        status,
                        body,
                        as_user: None,
                    });
                }
                Err(_) if attempt < self.retries => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(transport(&full, attempt, &e)),
            }
        }
    }

    /// GET every URL, at most `concurrency` at a time; answers in input order.
    pub async fn fetch_all(
        &self,
        urls: &[String],
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<Recorded>> {
        let client = self.client()?;
        let fetches = futures::stream::iter(urls)
            .map(|url| {
                let client = &client;
                async move {
                    let r = self.fetch_one(client, url).await;
                    progress();
                    r
                }
            })
            .buffered(self.concurrency.max(1));
        fetches.collect::<Vec<_>>().await.into_iter().collect()
    }

    /// Every page of `project`'s list (default filters, `limit=100`, following `next`) and
    /// every listed occurrence's detail.
    pub async fn walk_project(
        &self,
        project: i64,
        progress: &(dyn Fn() + Sync),
    ) -> Result<Vec<Recorded>> {
        let client = self.client()?;
        let mut pages = Vec::new();
        let mut next = Some(format!(
            "/api/v2/occurrences/?project_id={project}&limit=100"
        ));
        while let Some(url) = next.take() {
            let page = self.fetch_one(&client, &url).await?;
            progress();
            next = page.body["next"].as_str().map(path_of);
            pages.push(page);
        }
        let details: Vec<String> = pages
            .iter()
            .flat_map(|p| p.body["results"].as_array().cloned().unwrap_or_default())
            .filter_map(|item| item["id"].as_i64())
            .map(|id| format!("/api/v2/occurrences/{id}/?project_id={project}"))
            .collect();
        pages.extend(self.fetch_all(&details, progress).await?);
        Ok(pages)
    }
}

/// A transport failure as one line (the token is in a header, never in the message).
fn transport(url: &str, retries: u32, e: &reqwest::Error) -> Error {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    Error::Usage(format!("GET {url}: {what} (after {retries} retries)"))
}
