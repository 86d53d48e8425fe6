//! One handler for every request: the status and bytes `occlens api` gives, DRF's error
//! bodies, the limits, the access log and the metrics.

use super::responses::Stored;
use super::{metrics, Server};
use crate::api::respond::get;
use crate::error::{Error, Result};
use crate::render::pyfmt::to_json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

const ALLOW: &str = "GET, HEAD, OPTIONS";

pub fn router(server: Arc<Server>) -> Result<axum::Router> {
    let origins = server.options.cors_origins.clone();
    let mut app = axum::Router::new().fallback(handle).with_state(server);
    if !origins.is_empty() {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let allow = if origins.iter().any(|o| o == "*") {
            AllowOrigin::any()
        } else {
            let values = origins
                .iter()
                .map(|o| {
                    // An origin as browsers send it: `null`, or scheme://host[:port] and
                    // nothing more (a path, a trailing slash, upper case or a default port
                    // would never match one).
                    let canonical = url::Url::parse(o).ok().and_then(|u| {
                        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                        Some(format!("{}://{}{port}", u.scheme(), u.host_str()?))
                    });
                    match canonical {
                        Some(c) if c == *o => HeaderValue::from_str(o).ok(),
                        _ if o == "null" => HeaderValue::from_str(o).ok(),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "--cors-origin {o:?}: not an origin (expected scheme://host[:port] as a browser sends it, lower case, without a path or a default port, e.g. https://app.example.org; null; or *)"
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            AllowOrigin::list(values)
        };
        let cors = CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::ACCEPT]);
        app = app.layer(cors);
    }
    Ok(app)
}

/// An answer before it becomes a response.
struct Reply {
    status: u16,
    body: Bytes,
    content_type: &'static str,
    headers: Vec<(header::HeaderName, String)>,
}

impl Reply {
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            body: Bytes::from(to_json(body)),
            content_type: "application/json",
            headers: Vec::new(),
        }
    }

    fn detail(status: u16, detail: &str) -> Reply {
        Reply::json(status, &json!({ "detail": detail }))
    }

    fn with(mut self, name: header::HeaderName, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// The endpoint a path belongs to (the metrics' label).
fn endpoint(path: &str, metrics: bool) -> &'static str {
    match path {
        "/_occlens/status" => "status",
        "/metrics" if metrics => "metrics",
        _ => crate::api::route::label(path),
    }
}

async fn handle(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response<Body> {
    let started = Instant::now();
    let _in_flight = server.enter();
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let label = endpoint(uri.path(), server.options.metrics);
    let answer = answer(&server, &method, target, label, &headers).await;
    let seconds = started.elapsed().as_secs_f64();
    server.metrics.record(label, answer.status, seconds);
    if server.options.access_log {
        // The path and query only (credentials travel in headers, never logged), redacted.
        eprintln!(
            "{} {} {} {:.1} ms {} B",
            method,
            crate::redact::redact(target),
            answer.status,
            seconds * 1e3,
            answer.body.len()
        );
    }
    let mut response = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, answer.content_type)
        .header(header::ALLOW, ALLOW)
        .header(header::VARY, "Accept");
    for (name, value) in answer.headers {
        response = response.header(name, value);
    }
    response
        .body(Body::from(answer.body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

async fn answer(
    server: &Server,
    method: &Method,
    target: &str,
    label: &'static str,
    headers: &HeaderMap,
) -> Reply {
    let options = &server.options;
    if target.len() > options.max_url_bytes {
        return Reply::detail(414, "Request-URI Too Long.");
    }
    // DRF authenticates in the view, after Django resolved the URL and before the method's
    // handler: a bad token is 401 on an API endpoint whatever the method (OPTIONS, POST),
    // and an unrouted path is 404 whatever the token. Django joins repeated headers with ","
    // (two `Token …` values are then "should not contain spaces").
    let routed = !matches!(label, "other" | "status" | "metrics");
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let who = match authorization.next() {
        None => Ok(None),
        Some(first) => {
            let mut value = first.as_bytes().to_vec();
            for more in authorization {
                value.push(b',');
                value.extend_from_slice(more.as_bytes());
            }
            options.tokens.requester(&value).map_err(|r| r.0)
        }
    };
    let (who, by_token) = match who {
        Ok(Some(who)) => (who, true),
        Ok(None) => (options.default_requester.clone(), false),
        Err(detail) if routed => {
            return Reply::detail(401, detail).with(header::WWW_AUTHENTICATE, "Token")
        }
        Err(_) => (options.default_requester.clone(), false),
    };
    match *method {
        Method::GET | Method::HEAD => {}
        Method::OPTIONS => {
            return Reply::json(
                200,
                &json!({"renders": ["application/json"], "parses": ["application/json"]}),
            )
        }
        _ => return Reply::detail(405, &format!("Method \"{method}\" not allowed.")),
    }
    match label {
        "status" => return Reply::json(200, &status(server)),
        "metrics" => {
            return Reply {
                status: 200,
                body: Bytes::from(server.metrics.text()),
                content_type: metrics::CONTENT_TYPE,
                headers: Vec::new(),
            }
        }
        _ => {}
    }
    // A slot among --max-in-flight, waiting at most --timeout behind at most --max-queued.
    let _slot = match server.slots.try_acquire() {
        Ok(slot) => slot,
        Err(_) => {
            if server.queued.fetch_add(1, Ordering::SeqCst) >= options.max_queued {
                server.queued.fetch_sub(1, Ordering::SeqCst);
                return busy();
            }
            let waited = tokio::time::timeout(options.timeout, server.slots.acquire()).await;
            server.queued.fetch_sub(1, Ordering::SeqCst);
            match waited {
                Ok(Ok(slot)) => slot,
                _ => return busy(),
            }
        }
    };
    // A request answered before on this version: the same bytes (`responses`).
    let version = server.versions.current();
    // A token of a user this version's users_user does not hold: Antenna's token check finds
    // no user either.
    if by_token {
        if let Ok(Some(_)) = crate::api::request::unknown_user(&version.engine, &who).await {
            return Reply::detail(401, "Invalid token.").with(header::WWW_AUTHENTICATE, "Token");
        }
    }
    if let Some(hit) = version.responses.get(target, &who) {
        return Reply {
            status: hit.status,
            body: hit.body,
            content_type: "application/json",
            headers: Vec::new(),
        };
    }
    let run = async {
        let first = get(&version.engine, target, &who).await;
        // The snapshot's files were replaced in place under this version (not swapped beside
        // it): answer from the new version once it is open, as a swap would have.
        if first.is_err()
            && server.versions.reloadable()
            && server.versions.check_after_failure().await
        {
            let current = server.versions.current();
            return (get(&current.engine, target, &who).await, current);
        }
        (first, version.clone())
    };
    match tokio::time::timeout(options.timeout, run).await {
        Ok((Ok(response), answered_by)) => {
            let answer = Reply::json(response.status, &response.body);
            // A copy of exactly its length (the serializer's buffer may have twice the capacity).
            let stored = Stored {
                status: answer.status,
                body: Bytes::copy_from_slice(&answer.body),
            };
            answered_by.responses.put(target, &who, stored);
            answer
        }
        Ok((Err(e), _)) => {
            eprintln!(
                "occlens: {} {}: {}",
                method,
                crate::redact::redact(target),
                crate::redact::redact(&e.to_string())
            );
            Reply::detail(500, "A server error occurred.")
        }
        Err(_) => Reply::detail(
            504,
            &format!(
                "The request took longer than {} s (--timeout).",
                options.timeout.as_secs_f64()
            ),
        ),
    }
}

fn busy() -> Reply {
    Reply::detail(503, "Too many requests in flight; retry later.").with(header::RETRY_AFTER, "1")
}

/// `/_occlens/status`: the snapshot version answering and the server's counters.
fn status(server: &Server) -> Value {
    let version = server.versions.current();
    let engine = &version.engine;
    let snapshot = &engine.snapshot;
    let manifest = snapshot.manifest.as_ref();
    let tables: Vec<Value> = snapshot
        .tables
        .iter()
        .map(|t| {
            json!({"name": t.name, "files": t.files.len(),
                   "bytes": t.files.iter().map(|f| f.size).sum::<u64>()})
        })
        .collect();
    let opened = chrono::DateTime::<chrono::Utc>::from(version.opened);
    let (answers, bytes, hits) = version.responses.usage();
    let remembered = json!({"answers": answers, "bytes": bytes, "hits": hits});
    json!({
        "snapshot": {
            "source": crate::redact::redact(&snapshot.location),
            "version": version.number,
            "fingerprint": version.fingerprint,
            "opened_at": opened.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "snapshot_time": manifest.and_then(|m| m.get("snapshot_time")).cloned(),
            "manifest_source": manifest.and_then(|m| m.get("source")).map(|s| crate::redact::redact(&s.to_string())),
            "tables": tables,
            "cache": engine
                .cache
                .iter()
                .map(|(part, dir)| (part.name().to_string(), json!(dir.display().to_string())))
                .collect::<serde_json::Map<_, _>>(),
            "cache_warning": engine.cache_warning.as_deref().map(crate::redact::redact),
            "bytes_in_memory": engine.resident_bytes,
            "ordered_lists": engine.memo.as_ref().map(|m| {
                let (lists, bytes) = m.usage();
                json!({"lists": lists, "bytes": bytes})
            }),
            "answers_remembered": remembered,
            "last_reload_error": server.versions.last_error.lock().ok().and_then(|e| e.clone()),
        },
        "server": {
            "uptime_seconds": server.started.elapsed().as_secs(),
            "requests": server.requests.load(Ordering::Relaxed),
            "in_flight": server.in_flight.load(Ordering::SeqCst),
            "queued": server.queued.load(Ordering::SeqCst),
            "max_in_flight": server.options.max_in_flight,
            "occlens": env!("CARGO_PKG_VERSION"),
        }
    })
}
