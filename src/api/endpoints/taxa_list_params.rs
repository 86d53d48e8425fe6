//! The query parameters of `GET /api/v2/taxa/` as Antenna 731cc2a2 reads them
//! (ami/main/api/views.py `TaxonViewSet.get_queryset` / `get_occurrence_filters`, the
//! DjangoFilterBackend filterset, `SearchFilter`, `CustomTaxonFilter`, `TaxonTaxaListFilter`,
//! `TaxonBestScoreFilter`, `TaxonTagFilter`, `TagInverseFilter`), in the order Antenna
//! evaluates them, so the first failure is the one Antenna answers. The result is the
//! statement of `queries/taxa.sql` that lists the taxa.

use crate::api::endpoints::taxa::{order_sql, ordering_terms};
use crate::api::endpoints::Endpoints;
use crate::api::params::py_int;
use crate::api::request::Requester;
use crate::api::request::{ApiError, RANKS};
use crate::engine::catalog::Arg;
use crate::error::Result;
use serde_json::{Map, Value};

/// Ordering fields that are Taxon methods, not annotations, without a project: Django's
/// FieldError when the page is read.
const PROJECT_ONLY: [&str; 3] = [
    "verified_count",
    "last_detected",
    "best_determination_score",
];

const INVALID_CHOICE: &str =
    "Select a valid choice. That choice is not one of the available choices.";

/// A step that Antenna may answer with an error.
type Step<T> = Result<std::result::Result<T, ApiError>>;

/// The statement to run and what the answer needs besides its rows.
pub(super) struct Plan {
    pub sql: String,
    /// A NullsLastOrderingFilter term names an annotation the queryset lacks (no project):
    /// a 500 when the page is read.
    pub fails_on_page: bool,
    /// The active project (its tags are attached to each taxon).
    pub project: Option<i64>,
}

/// Python's `int()` of a query value: `None` when it raises ValueError; `Some(None)` for an
/// integer beyond i64 (no row has that id).
fn int_value(raw: &str) -> Option<Option<i64>> {
    py_int(raw).map(|v| v.int())
}

fn server_error(message: String) -> ApiError {
    ApiError::detail(500, format!("Server Error: {message}"))
}

/// Django's `Field 'id' expected a number` ValueError, a 500.
fn not_a_number(raw: &str) -> ApiError {
    server_error(format!(
        "ValueError: Field 'id' expected a number but got '{raw}'."
    ))
}

/// A string literal that no `${…}` of the fragment binder can see (user text is bound
/// before other arguments would be).
fn literal(s: &str) -> String {
    let quoted = format!("'{}'", s.replace('\'', "''"));
    if quoted.contains("${") {
        format!("({})", quoted.replace("${", "$' || '{"))
    } else {
        quoted
    }
}

/// `django.forms.BooleanField.to_python`: `false`/`0` in any case and `""` are false.
pub(super) fn forms_bool(v: &str) -> bool {
    let l = v.to_lowercase();
    !(v.is_empty() || l == "false" || l == "0")
}

/// `django.forms.IntegerField(required=False).clean`: empty is `None`; a trailing `.0…`
/// is dropped before `int()`; anything else is a ValidationError, which is a 500 here.
fn forms_int(raw: Option<&str>) -> std::result::Result<Option<Option<i64>>, ApiError> {
    let Some(raw) = raw.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let trimmed = raw.trim_end();
    let text = match trimmed.rfind('.') {
        Some(dot) if trimmed[dot + 1..].bytes().all(|b| b == b'0') => &trimmed[..dot],
        _ => raw,
    };
    int_value(text)
        .map(Some)
        .ok_or_else(|| server_error(format!("ValidationError: '{raw}' is not an integer")))
}

/// `django.forms.FloatField(required=False).clean`: Python's `float()` of the value, which
/// must be finite; empty is `None`; a failure is a ValidationError (500).
pub(super) fn forms_float(raw: Option<&str>) -> std::result::Result<Option<f64>, ApiError> {
    let Some(raw) = raw.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let t = raw.trim();
    // Python accepts single underscores between digits.
    let b = t.as_bytes();
    let underscores_ok = b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit())
    });
    let parsed = underscores_ok
        .then(|| t.replace('_', "").parse::<f64>().ok())
        .flatten()
        .filter(|f| f.is_finite());
    parsed
        .map(Some)
        .ok_or_else(|| server_error(format!("ValidationError: '{raw}' is not a finite number")))
}

/// What a project's list counts over (`get_occurrence_filters`, the default filters).
struct Scope {
    occ_where: Vec<String>,
    last: String,
}

async fn exists(e: &Endpoints<'_>, table: &str, id: i64) -> Result<bool> {
    let sql = e.sql(
        "taxa.exists",
        &[("table", Arg::Name(table)), ("id", Arg::Int(id))],
    );
    Ok(!e.rows(&sql).await?.is_empty())
}

/// `Model.objects.get(id=raw)`: ValueError (500) for a non-integer, DoesNotExist (404 with
/// Django's message through `NotFound(str(e))`) for a missing row.
async fn model_get(e: &Endpoints<'_>, table: &str, model: &str, raw: &str) -> Step<i64> {
    let Some(id) = int_value(raw) else {
        return Ok(Err(not_a_number(raw)));
    };
    match id {
        Some(id) if exists(e, table, id).await? => Ok(Ok(id)),
        _ => Ok(Err(ApiError::detail(
            404,
            format!("{model} matching query does not exist."),
        ))),
    }
}

/// `get_occurrence_filters(project)` and `build_occurrence_default_filters_q`.
async fn scope(e: &Endpoints<'_>, project: i64) -> Step<Scope> {
    let p = e.params;
    let mut occ_where = Vec::new();
    let deployment = p.given("deployment").or(p.given("occurrences__deployment"));
    let event = p.given("event").or(p.given("occurrences__event"));
    let mut collection = None;
    for (raw, table, model, fragment) in [
        (
            p.given("occurrence"),
            "main_occurrence",
            "Occurrence",
            "taxa.occ.occurrence",
        ),
        (
            deployment,
            "main_deployment",
            "Deployment",
            "taxa.occ.deployment",
        ),
        (event, "main_event", "Event", "taxa.occ.event"),
        (
            p.given("collection"),
            "main_sourceimagecollection",
            "SourceImageCollection",
            "taxa.occ.collection",
        ),
    ] {
        let Some(raw) = raw else { continue };
        let id = match model_get(e, table, model, raw).await? {
            Ok(id) => id,
            Err(err) => return Ok(Err(err)),
        };
        occ_where.push(e.sql(fragment, &[("id", Arg::Int(id))]));
        if table == "main_sourceimagecollection" {
            collection = Some(id);
        }
    }
    if p.apply_defaults() {
        occ_where.push(e.sql("taxa.occ.defaults", &[("project", Arg::Int(project))]));
    }
    // with_observation_counts_aggregated (the `collection` key is present, even empty): the
    // last detection is taken among the collection's captures.
    let last = match collection {
        Some(id) if p.last("collection").is_some() => {
            e.sql("taxa.last.collection", &[("id", Arg::Int(id))])
        }
        _ => e.sql("taxa.last.all", &[]),
    };
    Ok(Ok(Scope { occ_where, last }))
}

/// The DjangoFilterBackend filterset (`filterset_fields`): conditions, or the 400 listing
/// every invalid field in field order.
async fn filterset(e: &Endpoints<'_>, conditions: &mut Vec<String>) -> Step<()> {
    let p = e.params;
    let mut errors = Map::new();
    // name: CharFilter (forms.CharField, strip=True, no null characters).
    if let Some(v) = p.last("name").map(str::trim).filter(|v| !v.is_empty()) {
        if v.contains('\0') {
            errors.insert(
                "name".into(),
                Value::from(vec!["Null characters are not allowed."]),
            );
        } else {
            conditions.push(e.sql("taxa.name", &[("value", Arg::Sql(&literal(v)))]));
        }
    }
    // rank: ChoiceFilter, no strip.
    if let Some(v) = p.given("rank") {
        if RANKS.contains(&v) {
            conditions.push(e.sql("taxa.rank", &[("value", Arg::Sql(&literal(v)))]));
        } else {
            let msg = format!("Select a valid choice. {v} is not one of the available choices.");
            errors.insert("rank".into(), Value::from(vec![msg]));
        }
    }
    // ModelChoiceFilters: queryset.get(pk=value); ValueError or DoesNotExist → invalid choice.
    for (key, table, fragment) in [
        ("parent", "main_taxon", "taxa.parent"),
        ("occurrences__event", "main_event", "taxa.occurrences_event"),
        (
            "occurrences__deployment",
            "main_deployment",
            "taxa.occurrences_deployment",
        ),
        (
            "occurrences__project",
            "main_project",
            "taxa.occurrences_project",
        ),
    ] {
        let Some(raw) = p.given(key) else { continue };
        match int_value(raw).flatten() {
            Some(id) if exists(e, table, id).await? => {
                conditions.push(e.sql(fragment, &[("id", Arg::Int(id))]));
            }
            _ => {
                errors.insert(key.into(), Value::from(vec![INVALID_CHOICE]));
            }
        }
    }
    // projects: ModelMultipleChoiceFilter (ModelMultipleChoiceField._check_values).
    let values = p.all("projects");
    if !values.is_empty() {
        match projects(e, &values).await? {
            Ok(ids) => conditions.push(e.sql("taxa.projects", &[("ids", Arg::Ints(&ids))])),
            Err(msg) => {
                errors.insert("projects".into(), Value::from(vec![msg]));
            }
        }
    }
    if errors.is_empty() {
        Ok(Ok(()))
    } else {
        Ok(Err(ApiError {
            status: 400,
            body: Value::Object(errors),
        }))
    }
}

/// `ModelMultipleChoiceField._check_values` over projects (the list's and the detail's
/// `projects` filter): [`Endpoints::choices`].
pub(super) async fn projects(
    e: &Endpoints<'_>,
    values: &[&str],
) -> Result<std::result::Result<Vec<i64>, String>> {
    e.choices("main_project", values).await
}

/// Everything after the filterset: search, `taxon`, taxa lists, best score, tags.
async fn backends(
    e: &Endpoints<'_>,
    project: Option<i64>,
    conditions: &mut Vec<String>,
) -> Step<()> {
    let p = e.params;
    // SearchFilter (DRF 3.14): null characters removed, commas are spaces, split on
    // whitespace; every term must match name or the parent's name.
    let search = p
        .last("search")
        .unwrap_or("")
        .replace('\0', "")
        .replace(',', " ");
    for term in search.split_whitespace() {
        conditions.push(e.sql("taxa.search_term", &[("term", Arg::Sql(&literal(term)))]));
    }
    // CustomTaxonFilter: Taxon.objects.get(id=…); NotFound names the raw value.
    if let Some(raw) = p.given("taxon") {
        let Some(id) = int_value(raw) else {
            return Ok(Err(not_a_number(raw)));
        };
        match id {
            Some(id) if exists(e, "main_taxon", id).await? => {
                conditions.push(e.sql("taxa.taxon", &[("id", Arg::Int(id))]));
            }
            _ => {
                return Ok(Err(ApiError::detail(
                    404,
                    format!("No taxon found with id {raw}"),
                )))
            }
        }
    }
    // TaxonTaxaListFilter: both ids cleaned first; 0 and unknown lists are ignored.
    let list = match forms_int(p.last("taxa_list_id")) {
        Ok(v) => v,
        Err(err) => return Ok(Err(err)),
    };
    let not_list = match forms_int(p.last("not_taxa_list_id")) {
        Ok(v) => v,
        Err(err) => return Ok(Err(err)),
    };
    let descendants = p.last("include_descendants").is_none_or(forms_bool);
    let fragment = if descendants {
        "taxa.in_list"
    } else {
        "taxa.in_list_direct"
    };
    for (id, negate) in [(list, false), (not_list, true)] {
        let Some(Some(id)) = id else { continue };
        if id == 0 || !exists(e, "main_taxalist", id).await? {
            continue;
        }
        let condition = e.sql(fragment, &[("id", Arg::Int(id))]);
        conditions.push(if negate {
            format!("NOT ({condition})")
        } else {
            condition
        });
    }
    // TaxonBestScoreFilter: a nonzero value filters the annotation (absent without a project).
    let best = match forms_float(p.last("best_determination_score")) {
        Ok(v) => v,
        Err(err) => return Ok(Err(err)),
    };
    if let Some(v) = best.filter(|v| *v != 0.0) {
        if project.is_none() {
            return Ok(Err(server_error(
                "FieldError: Cannot resolve keyword 'best_determination_score' into field.".into(),
            )));
        }
        let text = v.to_string();
        let value = format!("CAST({} AS DOUBLE)", literal(&text));
        conditions.push(e.sql("taxa.best_score", &[("value", Arg::Sql(&value))]));
    }
    match tag_conditions(e) {
        Ok(tags) => conditions.extend(tags),
        Err(raw) => return Ok(Err(not_a_number(&raw))),
    }
    Ok(Ok(()))
}

/// TaxonTagFilter / TagInverseFilter (the list's and the detail's): `tag_id` keeps and
/// `not_tag_id` removes the taxa holding one of the tags; the ids go through int() (an id
/// beyond i64 matches no tag). Err: the first value int() rejects (Antenna's 500).
pub(super) fn tag_conditions(e: &Endpoints<'_>) -> std::result::Result<Vec<String>, String> {
    let mut conditions = Vec::new();
    for (key, fragment) in [("tag_id", "taxa.tagged"), ("not_tag_id", "taxa.not_tagged")] {
        let values = e.params.all(key);
        let mut ids = Vec::new();
        for raw in &values {
            ids.extend(int_value(raw).ok_or_else(|| raw.to_string())?);
        }
        match (values.is_empty(), ids.is_empty()) {
            (true, _) => {}
            // Only ids beyond i64: tag_id keeps no taxon, not_tag_id removes none.
            (false, true) if key == "tag_id" => conditions.push("FALSE".into()),
            (false, true) => {}
            (false, false) => conditions.push(e.sql(fragment, &[("ids", Arg::Ints(&ids))])),
        }
    }
    Ok(conditions)
}

/// Read every parameter in Antenna's order and build the statement.
pub(super) async fn plan(e: &Endpoints<'_>) -> Step<Plan> {
    let p = e.params;
    let project = match e.project(false).await? {
        Ok(project) => project,
        Err(err) => return Ok(Err(err)),
    };
    let mut conditions = Vec::new();
    if !matches!(e.who, Requester::Superuser(_)) {
        let projects = e.visible_projects();
        conditions.push(e.sql("taxa.visible", &[("projects", Arg::Sql(&projects))]));
    }
    let scope = match project {
        Some(id) => match scope(e, id).await? {
            Ok(s) => Some(s),
            Err(err) => return Ok(Err(err)),
        },
        None => None,
    };
    if let Some(id) = project {
        if p.apply_defaults() {
            conditions.push(e.sql("taxa.default_taxa", &[("project", Arg::Int(id))]));
        }
        // include_unobserved: any non-empty value (even `false`) includes them.
        if p.given("include_unobserved").is_none() {
            conditions.push(e.sql("taxa.observed", &[]));
        }
        if let Some(v) = p.last("verified") {
            let fragment = if forms_bool(v) {
                "taxa.verified"
            } else {
                "taxa.unverified"
            };
            conditions.push(e.sql(fragment, &[]));
        }
    }
    if let Err(err) = filterset(e, &mut conditions).await? {
        return Ok(Err(err));
    }
    let terms = ordering_terms(p.last("ordering"));
    if let Err(err) = backends(e, project, &mut conditions).await? {
        return Ok(Err(err));
    }
    let aggregated = p.last("collection").is_some();
    let order = order_sql(&terms, project.is_some(), aggregated);
    let taxon_where = if conditions.is_empty() {
        "TRUE".to_string()
    } else {
        conditions.join("\n  AND ")
    };
    let sql = match (project, scope) {
        (Some(id), Some(scope)) => {
            let occ_where = if scope.occ_where.is_empty() {
                "TRUE".to_string()
            } else {
                scope.occ_where.join(" AND ")
            };
            e.sql(
                "taxa.list",
                &[
                    ("project", Arg::Int(id)),
                    ("occ_where", Arg::Sql(&occ_where)),
                    ("last", Arg::Sql(&scope.last)),
                    ("taxon_where", Arg::Sql(&taxon_where)),
                    ("order", Arg::Sql(&order)),
                ],
            )
        }
        _ => e.sql(
            "taxa.list_no_project",
            &[
                ("taxon_where", Arg::Sql(&taxon_where)),
                ("order", Arg::Sql(&order)),
            ],
        ),
    };
    let fails_on_page = project.is_none() && terms.iter().any(|(f, _)| PROJECT_ONLY.contains(f));
    Ok(Ok(Plan {
        sql,
        fails_on_page,
        project,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_fields_follow_django() {
        assert!(!forms_bool(""));
        assert!(!forms_bool("FALSE"));
        assert!(forms_bool("maybe"));
        assert_eq!(forms_int(Some("3.00")).ok(), Some(Some(Some(3))));
        assert_eq!(forms_int(Some("")).ok(), Some(None));
        assert!(forms_int(Some("abc")).is_err());
        assert_eq!(forms_float(Some(" 0.5 ")).ok(), Some(Some(0.5)));
        assert_eq!(forms_float(Some("1_0")).ok(), Some(Some(10.0)));
        assert!(forms_float(Some("nan")).is_err());
        assert!(forms_float(Some("inf")).is_err());
        assert!(forms_float(Some("_1")).is_err());
    }

    #[test]
    fn user_text_never_reaches_the_binder_as_a_placeholder() {
        let l = literal("a'${order}");
        assert!(!l.contains("${"));
        assert_eq!(l, "('a''$' || '{order}')");
        assert_eq!(literal("Agrotis"), "'Agrotis'");
    }
}
