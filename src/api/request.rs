//! Parsing an Antenna API request (`/api/v2/occurrences/...?...`) into a typed request, with
//! Antenna's parameter quirks and error statuses (spec §5.2–§5.6).

use serde_json::{json, Value};

/// Who is asking: decides visibility and `user_permissions` (spec §4.5, §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Requester {
    #[default]
    Anonymous,
    /// A superuser, optionally with its user id (for `verified_by_me` and own identifications).
    Superuser(Option<i64>),
    User(i64),
}

impl Requester {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Requester::Anonymous => None,
            Requester::Superuser(id) => *id,
            Requester::User(id) => Some(*id),
        }
    }
}

/// As `--as` spells it: `anonymous`, `superuser[:<id>]`, `user:<id>`.
impl std::fmt::Display for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Requester::Anonymous => f.write_str("anonymous"),
            Requester::Superuser(None) => f.write_str("superuser"),
            Requester::Superuser(Some(id)) => write!(f, "superuser:{id}"),
            Requester::User(id) => write!(f, "user:{id}"),
        }
    }
}

/// The user id of `who` that the snapshot's `users_user` does not hold: Antenna
/// authenticates no such requester (a token of a deleted user is "Invalid token.").
pub async fn unknown_user(
    engine: &crate::engine::Engine,
    who: &Requester,
) -> crate::error::Result<Option<i64>> {
    let Some(id) = who.user_id() else {
        return Ok(None);
    };
    Ok((!engine.dims().await?.users.contains_key(&id)).then_some(id))
}

/// `who` (given as `what`: `--as`, a batch line's `as_user`) a requester the snapshot holds,
/// else a usage error naming it: answers for a user who does not exist would be computed as
/// for a user without memberships, silently.
pub async fn ensure_known(
    engine: &crate::engine::Engine,
    who: &Requester,
    what: &str,
) -> crate::error::Result<()> {
    match unknown_user(engine, who).await? {
        None => Ok(()),
        Some(id) => Err(crate::error::Error::Usage(format!(
            "{what} {who}: the snapshot's users_user holds no user {id} (expected anonymous, superuser, or the id of one of its users)"
        ))),
    }
}

impl std::str::FromStr for Requester {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "anonymous" => Ok(Requester::Anonymous),
            "superuser" => Ok(Requester::Superuser(None)),
            _ if s.starts_with("superuser:") => s["superuser:".len()..]
                .parse()
                .map(|id| Requester::Superuser(Some(id)))
                .map_err(|_| format!("invalid requester {s:?}: expected superuser:<user id>")),
            _ => s
                .strip_prefix("user:")
                .and_then(|id| id.parse().ok())
                .map(Requester::User)
                .ok_or_else(|| format!("invalid requester {s:?}: expected anonymous, superuser[:<id>] or user:<id>")),
        }
    }
}

/// An HTTP error answer, with the body Antenna (DRF) gives.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

impl ApiError {
    pub fn field(field: &str, message: &str) -> ApiError {
        ApiError {
            status: 400,
            body: json!({ field: [message] }),
        }
    }
    pub fn not_found() -> ApiError {
        ApiError {
            status: 404,
            body: json!({"detail": "Not found."}),
        }
    }
    pub fn detail(status: u16, message: String) -> ApiError {
        ApiError {
            status,
            body: json!({ "detail": message }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint {
    List,
    Detail(i64),
    /// `/api/v2/occurrences/algorithms/` (spec §5.8)
    Algorithms,
}

/// The 12 ordering fields of spec §5.5.
pub const ORDERING_FIELDS: &[&str] = &[
    "created_at",
    "updated_at",
    "event__start",
    "first_appearance_timestamp",
    "first_appearance_time",
    "duration",
    "deployment",
    "determination",
    "determination__name",
    "determination_score",
    "event",
    "detections_count",
];

pub const RANKS: &[&str] = &[
    "KINGDOM",
    "PHYLUM",
    "CLASS",
    "ORDER",
    "SUPERFAMILY",
    "FAMILY",
    "SUBFAMILY",
    "TRIBE",
    "SUBTRIBE",
    "GENUS",
    "SPECIES",
    "UNKNOWN",
];

pub const DEFAULT_LIMIT: usize = 20;

/// A parsed request. Filters hold validated values; existence checks against the snapshot
/// (project, event, taxon, …) happen when the request is run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    pub path: String,
    /// The query string's pairs, in request order (for `next`/`previous`).
    pub params: Vec<(String, String)>,
    pub project_id: Option<i64>,
    pub apply_defaults: bool,
    pub event: Option<i64>,
    pub deployment: Option<i64>,
    pub rank: Option<String>,
    pub source_image: Option<i64>,
    pub taxon: Option<i64>,
    pub collection: Option<i64>,
    pub algorithms: Vec<i64>,
    pub not_algorithms: Vec<i64>,
    pub date_start: Option<chrono::NaiveDate>,
    pub date_end: Option<chrono::NaiveDate>,
    pub verified: Option<bool>,
    pub verified_by_me: Option<bool>,
    pub taxa_list: Option<i64>,
    pub not_taxa_list: Option<i64>,
    /// (field, descending)
    pub ordering: Vec<(String, bool)>,
    pub limit: usize,
    pub offset: usize,
}

/// The project of `url` when it is an occurrence list of one project (`project_id` as the
/// request reads it, and one the list filters on): the requests a project's entry of the
/// cache answers.
pub fn list_project(url: &str) -> Option<i64> {
    match parse(url) {
        // Antenna filters by a project only when its id is truthy (`project_id=0`: every
        // project's occurrences).
        Ok((Endpoint::List, request)) => request.project_id.filter(|&p| p > 0),
        _ => None,
    }
}

/// The occurrence of `url` when it is an occurrence's detail (`/api/v2/occurrences/12/`).
pub fn detail_id(url: &str) -> Option<i64> {
    match parse(url) {
        Ok((Endpoint::Detail(id), _)) => Some(id),
        _ => None,
    }
}

/// Split `/api/v2/occurrences/12/?a=b` into the endpoint and the parsed request.
pub fn parse(url: &str) -> Result<(Endpoint, Request), ApiError> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let rest = path
        .strip_prefix("/api/v2/occurrences")
        .ok_or_else(ApiError::not_found)?;
    // Django's URL patterns: one slash between segments (`occurrences//` and `occurrences5`
    // are no route).
    let rest = match rest.strip_prefix('/') {
        Some(r) => r,
        None if rest.is_empty() => rest,
        None => return Err(ApiError::not_found()),
    };
    let mut segments: Vec<&str> = rest.split('/').collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Err(ApiError::not_found());
    }
    let rest = segments.join("/");
    let rest = rest.as_str();
    let endpoint = if rest.is_empty() {
        Endpoint::List
    } else if rest == "algorithms" {
        Endpoint::Algorithms
    } else {
        // The router's `<pk>` as the lookup reads it: Python's `int()` of the decoded segment.
        crate::api::params::path_id(rest)
            .map(Endpoint::Detail)
            .ok_or_else(ApiError::not_found)?
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let request = Request::from_params(path.to_string(), params, &endpoint)?;
    Ok((endpoint, request))
}

pub use crate::api::params::boolish;

/// Django's `QueryDict.get`: the last value of a key.
fn last<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn int(params: &[(String, String)], key: &str, message: &str) -> Result<Option<i64>, ApiError> {
    match last(params, key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::field(key, message)),
    }
}

/// A ModelChoiceFilter's id (`event`, `deployment`, `detections__source_image`): empty is
/// absent; otherwise Python's `int()` of the text as the pk lookup reads it (`" 5 "`, `5_0`,
/// `٥`); text that is no integer, or beyond 64 bits (no such row), is Django's invalid choice.
fn choice(params: &[(String, String)], key: &str) -> Result<Option<i64>, ApiError> {
    match last(params, key) {
        None | Some("") => Ok(None),
        Some(v) => crate::api::params::py_int(v)
            .and_then(|i| i.int())
            .map(Some)
            .ok_or_else(|| ApiError::field(key, CHOICE)),
    }
}

const CHOICE: &str = "Select a valid choice. That choice is not one of the available choices.";
const INTEGER: &str = "A valid integer is required.";
/// DRF's `DateField` message (DateRangeFilterSerializer).
const DATE: &str = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";

impl Request {
    pub fn from_params(
        path: String,
        params: Vec<(String, String)>,
        endpoint: &Endpoint,
    ) -> Result<Request, ApiError> {
        let p = &params;
        // `get_active_project`: the list requires it (400); the detail and the algorithms
        // action take it when given (the action's own 400 is `answer::algorithms`'s).
        let project_id = match (
            crate::api::params::project_id_value(last(p, "project_id"))?,
            endpoint,
        ) {
            (None, Endpoint::List) => {
                return Err(ApiError::field("project_id", "This field is required."))
            }
            (id, _) => id,
        };
        let apply_defaults = last(p, "apply_defaults")
            .filter(|v| !v.is_empty())
            .is_none_or(boolish);
        let rank = match last(p, "determination__rank") {
            None | Some("") => None,
            Some(r) if RANKS.contains(&r) => Some(r.to_string()),
            Some(r) => {
                return Err(ApiError::field(
                    "determination__rank",
                    &format!("Select a valid choice. {r} is not one of the available choices."),
                ))
            }
        };
        let taxon_key = if last(p, "determination").is_some_and(|v| !v.is_empty()) {
            "determination"
        } else {
            "taxon"
        };
        let collection_key = if last(p, "collection_id").is_some_and(|v| !v.is_empty()) {
            "collection_id"
        } else {
            "collection"
        };
        let ids = |key: &str| -> Result<Vec<i64>, ApiError> {
            p.iter()
                .filter(|(k, v)| k == key && !v.is_empty())
                .map(|(_, v)| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ApiError::field(key, CHOICE))
                })
                .collect()
        };
        // DateRangeFilterSerializer: each date validated, both errors reported together; an
        // empty value is absent.
        let mut bad_dates = serde_json::Map::new();
        let mut date = |key: &str| match last(p, key) {
            None | Some("") => None,
            Some(v) => crate::api::endpoints::events_params::django_parse_date(v)
                .ok_or_else(|| bad_dates.insert(key.to_string(), json!([DATE])))
                .ok(),
        };
        let (date_start, date_end) = (date("date_start"), date("date_end"));
        if !bad_dates.is_empty() {
            return Err(ApiError {
                status: 400,
                body: Value::Object(bad_dates),
            });
        }
        if let (Some(s), Some(e)) = (date_start, date_end) {
            if s > e {
                return Err(ApiError::field(
                    "date_start",
                    "Start date must be before end date",
                ));
            }
        }
        // `verified` applies whenever the key is present; an empty value counts as false.
        let present_bool = |key: &str| last(p, key).map(|v| !v.is_empty() && boolish(v));
        let ordering = crate::api::params::ordering_terms(last(p, "ordering"), ORDERING_FIELDS)
            .into_iter()
            .map(|(field, desc)| (field.to_string(), desc))
            .collect();
        // DRF's `_positive_int`: Python's `int()` of the text (`+5`, `5_0`), else the default.
        let limit = crate::api::params::limit_value(last(p, "limit"), DEFAULT_LIMIT);
        let offset = crate::api::params::offset_value(last(p, "offset"));
        Ok(Request {
            project_id,
            apply_defaults,
            event: choice(p, "event")?,
            deployment: choice(p, "deployment")?,
            rank,
            source_image: choice(p, "detections__source_image")?,
            taxon: int(p, taxon_key, INTEGER)?,
            collection: int(p, collection_key, INTEGER)?.filter(|&c| c != 0),
            algorithms: ids("algorithm")?,
            not_algorithms: ids("not_algorithm")?,
            date_start,
            date_end,
            verified: present_bool("verified"),
            verified_by_me: present_bool("verified_by_me"),
            taxa_list: int(p, "taxa_list_id", INTEGER)?,
            not_taxa_list: int(p, "not_taxa_list_id", INTEGER)?,
            ordering,
            limit,
            offset,
            path,
            params,
        })
    }

    /// The request's path and parameters, for its page links (spec §5.6).
    pub fn params(&self) -> crate::api::params::Params {
        crate::api::params::Params {
            path: self.path.clone(),
            pairs: self.params.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(q: &str) -> Result<Request, ApiError> {
        parse(&format!("/api/v2/occurrences/?{q}")).map(|(_, r)| r)
    }

    #[test]
    fn project_id_is_required_for_lists_only() {
        assert_eq!(list("limit=5").unwrap_err().status, 400);
        assert_eq!(list("project_id=abc").unwrap_err().status, 400);
        assert_eq!(list("project_id=-1").unwrap_err().status, 400);
        let (e, r) = parse("/api/v2/occurrences/12/").unwrap();
        assert_eq!((e, r.project_id), (Endpoint::Detail(12), None));
    }

    #[test]
    fn bool_parsing_follows_django() {
        for (v, expected) in [
            ("false", false),
            ("False", false),
            ("0", false),
            ("true", true),
            ("1", true),
            ("maybe", true),
            ("", true),
        ] {
            assert_eq!(
                list(&format!("project_id=1&apply_defaults={v}"))
                    .unwrap()
                    .apply_defaults,
                expected,
                "{v}"
            );
        }
        assert_eq!(
            list("project_id=1&verified=").unwrap().verified,
            Some(false)
        );
        assert_eq!(
            list("project_id=1&verified=maybe").unwrap().verified,
            Some(true)
        );
        assert_eq!(list("project_id=1").unwrap().verified, None);
    }

    #[test]
    fn limit_and_offset_fall_back() {
        let r = list("project_id=1&limit=0&offset=-1").unwrap();
        assert_eq!((r.limit, r.offset), (20, 0));
        let r = list("project_id=1&limit=abc&offset=x").unwrap();
        assert_eq!((r.limit, r.offset), (20, 0));
    }

    #[test]
    fn ordering_keeps_valid_terms() {
        let r = list("project_id=1&ordering=-determination_score,bogus,id,event").unwrap();
        assert_eq!(
            r.ordering,
            vec![
                ("determination_score".into(), true),
                ("event".into(), false)
            ]
        );
    }

    #[test]
    fn project_id_limit_and_offset_are_read_as_drf_reads_them() {
        for (query, project, limit, offset) in [
            ("project_id=1.0", 1, 20, 0),
            ("project_id=+2&limit=5_0&offset=%203%20", 2, 50, 3),
            ("project_id=3&limit=1.0&offset=x", 3, 20, 0),
            ("project_id=%201%20&limit=-5&offset=-1", 1, 20, 0),
            // Beyond i64: kept (Python's int; Antenna sets no maximum).
            (
                "project_id=1&limit=99999999999999999999&offset=2",
                1,
                crate::api::params::PAST_END,
                2,
            ),
            ("project_id=1&limit=-99999999999999999999", 1, 20, 0),
        ] {
            let r = list(query).unwrap();
            assert_eq!(
                (r.project_id, r.limit, r.offset),
                (Some(project), limit, offset),
                "{query}"
            );
        }
        for query in [
            "project_id=1.5",
            "project_id=1__0",
            "project_id=x",
            "project_id=%20",
        ] {
            let e = list(query).unwrap_err();
            assert_eq!(
                (e.status, e.body),
                (400, json!({"project_id": [INTEGER]})),
                "{query}"
            );
        }
        // IntegerField(min_value=0): below 0 is its own message; beyond 64 bits is an integer
        // naming no project (404 later), not a 400.
        let e = list("project_id=-1").unwrap_err();
        assert_eq!(
            e.body,
            json!({"project_id": ["Ensure this value is greater than or equal to 0."]})
        );
        let big = list("project_id=123456789012345678901234567890").unwrap();
        assert_eq!(big.project_id, Some(i64::MAX));
        let e = list("project_id=").unwrap_err();
        assert_eq!(e.body, json!({"project_id": ["This field is required."]}));
    }

    #[test]
    fn choice_ids_are_read_as_pythons_int() {
        let r = list("project_id=1&event=%205%20&deployment=1_0&detections__source_image=%D9%A5")
            .unwrap();
        assert_eq!(
            (r.event, r.deployment, r.source_image),
            (Some(5), Some(10), Some(5))
        );
        for bad in [
            "event=5.0",
            "event=%20",
            "deployment=x",
            "event=99999999999999999999",
        ] {
            let e = list(&format!("project_id=1&{bad}")).unwrap_err();
            let key = bad.split('=').next().unwrap();
            assert_eq!((e.status, e.body), (400, json!({ key: [CHOICE] })), "{bad}");
        }
        assert_eq!(list("project_id=1&event=").unwrap().event, None);
    }

    #[test]
    fn dates_are_validated_as_drf_does() {
        let both = list("project_id=1&date_start=2023-13-01&date_end=yesterday").unwrap_err();
        let message = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";
        assert_eq!(
            (both.status, both.body),
            (400, json!({"date_start": [message], "date_end": [message]}))
        );
        // Empty is absent.
        assert!(list("project_id=1&date_start=&date_end=").is_ok());
    }

    #[test]
    fn dates_are_validated() {
        assert_eq!(
            list("project_id=1&date_start=2023-13-01")
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            list("project_id=1&date_start=2023-06-12&date_end=2023-06-11")
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn page_urls_sort_and_reencode() {
        let r = list("project_id=5&ordering=-event__start%2Cdetermination__name").unwrap();
        assert_eq!(
            r.params()
                .page_url("http://testserver", r.limit, Some("20".into())),
            "http://testserver/api/v2/occurrences/?limit=20&offset=20&ordering=-event__start%2Cdetermination__name&project_id=5"
        );
    }

    #[test]
    fn determination_wins_over_taxon_and_collection_id_over_collection() {
        let r = list("project_id=1&taxon=3&determination=4&collection=2&collection_id=0").unwrap();
        assert_eq!((r.taxon, r.collection), (Some(4), None));
    }
}
