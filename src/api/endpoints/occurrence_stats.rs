//! `/api/v2/occurrences/stats/<kind>/`: Antenna's `OccurrenceStatsViewSet`
//! (ami/main/api/views.py) with its two kinds, `top-identifiers` (`top_identifiers_for_project`)
//! and `model-agreement` (`model_agreement_for_project`, ami/main/models_future/occurrence.py;
//! Wilson interval and Cohen's kappa of ami/utils/stats.py). SQL: queries/occurrence_stats.sql.
//!
//! Order of checks of both kinds: `project_id` (required, DRF `IntegerField(min_value=0)`:
//! 400; 0 or unknown: 404 "Not found."), then the project's visibility (404 "Project not
//! found."), then the kind's own parameters, then (model-agreement) the occurrence list's
//! filters, parsed and turned into SQL by the occurrence list's own code.

use crate::api::endpoints::{EndpointAnswer, Endpoints, Model, Order};
use crate::api::params::{drf_int, Params};
use crate::api::request::{ApiError, Endpoint, Request, RANKS};
use crate::engine::catalog::Arg;
use crate::engine::rows::RowExt;
use crate::render::pyfmt::py_round;
use serde_json::{json, Map, Value};

pub async fn get(e: &Endpoints<'_>, tail: &[&str]) -> EndpointAnswer {
    match tail {
        ["top-identifiers"] => top_identifiers(e).await,
        ["model-agreement"] => model_agreement(e).await,
        _ => Ok(Err(ApiError::not_found())),
    }
}

/// Neither kind is a paginated list: both bodies are compared as they are (top-identifiers'
/// list is `/top_identifiers`, ordered by `/identification_count` only).
pub fn order(_p: &Params, _tail: &[&str]) -> Option<Order> {
    None
}

const MIN_0: &str = "Ensure this value is greater than or equal to 0.";
const MIN_1: &str = "Ensure this value is greater than or equal to 1.";
const MAX_50: &str = "Ensure this value is less than or equal to 50.";

/// The stats' project: `get_active_project(required=True)` then the visibility check.
async fn project(e: &Endpoints<'_>) -> crate::error::Result<Result<i64, ApiError>> {
    let Some(raw) = e.params.given("project_id") else {
        return Ok(Err(ApiError::field(
            "project_id",
            "This field is required.",
        )));
    };
    let id = match drf_int(raw) {
        Err(message) => return Ok(Err(ApiError::field("project_id", message))),
        Ok(id) if id < 0 => return Ok(Err(ApiError::field("project_id", MIN_0))),
        // `if not project_id: return None`, then ProjectMixin's Http404.
        Ok(0) => return Ok(Err(ApiError::not_found())),
        Ok(id) => id,
    };
    let visible = e.visible_projects();
    let sql = e.sql(
        "occurrence_stats.project",
        &[("project", Arg::Int(id)), ("visible", Arg::Sql(&visible))],
    );
    let rows = e.rows(&sql).await?;
    let count = |key: &str| rows.first().and_then(|r| r.i64(key)).unwrap_or(0);
    Ok(if count("found") == 0 {
        Err(ApiError::not_found())
    } else if count("visible") == 0 {
        Err(ApiError::detail(404, "Project not found.".into()))
    } else {
        Ok(id)
    })
}

/// `limit`: `IntegerField(required=False, min_value=1, max_value=50, default=5)` read from the
/// QueryDict (last value; empty is absent).
fn limit(params: &Params) -> Result<i64, ApiError> {
    let Some(raw) = params.given("limit") else {
        return Ok(5);
    };
    match drf_int(raw) {
        Err(message) => Err(ApiError::field("limit", message)),
        Ok(l) if l < 1 => Err(ApiError::field("limit", MIN_1)),
        Ok(l) if l > 50 => Err(ApiError::field("limit", MAX_50)),
        Ok(l) => Ok(l),
    }
}

/// `GET /api/v2/occurrences/stats/top-identifiers/?project_id=P[&limit=N]`. Every other
/// parameter is ignored.
async fn top_identifiers(e: &Endpoints<'_>) -> EndpointAnswer {
    let p = match project(e).await? {
        Ok(p) => p,
        Err(err) => return Ok(Err(err)),
    };
    let limit = match limit(e.params) {
        Ok(l) => l,
        Err(err) => return Ok(Err(err)),
    };
    let sql = e.sql(
        "occurrence_stats.top_identifiers",
        &[("project", Arg::Int(p)), ("limit", Arg::Int(limit))],
    );
    let users: Vec<Value> = e
        .rows(&sql)
        .await?
        .iter()
        .map(|r| {
            // TopIdentifierSerializer: UserNestedSerializer fields.
            let mut user = Map::new();
            user.insert("id".into(), r.get("id").cloned().unwrap_or(Value::Null));
            user.insert("name".into(), r.get("name").cloned().unwrap_or(Value::Null));
            user.insert("image".into(), e.image(r.str("image")));
            user.insert(
                "identification_count".into(),
                json!(r.i64("identification_count").unwrap_or(0)),
            );
            user.insert("user_permissions".into(), e.permissions(Model::User, false));
            Value::Object(user)
        })
        .collect();
    Ok(Ok(json!({"project_id": p, "top_identifiers": users})))
}

/// `agreement_coarsest_rank`: upper-cased, then a `ChoiceField` of the real ranks (UNKNOWN
/// excluded) validated against a plain dict, so a blank value is an invalid choice too.
/// Returns the rank's name and depth (KINGDOM 0 … SPECIES 10).
fn coarsest_rank(params: &Params) -> Result<Option<(String, i64)>, ApiError> {
    let Some(raw) = params.last("agreement_coarsest_rank") else {
        return Ok(None);
    };
    let rank = raw.to_uppercase();
    match RANKS.iter().position(|r| *r == rank && *r != "UNKNOWN") {
        Some(depth) => Ok(Some((rank, depth as i64))),
        None => Err(ApiError::field(
            "agreement_coarsest_rank",
            &format!("\"{rank}\" is not a valid choice."),
        )),
    }
}

/// `GET /api/v2/occurrences/stats/model-agreement/?project_id=P&…`: the occurrence list's
/// filters (and default filters) select the occurrences; `ordering`, `limit`, `offset` and
/// `search` are ignored.
async fn model_agreement(e: &Endpoints<'_>) -> EndpointAnswer {
    let p = match project(e).await? {
        Ok(p) => p,
        Err(err) => return Ok(Err(err)),
    };
    let coarsest = match coarsest_rank(e.params) {
        Ok(r) => r,
        Err(err) => return Ok(Err(err)),
    };
    // The occurrence list's parsing, with `project_id` as resolved above (DRF accepts `1.0`).
    let mut pairs: Vec<(String, String)> = e
        .params
        .pairs
        .iter()
        .filter(|(k, _)| k != "project_id")
        .cloned()
        .collect();
    pairs.push(("project_id".into(), p.to_string()));
    let request = match Request::from_params(e.params.path.clone(), pairs, &Endpoint::List) {
        Ok(r) => r,
        Err(err) => return Ok(Err(uncaught(err))),
    };
    let where_clause = match e.engine.plan(&request, e.who, None).await? {
        Ok((where_clause, _order_by)) => where_clause,
        Err(err) => return Ok(Err(err)),
    };
    let verified = e.sql(
        "occurrence_stats.verified",
        &[
            ("keys", Arg::Name(e.engine.keys_view())),
            ("where", Arg::Sql(&where_clause)),
            ("project", Arg::Int(p)),
        ],
    );
    let depth = coarsest.as_ref().map_or(i64::MAX, |(_, d)| *d);
    let counts_sql = e.sql(
        "occurrence_stats.agreement",
        &[
            ("verified", Arg::Sql(&verified)),
            ("coarsest", Arg::Int(depth)),
        ],
    );
    let marginals_sql = e.sql(
        "occurrence_stats.marginals",
        &[("verified", Arg::Sql(&verified))],
    );
    let (counts, marginals) = futures::try_join!(e.rows(&counts_sql), e.rows(&marginals_sql))?;
    let count = |key: &str| counts.first().and_then(|r| r.i64(key)).unwrap_or(0);
    let marginals: Vec<(i64, i64)> = marginals
        .iter()
        .map(|r| (r.i64("a").unwrap_or(0), r.i64("b").unwrap_or(0)))
        .collect();
    let c = AgreementCounts {
        total: count("total"),
        verified: count("verified"),
        no_prediction: count("no_prediction"),
        without_taxon: count("without_taxon"),
        exact: count("exact"),
        with_lca: count("with_lca"),
        at_rank: count("at_rank"),
        pairs: count("pairs"),
    };
    Ok(Ok(agreement_body(
        p,
        &c,
        coarsest.map(|(name, _)| name),
        &marginals,
    )))
}

/// The counts of queries/occurrence_stats.sql `occurrence_stats.agreement`.
#[derive(Debug, Default, Clone, Copy)]
struct AgreementCounts {
    total: i64,
    verified: i64,
    no_prediction: i64,
    without_taxon: i64,
    exact: i64,
    with_lca: i64,
    at_rank: i64,
    pairs: i64,
}

/// The occurrence list's filters whose non-integer values Antenna does not validate: its
/// filter backends raise (a ValueError or a form's ValidationError), a 500. occlens's list
/// answers 400 for them (spec §9, item 17); model-agreement, which has no prose spec, keeps
/// Antenna's answer.
const UNCAUGHT: &[&str] = &[
    "taxon",
    "determination",
    "collection",
    "collection_id",
    "taxa_list_id",
    "not_taxa_list_id",
    "algorithm",
    "not_algorithm",
];

/// `err` as model-agreement gives it: a 400 on one of [`UNCAUGHT`] is Antenna's 500.
fn uncaught(err: ApiError) -> ApiError {
    let field = err
        .body
        .as_object()
        .and_then(|o| o.keys().find(|k| UNCAUGHT.contains(&k.as_str())).cloned());
    match (err.status, field) {
        (400, Some(field)) => ApiError::detail(
            500,
            format!("Server Error: {field} is not an integer (Antenna's filter raises)"),
        ),
        _ => err,
    }
}

/// The `ModelAgreementSerializer` body (field order of `model_agreement_for_project`'s payload,
/// `project_id` first as the serializer declares it).
fn agreement_body(
    p: i64,
    c: &AgreementCounts,
    rank: Option<String>,
    marginals: &[(i64, i64)],
) -> Value {
    let with_prediction = c.verified - c.no_prediction;
    let comparable = with_prediction - c.without_taxon;
    let any_rank = c.exact + c.with_lca;
    let coarser = c.exact + c.at_rank;
    let exact_ci = wilson_interval(c.exact, comparable);
    let any_ci = wilson_interval(any_rank, comparable);
    let ci = |ci: Option<(f64, f64)>, high: bool| {
        ci.map_or(Value::Null, |(l, h)| json!(if high { h } else { l }))
    };
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.into(), v);
    };
    put("project_id", json!(p));
    put("total_occurrences", json!(c.total));
    put("verified_count", json!(c.verified));
    put("verified_pct", json!(pct(c.verified, c.total)));
    put("verified_with_prediction_count", json!(with_prediction));
    put("no_prediction_count", json!(c.no_prediction));
    put("verified_without_taxon_count", json!(c.without_taxon));
    put("comparable_count", json!(comparable));
    put("agreed_exact_count", json!(c.exact));
    put("agreed_exact_pct", json!(pct(c.exact, comparable)));
    put("agreed_exact_ci_low", ci(exact_ci, false));
    put("agreed_exact_ci_high", ci(exact_ci, true));
    put("agreed_any_rank_count", json!(any_rank));
    put("agreed_any_rank_pct", json!(pct(any_rank, comparable)));
    put("agreed_any_rank_ci_low", ci(any_ci, false));
    put("agreed_any_rank_ci_high", ci(any_ci, true));
    put(
        "cohens_kappa",
        json!(cohens_kappa(c.pairs, c.exact, marginals)),
    );
    let with_rank = rank.is_some();
    put("agreement_coarsest_rank", json!(rank));
    put(
        "agreed_coarser_rank_count",
        if with_rank {
            json!(coarser)
        } else {
            Value::Null
        },
    );
    put(
        "agreed_coarser_rank_pct",
        if with_rank {
            json!(pct(coarser, comparable))
        } else {
            Value::Null
        },
    );
    Value::Object(m)
}

/// `_pct`: `round(num / denom, 4) if denom else 0.0`.
fn pct(num: i64, denom: i64) -> f64 {
    if denom == 0 {
        0.0
    } else {
        py_round(num as f64 / denom as f64, 4)
    }
}

/// `wilson_interval(successes, total)` (95%, z = 1.959963984540054), each bound rounded to 4
/// decimals; `None` when `total` is 0 (Antenna's operations, in its order).
fn wilson_interval(successes: i64, total: i64) -> Option<(f64, f64)> {
    const Z: f64 = 1.959963984540054;
    if total <= 0 {
        return None;
    }
    let n = total as f64;
    let phat = successes as f64 / n;
    let z2 = Z * Z;
    let denom = 1.0 + z2 / n;
    // 2n and 4n² in floating point: the same values as Python's exact integers rounded
    // once (scaling by 2 and 4 is exact), and no i64 overflow.
    let center = (phat + z2 / (2.0 * n)) / denom;
    let margin = (Z / denom) * (phat * (1.0 - phat) / n + z2 / (4.0 * n * n)).sqrt();
    let low = center - margin;
    let high = center + margin;
    // Python's max(0.0, x) / min(1.0, x): the first argument unless the second is beyond it.
    let low = if low > 0.0 { low } else { 0.0 };
    let high = if high < 1.0 { high } else { 1.0 };
    Some((py_round(low, 4), py_round(high, 4)))
}

/// `cohens_kappa` over `n` pairs of which `agree` are equal; `marginals` holds, per taxon in
/// ascending id order, how many pairs name it on each side. `None` without pairs or when the
/// expected agreement is 1.
fn cohens_kappa(n: i64, agree: i64, marginals: &[(i64, i64)]) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let observed = agree as f64 / nf;
    let expected: f64 = marginals
        .iter()
        .fold(0.0, |sum, &(a, b)| sum + (a as f64 / nf) * (b as f64 / nf));
    if expected >= 1.0 {
        return None;
    }
    Some(py_round((observed - expected) / (1.0 - expected), 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::params::INTEGER;

    #[test]
    fn limit_is_validated_not_clamped() {
        let limit_of = |q: &str| limit(&Params::parse(&format!("/x/?project_id=1&{q}")));
        assert_eq!(limit_of(""), Ok(5));
        assert_eq!(limit_of("limit="), Ok(5));
        assert_eq!(limit_of("limit=50&limit=2"), Ok(2));
        assert_eq!(limit_of("limit=2.0"), Ok(2));
        assert_eq!(limit_of("limit=0"), Err(ApiError::field("limit", MIN_1)));
        assert_eq!(limit_of("limit=51"), Err(ApiError::field("limit", MAX_50)));
        assert_eq!(
            limit_of("limit=abc"),
            Err(ApiError::field("limit", INTEGER))
        );
    }

    #[test]
    fn coarsest_rank_is_case_insensitive_and_blank_is_invalid() {
        let rank_of = |q: &str| coarsest_rank(&Params::parse(&format!("/x/?{q}")));
        assert_eq!(rank_of("a=1"), Ok(None));
        assert_eq!(
            rank_of("agreement_coarsest_rank=family"),
            Ok(Some(("FAMILY".into(), 5)))
        );
        assert_eq!(
            rank_of("agreement_coarsest_rank=species"),
            Ok(Some(("SPECIES".into(), 10)))
        );
        let invalid = |shown: &str| {
            Err(ApiError::field(
                "agreement_coarsest_rank",
                &format!("\"{shown}\" is not a valid choice."),
            ))
        };
        assert_eq!(rank_of("agreement_coarsest_rank="), invalid(""));
        assert_eq!(
            rank_of("agreement_coarsest_rank=unknown"),
            invalid("UNKNOWN")
        );
        assert_eq!(rank_of("agreement_coarsest_rank=bogus"), invalid("BOGUS"));
    }

    #[test]
    fn agreement_without_comparable_rows_has_zero_rates_and_null_intervals() {
        let c = AgreementCounts {
            total: 10,
            verified: 2,
            no_prediction: 1,
            without_taxon: 1,
            ..AgreementCounts::default()
        };
        let body = agreement_body(3, &c, None, &[]);
        assert_eq!(body["verified_pct"], json!(0.2));
        assert_eq!(body["comparable_count"], json!(0));
        assert_eq!(body["agreed_exact_pct"], json!(0.0));
        assert!(body["agreed_exact_pct"].is_f64());
        assert_eq!(body["agreed_exact_ci_low"], Value::Null);
        assert_eq!(body["cohens_kappa"], Value::Null);
        assert_eq!(body["agreed_coarser_rank_count"], Value::Null);
    }

    #[test]
    fn wilson_and_kappa_follow_antenna() {
        // Python's wilson_interval gives these.
        assert_eq!(wilson_interval(42, 131), Some((0.2468, 0.4047)));
        assert_eq!(wilson_interval(0, 3), Some((0.0, 0.5615)));
        assert_eq!(wilson_interval(3, 3), Some((0.4385, 1.0)));
        // One category on both sides: expected agreement 1, kappa undefined.
        assert_eq!(cohens_kappa(4, 4, &[(4, 4)]), None);
        // One disagreeing pair: observed 0, expected 0.
        assert_eq!(cohens_kappa(1, 0, &[(1, 0), (0, 1)]), Some(0.0));
    }
}
