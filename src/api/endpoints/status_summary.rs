//! `GET /api/v2/status/summary/?project_id=P`: Antenna's `SummaryView` (ami/main/api/views.py),
//! live counts of the project's objects each through `visible_for_user`, computed by the
//! fragment `status_summary.counts` of `queries/status_summary.sql`.
//!
//! Also the DRF reading of an integer parameter (`IntegerField.to_internal_value`) and of a
//! required `project_id` (`get_active_project` with `required=True`), which
//! `Endpoints::project` does with Rust's integer parsing instead.

use crate::api::endpoints::{Answer, Endpoints};
use crate::api::params::{Params, INTEGER};
use crate::api::request::{ApiError, Requester};
use crate::engine::catalog::Arg;
use crate::engine::rows::RowExt;
use crate::error::Result;
use serde_json::{Map, Value};

const COUNTS: [&str; 6] = [
    "projects_count",
    "deployments_count",
    "events_count",
    "captures_count",
    "occurrences_count",
    "taxa_count",
];

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> Answer {
    if !tail.is_empty() {
        return Ok(Err(ApiError::not_found()));
    }
    let project = match required_project(e).await? {
        Ok(p) => p,
        Err(err) => return Ok(Err(err)),
    };
    let superuser = matches!(e.who, Requester::Superuser(_));
    // `apply_default_filters(project, request)`: off only for apply_defaults=false/0.
    let defaults = if e.params.apply_defaults() {
        e.sql("defaults", &[("project", Arg::Int(project))])
    } else {
        "TRUE".to_string()
    };
    let visible = e.visible_projects();
    let sql = e.sql(
        "status_summary.counts",
        &[
            ("project", Arg::Int(project)),
            ("defaults", Arg::Sql(&defaults)),
            (
                "superuser",
                Arg::Sql(if superuser { "TRUE" } else { "FALSE" }),
            ),
            ("visible", Arg::Sql(&visible)),
        ],
    );
    let rows = e.rows(&sql).await?;
    let row = rows.first();
    let count = |key: &str| row.and_then(|r| r.i64(key)).unwrap_or(0);
    let mut body = Map::new();
    for key in COUNTS {
        body.insert(key.into(), Value::from(count(key)));
    }
    // The aliases: num_sessions, num_species, then num_<x> for every <x>_count.
    body.insert("num_sessions".into(), Value::from(count("events_count")));
    body.insert("num_species".into(), Value::from(count("taxa_count")));
    for key in COUNTS {
        let alias = format!("num_{}", key.trim_end_matches("_count"));
        body.insert(alias, Value::from(count(key)));
    }
    Ok(Ok(Value::Object(body)))
}

/// `get_active_project(required=True)` and `ProjectMixin`'s 404: absent or empty → 400
/// "This field is required."; not a DRF integer → 400; negative → 400 (min 0); 0 or no such
/// project → 404 `{"detail": "Not found."}`. Draft projects are not checked here.
pub(crate) async fn required_project(
    e: &Endpoints<'_>,
) -> Result<std::result::Result<i64, ApiError>> {
    let id = match project_id_param(e.params) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return Ok(Err(ApiError::field(
                "project_id",
                "This field is required.",
            )))
        }
        Err(err) => return Ok(Err(err)),
    };
    let Ok(id) = i64::try_from(id) else {
        return Ok(Err(ApiError::not_found()));
    };
    if id == 0 {
        return Ok(Err(ApiError::not_found()));
    }
    let sql = format!("SELECT id FROM main_project WHERE id = {id}");
    Ok(if e.rows(&sql).await?.is_empty() {
        Err(ApiError::not_found())
    } else {
        Ok(id)
    })
}

/// `project_id` as `get_active_project` validates it (`IntegerField(min_value=0)` over the
/// last value; an empty value counts as absent): `None` when absent.
pub(crate) fn project_id_param(params: &Params) -> std::result::Result<Option<i128>, ApiError> {
    let Some(raw) = params.given("project_id") else {
        return Ok(None);
    };
    let id = drf_int(raw).map_err(|m| ApiError::field("project_id", m))?;
    if id < 0 {
        return Err(ApiError::field(
            "project_id",
            "Ensure this value is greater than or equal to 0.",
        ));
    }
    Ok(Some(id))
}

/// DRF's `IntegerField.to_internal_value`: at most 1000 characters, a trailing `.0…` (and
/// whitespace) removed (`re_decimal`), then Python's `int()`. The error is DRF's message.
pub(crate) fn drf_int(raw: &str) -> std::result::Result<i128, &'static str> {
    if raw.chars().count() > 1000 {
        return Err("String value too large.");
    }
    let head = raw.trim_end_matches(char::is_whitespace);
    let without_zeros = head.trim_end_matches('0');
    let text = match without_zeros.strip_suffix('.') {
        Some(stem) => stem,
        None => raw,
    };
    py_int(text).ok_or(INTEGER)
}

/// Python's `int(text)` for a str: surrounding whitespace, one sign, ASCII digits with single
/// underscores between them. Values beyond i128 saturate.
pub(crate) fn py_int(text: &str) -> Option<i128> {
    let t = text.trim_matches(char::is_whitespace);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(10)? as i128;
        value = value.saturating_mul(10).saturating_add(d);
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drf_integers_follow_python_int_after_the_decimal_suffix() {
        for (raw, want) in [
            ("1", 1),
            ("1.0", 1),
            ("1.", 1),
            ("1.000  ", 1),
            (" 1 ", 1),
            ("+1", 1),
            ("1_0", 10),
            ("-1", -1),
        ] {
            assert_eq!(drf_int(raw), Ok(want), "{raw:?}");
        }
        for raw in [
            "abc", "1.5", "1e2", "", " ", ".0", "1__0", "_1", "1_", "--1", "1.0.0",
        ] {
            assert_eq!(drf_int(raw), Err(INTEGER), "{raw:?}");
        }
        assert_eq!(drf_int(&"1".repeat(1001)), Err("String value too large."));
    }

    #[test]
    fn project_id_negative_is_the_min_value_message_and_empty_is_absent() {
        let p = Params::parse("/api/v2/status/summary/?project_id=-1");
        let err = project_id_param(&p).unwrap_err();
        assert_eq!(
            err.body,
            serde_json::json!({"project_id": ["Ensure this value is greater than or equal to 0."]})
        );
        let p = Params::parse("/api/v2/status/summary/?project_id=2&project_id=");
        assert_eq!(project_id_param(&p), Ok(None));
        let p = Params::parse("/api/v2/status/summary/?project_id=2.0");
        assert_eq!(project_id_param(&p), Ok(Some(2)));
    }
}
