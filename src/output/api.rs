//! Answering an API GET: parse, run, shape. Used by `occlens api`, `list`, `detail` and the
//! parity tests.

use crate::error::Result;
use crate::output::shape::Shaper;
use crate::views::request::{parse, Endpoint, Requester};
use crate::views::{Answer, Engine};
use serde_json::{json, Map, Value};

pub struct Response {
    pub status: u16,
    pub body: Value,
}

/// The response Antenna would give to `GET url` from `who`.
pub async fn get(engine: &Engine, url: &str, who: &Requester) -> Result<Response> {
    let (endpoint, request) = match parse(url) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Response {
                status: e.status,
                body: e.body,
            })
        }
    };
    let detail = match endpoint {
        Endpoint::List => None,
        Endpoint::Detail(id) => Some(id),
    };
    let answer = match engine.answer(&request, who, detail).await? {
        Ok(a) => a,
        Err(e) => {
            return Ok(Response {
                status: e.status,
                body: e.body,
            })
        }
    };
    let shaper = Shaper {
        dims: &engine.dims,
        cfg: &engine.config,
        who,
    };
    let body = match answer {
        Answer::Detail(row, related) => shaper.occurrence(&row, &related),
        Answer::List(page, related) => {
            let results: Vec<Value> = page
                .rows
                .iter()
                .map(|r| shaper.occurrence(r, &related))
                .collect();
            let (limit, offset, count) = (request.limit, request.offset, page.count);
            let next = (offset + limit < count)
                .then(|| request.page_url(&engine.config.api_base, Some(offset + limit)));
            let previous = (offset > 0).then(|| {
                let prev = offset.saturating_sub(limit);
                request.page_url(&engine.config.api_base, (prev > 0).then_some(prev))
            });
            let mut m = Map::new();
            m.insert("count".into(), json!(count));
            m.insert("next".into(), json!(next));
            m.insert("previous".into(), json!(previous));
            m.insert("results".into(), Value::Array(results));
            m.insert("user_permissions".into(), shaper.envelope_permissions());
            Value::Object(m)
        }
    };
    Ok(Response { status: 200, body })
}
