//! What the taxon detail reads from its query parameters besides `project_id` (Antenna
//! 731cc2a2 ami/main/api/views.py): `TaxonViewSet.get_occurrence_filters` (the occurrence
//! scope of the counts, with a project only) and the filter backends, which DRF's
//! `get_object` also runs on a detail: DjangoFilterBackend (`filterset_fields`),
//! SearchFilter, CustomTaxonFilter, TaxonTaxaListFilter, TaxonBestScoreFilter and the two tag
//! filters. Their errors come in this order; each backend only narrows the queryset, so a
//! taxon it excludes is a 404 of the final lookup.

use crate::api::endpoints::Endpoints;
use crate::api::params::drf_integer_text;
use crate::api::params::{py_int, PyInt};
use crate::api::request::{ApiError, RANKS};
use crate::engine::catalog::Arg;
use crate::error::Result;
use serde_json::{json, Map, Value};

pub(super) type Reply<T> = Result<std::result::Result<T, ApiError>>;

pub(super) use crate::api::params::py_space;

/// Python's `str.strip()`.
pub(super) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// A 500 of Antenna (an exception DRF does not turn into a 4xx; the body is Django's page).
pub(super) fn server_error(what: String) -> ApiError {
    ApiError::detail(500, format!("Server Error: {what}"))
}

/// What `Model.objects.get(id=v)` finds.
enum Found {
    Row(i64),
    Missing,
    /// `int(v)` fails: Django raises ValueError.
    NotAnInteger,
}

async fn lookup(e: &Endpoints<'_>, table: &str, v: &str) -> Result<Found> {
    let id = match py_int(v) {
        None => return Ok(Found::NotAnInteger),
        // PostgreSQL compares a bigint with a wider numeric literal: no row.
        Some(PyInt::Big) => return Ok(Found::Missing),
        Some(PyInt::Int(id)) => id,
    };
    let sql = e.sql(
        "taxa_detail.exists",
        &[("table", Arg::Name(table)), ("id", Arg::Int(id))],
    );
    Ok(if e.rows(&sql).await?.is_empty() {
        Found::Missing
    } else {
        Found::Row(id)
    })
}

/// The occurrence scope of a detail with project P (`get_occurrence_filters`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scope {
    /// Conditions over `main_occurrence o` beyond project and event, AND-ed (`TRUE`).
    pub occ_filters: String,
    /// `collection=C`: counts and example over occurrences with a detection on a capture of C.
    pub collection: Option<i64>,
}

/// `get_occurrence_filters(project)`: `occurrence`, `deployment` (else
/// `occurrences__deployment`), `event` (else `occurrences__event`), `collection`, each used
/// when non-empty and checked with `Model.objects.get(id=v)`: 404 "<Model> matching query does
/// not exist." for the first missing one, 500 for a non-integer.
pub(super) async fn occurrence_scope(e: &Endpoints<'_>) -> Reply<Scope> {
    let p = e.params;
    let params = [
        (
            p.given("occurrence"),
            "Occurrence",
            "main_occurrence",
            Some("o.id"),
        ),
        (
            p.given("deployment")
                .or_else(|| p.given("occurrences__deployment")),
            "Deployment",
            "main_deployment",
            Some("o.deployment_id"),
        ),
        (
            p.given("event").or_else(|| p.given("occurrences__event")),
            "Event",
            "main_event",
            Some("o.event_id"),
        ),
        (
            p.given("collection"),
            "SourceImageCollection",
            "main_sourceimagecollection",
            None,
        ),
    ];
    let mut conditions = vec!["TRUE".to_string()];
    let mut collection = None;
    for (value, model, table, column) in params {
        let Some(v) = value else { continue };
        let id = match lookup(e, table, v).await? {
            Found::Row(id) => id,
            Found::Missing => {
                return Ok(Err(ApiError::detail(
                    404,
                    format!("{model} matching query does not exist."),
                )))
            }
            Found::NotAnInteger => {
                return Ok(Err(server_error(format!(
                    "{model} id {v:?} is not an integer"
                ))))
            }
        };
        match column {
            Some(c) => conditions.push(format!("{c} = {id}")),
            None => collection = Some(id),
        }
    }
    Ok(Ok(Scope {
        occ_filters: conditions.join(" AND "),
        collection,
    }))
}

/// The taxon-level conditions of the filter backends.
#[derive(Debug, Default)]
pub(super) struct Filters {
    /// Conditions over `main_taxon t` (and its parent `p`).
    pub conditions: Vec<String>,
    /// TaxonBestScoreFilter: `best_determination_score >= v` on the annotation.
    pub best_min: Option<f64>,
}

const CHOICE: &str = "Select a valid choice. That choice is not one of the available choices.";

/// The backends after `get_queryset`, in their order. `project`: the active project (the
/// best-score annotation exists only with one).
pub(super) async fn filters(e: &Endpoints<'_>, project: Option<i64>) -> Reply<Filters> {
    let mut f = Filters::default();
    if let Err(err) = filterset(e, &mut f.conditions).await? {
        return Ok(Err(err));
    }
    search(e, &mut f.conditions);
    if let Err(err) = taxon(e, &mut f.conditions).await? {
        return Ok(Err(err));
    }
    if let Err(err) = taxa_lists(e, &mut f.conditions).await? {
        return Ok(Err(err));
    }
    match best_score(e.params.last("best_determination_score")) {
        Err(err) => return Ok(Err(err)),
        Ok(None) => {}
        // Without a project the field is not an annotation: FieldError.
        Ok(Some(_)) if project.is_none() => {
            return Ok(Err(server_error(
                "best_determination_score is not a field".into(),
            )))
        }
        Ok(Some(v)) => f.best_min = Some(v),
    }
    match super::taxa_list_params::tag_conditions(e) {
        Ok(tags) => f.conditions.extend(tags),
        Err(raw) => return Ok(Err(server_error(format!("{raw:?} is not an integer")))),
    }
    Ok(Ok(f))
}

/// DjangoFilterBackend: the filterset form over `name, rank, parent, occurrences__event,
/// occurrences__deployment, occurrences__project, projects`; every invalid field in one 400.
async fn filterset(e: &Endpoints<'_>, conditions: &mut Vec<String>) -> Reply<()> {
    let p = e.params;
    let mut errors = Map::new();
    // CharFilter: forms.CharField strips; empty means no filter.
    if let Some(name) = p.last("name").map(py_strip).filter(|s| !s.is_empty()) {
        if name.contains('\0') {
            errors.insert("name".into(), json!(["Null characters are not allowed."]));
        } else {
            conditions.push(e.sql("taxa_detail.name", &[("value", Arg::Str(name))]));
        }
    }
    if let Some(rank) = p.given("rank") {
        if RANKS.contains(&rank) {
            conditions.push(e.sql("taxa_detail.rank", &[("value", Arg::Str(rank))]));
        } else {
            let msg = format!("Select a valid choice. {rank} is not one of the available choices.");
            errors.insert("rank".into(), json!([msg]));
        }
    }
    let choices = [
        ("parent", "main_taxon", None),
        ("occurrences__event", "main_event", Some("event_id")),
        (
            "occurrences__deployment",
            "main_deployment",
            Some("deployment_id"),
        ),
        ("occurrences__project", "main_project", Some("project_id")),
    ];
    for (key, table, column) in choices {
        let Some(v) = p.given(key) else { continue };
        match lookup(e, table, v).await? {
            Found::Row(id) => conditions.push(match column {
                None => e.sql("taxa_detail.parent", &[("id", Arg::Int(id))]),
                Some(c) => e.sql(
                    "taxa_detail.occurrences_of",
                    &[("column", Arg::Name(c)), ("id", Arg::Int(id))],
                ),
            }),
            Found::Missing | Found::NotAnInteger => {
                errors.insert(key.into(), json!([CHOICE]));
            }
        }
    }
    let projects = p.all("projects");
    if !projects.is_empty() {
        match super::taxa_list_params::projects(e, &projects).await? {
            Ok(ids) => {
                let ids = ids.as_slice();
                conditions.push(e.sql("taxa_detail.projects", &[("ids", Arg::Ints(ids))]));
            }
            Err(msg) => {
                errors.insert("projects".into(), json!([msg]));
            }
        }
    }
    Ok(if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError {
            status: 400,
            body: Value::Object(errors),
        })
    })
}

/// SearchFilter: `search` with NULs removed and commas as spaces, split on whitespace; every
/// term must match `name` or the parent's name (icontains).
fn search(e: &Endpoints<'_>, conditions: &mut Vec<String>) {
    let Some(value) = e.params.last("search") else {
        return;
    };
    let value = value.replace('\0', "").replace(',', " ");
    for term in value.split(py_space).filter(|t| !t.is_empty()) {
        conditions.push(e.sql("taxa_detail.search_term", &[("term", Arg::Str(term))]));
    }
}

/// CustomTaxonFilter: `taxon=X` keeps X and its descendants; an unknown X is a 404
/// "No taxon found with id X", a non-integer a 500.
async fn taxon(e: &Endpoints<'_>, conditions: &mut Vec<String>) -> Reply<()> {
    let Some(v) = e.params.given("taxon") else {
        return Ok(Ok(()));
    };
    Ok(match lookup(e, "main_taxon", v).await? {
        Found::Row(id) => {
            conditions.push(e.sql("taxa_detail.subtree", &[("id", Arg::Int(id))]));
            Ok(())
        }
        Found::Missing => Err(ApiError::detail(404, format!("No taxon found with id {v}"))),
        Found::NotAnInteger => Err(server_error(format!("taxon {v:?} is not an integer"))),
    })
}

/// `django.forms.IntegerField(required=False).clean`: empty is `None`; a trailing `.0…` is
/// dropped; anything `int()` refuses raises ValidationError (a 500 here).
fn form_int(v: Option<&str>) -> std::result::Result<Option<PyInt>, ()> {
    match v {
        None | Some("") => Ok(None),
        Some(v) => py_int(drf_integer_text(v)).map(Some).ok_or(()),
    }
}

/// TaxonTaxaListFilter: `taxa_list_id` keeps the list's taxa (and their descendants unless
/// `include_descendants` is false), `not_taxa_list_id` removes them; a list id that is 0 or
/// names no list is ignored, a non-integer is a 500.
async fn taxa_lists(e: &Endpoints<'_>, conditions: &mut Vec<String>) -> Reply<()> {
    let p = e.params;
    let mut lists = Vec::new();
    for (key, negate) in [("taxa_list_id", false), ("not_taxa_list_id", true)] {
        match form_int(p.last(key)) {
            Err(()) => return Ok(Err(server_error(format!("{key} is not an integer")))),
            Ok(Some(PyInt::Int(id))) if id != 0 => lists.push((id, negate)),
            Ok(_) => {}
        }
    }
    // forms.BooleanField: absent is true; "false"/"0" (any case) and "" are false.
    let descendants = p
        .last("include_descendants")
        .is_none_or(|v| !(v.is_empty() || v.eq_ignore_ascii_case("false") || v == "0"));
    let members = if descendants {
        "taxa_list_members"
    } else {
        "main_taxalist_taxa"
    };
    for (id, negate) in lists {
        if !matches!(
            lookup(e, "main_taxalist", &id.to_string()).await?,
            Found::Row(_)
        ) {
            continue;
        }
        let cond = e.sql(
            "taxa_detail.in_taxa_list",
            &[("members", Arg::Name(members)), ("list", Arg::Int(id))],
        );
        conditions.push(if negate {
            format!("NOT ({cond})")
        } else {
            cond
        });
    }
    Ok(Ok(()))
}

/// ThresholdFilter (`django.forms.FloatField(required=False).clean`): empty is no filter, so is
/// 0 (falsy); what Python's `float()` refuses, and NaN or infinities, raise (500).
fn best_score(v: Option<&str>) -> std::result::Result<Option<f64>, ApiError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match py_float(v) {
        Some(x) if x.is_finite() => Ok((x != 0.0).then_some(x)),
        _ => Err(server_error(format!(
            "best_determination_score {v:?} is not a number"
        ))),
    }
}

/// Python's `float(s)` on a string: surrounding whitespace, single underscores between digits,
/// `inf`/`nan` spellings.
pub(super) fn py_float(s: &str) -> Option<f64> {
    let ascii = crate::api::params::py_ascii_number(s);
    let t: &str = &ascii;
    let b = t.as_bytes();
    let mut clean = String::with_capacity(t.len());
    for (i, c) in t.char_indices() {
        if c == '_' {
            let ok =
                i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !ok {
                return None;
            }
        } else {
            clean.push(c);
        }
    }
    let lower = clean.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if unsigned.len() + 1 < lower.len() {
        return None;
    }
    // Rust also reads "infinity"/"inf"/"nan" as Python does; it refuses nothing Python reads
    // apart from the underscores handled above.
    clean.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_threshold_reads_like_python_float() {
        assert_eq!(py_float("\u{661}.\u{665}"), Some(1.5));
        assert_eq!(py_float(" \u{a0}1e\u{662}"), Some(100.0));
        assert_eq!(py_float("\x1c1"), None);
        assert_eq!(best_score(Some("0.5")).ok(), Some(Some(0.5)));
        assert_eq!(best_score(Some(" 1_0 ")).ok(), Some(Some(10.0)));
        // 0 is falsy: no filter.
        assert_eq!(best_score(Some("0.0")).ok(), Some(None));
        assert_eq!(best_score(Some("")).ok(), Some(None));
        for bad in ["abc", "nan", "inf", "-Infinity", "1__0", "_1", "1e"] {
            assert_eq!(
                best_score(Some(bad)).map_err(|e| e.status),
                Err(500),
                "{bad}"
            );
        }
    }

    #[test]
    fn form_integers_drop_a_trailing_decimal_zero() {
        assert_eq!(form_int(Some("2.0")), Ok(Some(PyInt::Int(2))));
        assert_eq!(form_int(Some(" 3 ")), Ok(Some(PyInt::Int(3))));
        assert_eq!(form_int(Some("")), Ok(None));
        assert_eq!(form_int(Some("2.5")), Err(()));
    }
}
