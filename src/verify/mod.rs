//! `occlens verify`: recorded or live API responses checked against occlens's own answers for
//! the same URLs, with the comparison rules of [`compare`], `--ignore` patterns and a
//! report by endpoint and by field.

pub mod compare;

pub mod input;
pub mod live;
pub mod report;

use crate::api::request::Requester;
use crate::api::respond::get;
use crate::engine::Engine;
use crate::error::{Error, Result};
use compare::{compare_responses, compare_unordered_page, unordered_page, Mismatch, Rules};
use input::Recorded;
use serde_json::Value;
use std::collections::HashMap;

/// How responses are compared and who asked them.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub rules: Rules,
    /// JSON-pointer patterns (`*` matches one segment) removed from both sides first.
    pub ignore: Vec<String>,
    /// Emails of users that are superusers (the snapshot's users table does not say).
    pub superusers: Vec<String>,
    /// The requester of responses that do not name one.
    pub default_who: Requester,
}

/// The result of checking one response.
#[derive(Debug, Clone)]
pub struct Checked {
    pub url: String,
    pub endpoint: &'static str,
    pub mismatches: Vec<Mismatch>,
}

/// The endpoint a URL names, for the report.
pub fn endpoint_of(url: &str) -> &'static str {
    crate::api::route::label(url.split_once('?').map_or(url, |(path, _)| path))
}

/// An unordered request without its paging, and who asks it.
type WholeKey = (String, String);

/// Checks responses against one snapshot.
pub struct Verifier<'a> {
    engine: &'a Engine,
    options: VerifyOptions,
    users: HashMap<String, i64>,
    /// Whole results of unordered list requests (every page of a walk shares one).
    whole: std::sync::Mutex<HashMap<WholeKey, std::sync::Arc<Vec<Value>>>>,
}

impl<'a> Verifier<'a> {
    pub async fn new(engine: &'a Engine, options: VerifyOptions) -> Result<Self> {
        let rows = crate::engine::statements::rows(&engine.ctx, "SELECT id, email FROM users_user")
            .await?;
        let users = rows
            .iter()
            .filter_map(|r| {
                Some((
                    r.get("email")?.as_str()?.to_lowercase(),
                    r.get("id")?.as_i64()?,
                ))
            })
            .collect::<HashMap<String, i64>>();
        // A superuser mark for an email no user has (a typo) would compare that user's
        // responses as a plain user's, silently.
        if let Some(unknown) = options
            .superusers
            .iter()
            .find(|e| !users.contains_key(&e.to_lowercase()))
        {
            return Err(Error::Usage(format!(
                "--superuser {unknown}: no user with that email in the snapshot's users_user (expected the email of an as_user)"
            )));
        }
        Ok(Self {
            engine,
            options,
            users,
            whole: Default::default(),
        })
    }

    /// Who asked for `recorded` (its `as_user`, else `--as`).
    fn requester(&self, recorded: &Recorded) -> Result<Requester> {
        let Some(who) = recorded.as_user.as_deref() else {
            return Ok(self.options.default_who.clone());
        };
        if who == "anonymous" {
            return Ok(Requester::Anonymous);
        }
        let id = *self.users.get(&who.to_lowercase()).ok_or_else(|| {
            let origin = recorded
                .origin
                .as_deref()
                .map_or_else(String::new, |o| format!("{o}: "));
            Error::Usage(format!(
                "{origin}as_user {who}: no user with that email in the snapshot's users_user (expected an email or \"anonymous\")"
            ))
        })?;
        let superuser = self
            .options
            .superusers
            .iter()
            .any(|s| s.eq_ignore_ascii_case(who));
        Ok(if superuser {
            Requester::Superuser(Some(id))
        } else {
            Requester::User(id)
        })
    }

    /// Compute occlens's answer to `recorded.url` and compare.
    pub async fn check(&self, recorded: &Recorded) -> Result<Checked> {
        let who = self.requester(recorded)?;
        let ours = get(self.engine, &recorded.url, &who).await?;
        let mut expected = recorded.body.clone();
        let mut actual = ours.body;
        for pattern in &self.options.ignore {
            strip(&mut expected, pattern);
            strip(&mut actual, pattern);
        }
        let rules = self.options.rules;
        let mismatches =
            if recorded.status == 200 && ours.status == 200 && unordered_page(&recorded.url) {
                let all = self.whole_result(&recorded.url, &who).await?;
                compare_unordered_page(&expected, &actual, &all, rules)
            } else {
                compare_responses(
                    &recorded.url,
                    recorded.status,
                    &expected,
                    ours.status,
                    &actual,
                    rules,
                )
            };
        Ok(Checked {
            url: recorded.url.clone(),
            endpoint: endpoint_of(&recorded.url),
            mismatches,
        })
    }
}

impl Verifier<'_> {
    /// The rows of `url`'s whole result (no paging) as `who` sees them, `--ignore` applied;
    /// computed once per request and requester.
    async fn whole_result(&self, url: &str, who: &Requester) -> Result<std::sync::Arc<Vec<Value>>> {
        let key = (unpaged(url), format!("{who:?}"));
        if let Some(found) = self.whole.lock().expect("not poisoned").get(&key) {
            return Ok(found.clone());
        }
        let mut all = get(self.engine, &key.0, who).await?.body;
        for pattern in &self.options.ignore {
            strip(&mut all, pattern);
        }
        let rows = std::sync::Arc::new(all["results"].as_array().cloned().unwrap_or_default());
        self.whole
            .lock()
            .expect("not poisoned")
            .insert(key, rows.clone());
        Ok(rows)
    }
}

/// The same list request without its `limit` and `offset`, as one page holding every row.
fn unpaged(url: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("limit=") && !p.starts_with("offset="))
        .collect();
    params.push("limit=1000000000");
    format!("{path}?{}", params.join("&"))
}

/// Remove every value at `pattern` (a JSON pointer whose `*` segments match any key or index).
pub fn strip(value: &mut Value, pattern: &str) {
    let segments: Vec<String> = pattern
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    if !segments.is_empty() {
        strip_at(value, &segments);
    }
}

fn strip_at(value: &mut Value, segments: &[String]) {
    let (head, rest) = (&segments[0], &segments[1..]);
    match value {
        Value::Object(map) => {
            if rest.is_empty() {
                if head == "*" {
                    map.clear();
                } else {
                    map.shift_remove(head);
                }
            } else if head == "*" {
                map.values_mut().for_each(|v| strip_at(v, rest));
            } else if let Some(v) = map.get_mut(head) {
                strip_at(v, rest);
            }
        }
        Value::Array(items) => {
            if head == "*" {
                if rest.is_empty() {
                    items.clear();
                } else {
                    items.iter_mut().for_each(|v| strip_at(v, rest));
                }
            } else if let Ok(i) = head.parse::<usize>() {
                if rest.is_empty() {
                    if i < items.len() {
                        items[i] = Value::Null;
                    }
                } else if let Some(v) = items.get_mut(i) {
                    strip_at(v, rest);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strip_patterns() {
        let mut v = json!({"count": 2, "results": [{"id": 1, "updated_at": "a", "x": {"y": 1}},
                                                   {"id": 2, "updated_at": "b", "x": {"y": 2}}]});
        strip(&mut v, "/results/*/updated_at");
        strip(&mut v, "/results/1/x/y");
        assert_eq!(
            v,
            json!({"count": 2, "results": [{"id": 1, "x": {"y": 1}}, {"id": 2, "x": {}}]})
        );
    }

    #[test]
    fn whole_result_drops_paging() {
        assert_eq!(
            unpaged("/api/v2/occurrences/?project_id=1&limit=5&offset=10&verified=true"),
            "/api/v2/occurrences/?project_id=1&verified=true&limit=1000000000"
        );
    }
}
