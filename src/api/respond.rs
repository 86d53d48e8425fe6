//! Answering an API GET: parse, run, shape. Used by `occlens api`, `list` and `detail` and by
//! the parity tests.

use crate::api::answer::OccurrenceAnswer;
use crate::api::endpoints::Endpoints;
use crate::api::params::Params;
use crate::api::request::{detail_id, list_project, parse, Endpoint, Request, Requester};
use crate::api::route::{family, Family};
use crate::api::shape::Shaper;
use crate::engine::Engine;
use crate::error::Result;
use serde_json::{json, Value};

pub struct Response {
    pub status: u16,
    pub body: Value,
}

/// The response Antenna would give to `GET url` from `who`.
pub async fn get(engine: &Engine, url: &str, who: &Requester) -> Result<Response> {
    // A fragment never reaches a server (browsers keep it): a recorded URL's is not a value.
    let url = url.split('#').next().unwrap_or(url);
    // Boxed: the answer's future is large in a debug build, and a test's thread has 2 MiB.
    let response = Box::pin(answer(engine, url, who)).await?;
    // A page of a list with a `limit` beyond bigint: PostgreSQL refuses Antenna's page query.
    let params = Params::parse(url);
    let count = response.body.get("count").and_then(Value::as_u64);
    if let (200, Some(count), Some(_)) = (response.status, count, response.body.get("results")) {
        let (limit, offset) = (params.last("limit"), params.last("offset"));
        if crate::api::paging::page_query_fails(limit, offset, count as usize) {
            return Ok(Response {
                status: 500,
                body: json!({"detail": "Server Error: DataError: bigint out of range (the page query's LIMIT)"}),
            });
        }
    }
    Ok(response)
}

async fn answer(engine: &Engine, url: &str, who: &Requester) -> Result<Response> {
    // Checked before anything else: any other endpoint would be answered from part of the rows.
    engine.check_scope(detail_id(url), list_project(url), url)?;
    // DRF's content negotiation comes first: a `?format=` that no renderer has (JSON, and the
    // browsable API's `api`, answered here as JSON) is a 404.
    if let Some(format) = Params::parse(url).given("format") {
        if format != "json" && format != "api" {
            return Ok(Response {
                status: 404,
                body: json!({"detail": "Not found."}),
            });
        }
    }
    let (path, _) = url.split_once('?').unwrap_or((url, ""));
    let answer = match family(path) {
        None | Some((Family::Occurrences, _)) => return occurrences(engine, url, who).await,
        Some((family, tail)) => {
            let params = Params::parse(url);
            let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
            let endpoints = Endpoints {
                engine,
                params: &params,
                who,
            };
            endpoints.get(family, &tail).await?
        }
    };
    Ok(match answer {
        Ok(body) => Response { status: 200, body },
        Err(e) => Response {
            status: e.status,
            body: e.body,
        },
    })
}

/// An occurrence list, detail or algorithms answer (spec §4, §5).
async fn occurrences(engine: &Engine, url: &str, who: &Requester) -> Result<Response> {
    let (endpoint, request) = match parse(url) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Response {
                status: e.status,
                body: e.body,
            })
        }
    };
    // The dimension tables (loading since the engine opened) beside the answer's statements;
    // theirs is the error reported first: one that breaks its contract (an id on two rows) is
    // named rather than a query that trips over it.
    let answering = async {
        match endpoint {
            Endpoint::List => engine.answer(&request, who, None).await,
            Endpoint::Detail(id) => engine.answer(&request, who, Some(id)).await,
            Endpoint::Algorithms => engine.algorithms(&request, who).await,
        }
    };
    let (dims, answer) = tokio::join!(engine.dims(), answering);
    let (dims, answer) = (dims?, answer?);
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            return Ok(Response {
                status: e.status,
                body: e.body,
            })
        }
    };
    let shaper = Shaper::api(dims, &engine.config, who);
    let body = match answer {
        OccurrenceAnswer::Detail(row, related) => shaper.occurrence(&row, &related),
        OccurrenceAnswer::List(page, related) => {
            let results = page
                .rows
                .iter()
                .map(|r| shaper.occurrence(r, &related))
                .collect();
            envelope(engine, &request, &shaper, page.count, results)
        }
        OccurrenceAnswer::Algorithms(count, ids) => {
            let results = ids.iter().map(|id| shaper.algorithm_choice(*id)).collect();
            envelope(engine, &request, &shaper, count, results)
        }
    };
    Ok(Response { status: 200, body })
}

/// The paginated envelope (spec §4.1, §5.6).
fn envelope(
    engine: &Engine,
    request: &Request,
    shaper: &Shaper,
    count: usize,
    results: Vec<Value>,
) -> Value {
    let paging = crate::api::params::Paging {
        limit: request.limit,
        offset: request.offset,
    };
    let mut m = request
        .params()
        .envelope(&engine.config.api_base, paging, count, results);
    m.insert("user_permissions".into(), shaper.envelope_permissions());
    Value::Object(m)
}
