//! The read endpoints other than occurrences (taxa, taxa lists, status summary, projects and
//! their charts, occurrence stats, events, deployments, ML algorithms and category maps, tags, capture sets, captures, identifications). Antenna's source at commit 731cc2a2
//! is their spec; each module names the viewset and serializer it follows, and each has one
//! file of named SQL fragments in `queries/` holding what it computes.
//!
//! Every module answers with `Ok(Ok(body))` (200), `Ok(Err(ApiError))` (Antenna's 4xx/5xx)
//! or `Err` (the snapshot could not be read).

use crate::api::params::Params;
use crate::api::request::{ApiError, Requester};
use crate::api::route::Family;
use crate::engine::catalog::Arg;
use crate::engine::rows::{Row, RowExt};
use crate::engine::statements::{rows, rows_page};
use crate::engine::Engine;
use crate::error::Result;
use crate::render::media::absolute_media_url;
use serde_json::{json, Value};

pub mod captures;
pub mod collections;
pub mod deployments;
pub mod events;
pub mod events_detail;
pub mod events_params;
pub mod identifications;
pub mod jobs;
pub mod ml;
pub mod occurrence_stats;
pub mod pg_sort;
pub mod projects;
pub mod projects_charts;
pub mod status_summary;
pub mod tags;
pub mod taxa;
pub mod taxa_detail;
pub mod taxa_detail_example;
pub mod taxa_detail_filters;
pub mod taxa_detail_suggest;
pub mod taxa_list_params;
pub mod taxa_lists;
pub mod taxa_tags;

/// How a list answer is ordered, for comparing it with Antenna's (`occlens verify`):
/// JSON pointers, within an item, of its sort keys (items with equal keys may come in any
/// order), or `Unordered` (Antenna's SQL has no ORDER BY: compare pages as sets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    Keys(Vec<String>),
    Unordered,
}

/// The order of the list that `url` asks for (`None`: not a list of these endpoints).
pub fn order(url: &str) -> Option<Order> {
    let params = Params::parse(url);
    let (family, tail) = crate::api::route::family(&params.path)?;
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    match family {
        Family::Occurrences => None,
        Family::OccurrenceStats => occurrence_stats::order(&params, &tail),
        Family::TaxaLists => taxa_lists::order(&params, &tail),
        Family::Taxa => taxa::order(&params, &tail),
        Family::StatusSummary => None,
        Family::Projects => projects::order(&params, &tail),
        Family::Events => events::order(&params, &tail),
        Family::Deployments => deployments::order(&params, &tail),
        Family::Ml => ml::order(&params, &tail),
        Family::Tags => tags::order(&params, &tail),
        Family::Collections => collections::order(&params, &tail),
        Family::Captures => captures::order(&params, &tail),
        Family::Identifications => identifications::order(&params, &tail),
    }
}

/// A viewset's `ordering_fields`, each with the SQL sort keys it stands for (a name: lower-cased,
/// then as it is — the collation's approximation).
pub type SortFields = &'static [(&'static str, &'static [&'static str])];

/// The `ordering` terms among `fields`.
pub fn sort_terms(p: &Params, fields: SortFields) -> Vec<(&'static str, bool)> {
    let names: Vec<&'static str> = fields.iter().map(|(name, _)| *name).collect();
    p.ordering(&names)
}

/// `ORDER BY` of the `ordering` terms among `fields` (NULLS LAST both ways:
/// NullsLastOrderingFilter), else `default`; then occlens's tiebreak `tiebreak`.
pub fn sort_sql(p: &Params, fields: SortFields, default: &str, tiebreak: &str) -> String {
    let mut keys: Vec<String> = sort_terms(p, fields)
        .iter()
        .flat_map(|(field, desc)| {
            let direction = if *desc { "DESC" } else { "ASC" };
            let exprs = fields
                .iter()
                .find(|(name, _)| name == field)
                .map_or(&[][..], |f| f.1);
            exprs
                .iter()
                .map(move |x| format!("{x} {direction} NULLS LAST"))
        })
        .collect();
    if keys.is_empty() {
        keys.push(default.into());
    }
    keys.push(tiebreak.into());
    keys.join(", ")
}

/// The object a router's path names after its prefix: `Some(None)` for the list (no segment),
/// `Some(Some(id))` for a detail (one integer segment), `None` for anything else (a 404).
pub fn list_or_detail(tail: &[&str]) -> Option<Option<i64>> {
    match tail {
        [] => Some(None),
        [id] => crate::api::params::path_id(id).map(Some),
        _ => None,
    }
}

/// How `occlens verify` compares a viewset's list: by the JSON pointers of its `ordering`
/// terms among `fields` (`pointer` of a field), else by `default` (Meta ordering), or as a
/// set when that is empty (no ORDER BY).
pub fn list_order(
    p: &Params,
    fields: &[&str],
    default: &[&str],
    pointer: impl Fn(&str) -> String,
) -> Order {
    let terms = p.ordering(fields);
    match (terms.is_empty(), default.is_empty()) {
        (false, _) => Order::Keys(terms.iter().map(|(f, _)| pointer(f)).collect()),
        (true, false) => Order::Keys(default.iter().map(|k| k.to_string()).collect()),
        (true, true) => Order::Unordered,
    }
}

/// `/<field>`: the pointer of a field named as its key.
pub fn key_pointer(field: &str) -> String {
    format!("/{field}")
}

/// An answer: the 200 body or Antenna's error response.
pub type EndpointAnswer = Result<std::result::Result<Value, ApiError>>;

/// One request to answer: the engine, the parameters and who asks.
pub struct Endpoints<'a> {
    pub engine: &'a Engine,
    pub params: &'a Params,
    pub who: &'a Requester,
}

/// What a requester may do with an object, by the object's model (Antenna's
/// `user_permissions`, `ami/base/permissions.py` with the roles of `ami/users/roles.py`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// A paginated list's own `user_permissions` (collection level).
    Collection,
    Project,
    Deployment,
    Event,
    Capture,
    Taxon,
    TaxaList,
    /// A taxon's tag (TagSerializer).
    Tag,
    /// A deployment's storage source with a project (its `test_s3storagesource` permission
    /// makes the custom action `test`) and without one.
    StorageSource,
    ProjectlessStorageSource,
    /// A project's default processing pipeline (no project of its own: M2M).
    Pipeline,
    /// A deployment's job (its custom actions by job type: endpoints/jobs.rs).
    Job,
    User,
    /// A detection nested in a capture (event detail `first_capture.detections`).
    Detection,
    /// The occurrence nested in such a detection (`CaptureOccurrenceSerializer`).
    CaptureOccurrence,
    Device,
    Site,
    /// A deployment without a project: no project roles, so no custom actions.
    ProjectlessDeployment,
    /// A capture without a project: no project roles, so no custom actions.
    ProjectlessCapture,
    /// An occurrence nested in a taxon detail (`TaxonOccurrenceNestedSerializer`).
    Occurrence,
    /// An algorithm's category map (`/ml/labels/`).
    CategoryMap,
}

impl Endpoints<'_> {
    pub async fn get(&self, family: Family, tail: &[&str]) -> EndpointAnswer {
        match family {
            Family::Occurrences => unreachable!("occurrences are answered by api::respond"),
            Family::OccurrenceStats => occurrence_stats::get(self, tail).await,
            Family::TaxaLists => taxa_lists::get(self, tail).await,
            Family::Taxa => taxa::get(self, tail).await,
            Family::StatusSummary => status_summary::get(self, tail).await,
            Family::Projects => projects::get(self, tail).await,
            Family::Events => events::get(self, tail).await,
            Family::Deployments => deployments::get(self, tail).await,
            Family::Ml => ml::get(self, tail).await,
            Family::Tags => tags::get(self, tail).await,
            Family::Collections => collections::get(self, tail).await,
            Family::Captures => captures::get(self, tail).await,
            Family::Identifications => identifications::get(self, tail).await,
        }
    }

    /// Rows of a statement.
    pub async fn rows(&self, sql: &str) -> Result<Vec<Row>> {
        rows(&self.engine.ctx, sql).await
    }

    /// The row count of `sql` (ordered) and its rows `offset..offset + limit` (only those decoded).
    pub async fn page(&self, sql: &str, offset: usize, limit: usize) -> Result<(usize, Vec<Row>)> {
        rows_page(&self.engine.ctx, sql, offset, limit).await
    }

    /// `ModelMultipleChoiceField._check_values` over the ids of `table`: every value must
    /// pass `int()` (else `“v” is not a valid value.`), then be the text of an existing id
    /// (else `Select a valid choice. v is not one of the available choices.`); the ids. One
    /// statement for all values.
    pub async fn choices(
        &self,
        table: &str,
        values: &[&str],
    ) -> Result<std::result::Result<Vec<i64>, String>> {
        let mut ids = Vec::new();
        for v in values {
            match crate::api::params::py_int(v) {
                None => return Ok(Err(format!("\u{201c}{v}\u{201d} is not a valid value."))),
                Some(id) => ids.extend(id.int()),
            }
        }
        let existing: Vec<i64> = if ids.is_empty() {
            Vec::new()
        } else {
            let sql = self.sql(
                "existing_ids",
                &[("table", Arg::Name(table)), ("ids", Arg::Ints(&ids))],
            );
            self.rows(&sql)
                .await?
                .iter()
                .filter_map(|r| r.i64("id"))
                .collect()
        };
        for v in values {
            if !existing.iter().any(|id| id.to_string() == *v) {
                return Ok(Err(format!(
                    "Select a valid choice. {v} is not one of the available choices."
                )));
            }
        }
        Ok(Ok(existing))
    }

    /// A filterset's ModelChoiceFilters, `(parameter, table)` in the filterset's order: for
    /// each parameter given a value (its last), the field's index and the id it names
    /// (`queryset.get(pk=v)` through `int(v)`); else the 400 of django-filter, every invalid
    /// field at once, in that order.
    pub async fn model_choices(
        &self,
        fields: &[(&str, &str)],
    ) -> Result<std::result::Result<Vec<(usize, i64)>, ApiError>> {
        let (mut chosen, mut errors) = (Vec::new(), serde_json::Map::new());
        for (i, (key, table)) in fields.iter().enumerate() {
            let Some(v) = self.params.last(key).filter(|v| !v.is_empty()) else {
                continue;
            };
            let found = match crate::api::params::py_int(v) {
                Some(crate::api::params::PyInt::Int(id)) => {
                    let sql = self.sql(
                        "existing_ids",
                        &[("table", Arg::Name(table)), ("ids", Arg::Ints(&[id]))],
                    );
                    (!self.rows(&sql).await?.is_empty()).then_some(id)
                }
                _ => None,
            };
            if let Some(id) = found {
                chosen.push((i, id));
            } else {
                let message =
                    "Select a valid choice. That choice is not one of the available choices.";
                errors.insert(key.to_string(), json!([message]));
            }
        }
        Ok(if errors.is_empty() {
            Ok(chosen)
        } else {
            Err(ApiError {
                status: 400,
                body: Value::Object(errors),
            })
        })
    }

    /// `get_default_classification_threshold` with `apply_defaults=false` reads
    /// `classification_threshold` through django.forms.FloatField (Python's `float()`, no
    /// strip first, finite): its ValidationError escapes DRF, Antenna's 500. `None` when the
    /// value passes or the defaults apply.
    pub fn threshold_error(&self) -> Option<ApiError> {
        let p = self.params;
        let threshold = p.last("classification_threshold")?;
        let refused = !threshold.is_empty()
            && !taxa_detail_filters::py_float(threshold).is_some_and(f64::is_finite);
        (refused && !p.apply_defaults()).then(|| {
            taxa_detail_filters::server_error(
                "classification_threshold is not a number (Antenna's FloatField raises ValidationError)"
                    .into(),
            )
        })
    }

    /// A viewset's answer from its queryset's `rows`: with `id`, the detail (the first row; a
    /// 404 without one); else the page of the list, with the collection-level
    /// `user_permissions` (`level`: [`Model::Collection`]'s when `None`).
    pub fn paged<T>(
        &self,
        id: Option<i64>,
        rows: &[T],
        item: impl Fn(&T) -> Option<Value>,
        level: Option<Value>,
    ) -> std::result::Result<Value, ApiError> {
        if id.is_some() {
            return rows.first().and_then(item).ok_or_else(ApiError::not_found);
        }
        let paging = self.params.paging(20, None);
        let page = rows.iter().skip(paging.offset).take(paging.limit);
        let results = page.filter_map(item).collect();
        let mut body = self
            .params
            .envelope(self.base(), paging, rows.len(), results);
        let level = level.unwrap_or_else(|| self.permissions(Model::Collection, false));
        body.insert("user_permissions".into(), level);
        Ok(Value::Object(body))
    }

    /// A named fragment of `queries/` with its arguments bound.
    pub fn sql(&self, name: &str, args: &[(&str, Arg)]) -> String {
        self.engine.fragments().bind(name, args)
    }

    /// The `api_base` link of an object: `{base}/api/v2/{route}/{id}/`.
    pub fn link(&self, route: &str, id: impl std::fmt::Display) -> Value {
        Value::from(format!("{}/api/v2/{route}/{id}/", self.base()))
    }

    pub fn base(&self) -> &str {
        self.engine.config.api_base.trim_end_matches('/')
    }

    /// An `ImageField` as DRF renders it with the request: null when empty, else the storage
    /// URL made absolute.
    pub fn image(&self, path: Option<&str>) -> Value {
        let config = &self.engine.config;
        absolute_media_url(path, &config.media_url, &config.api_base)
            .map_or(Value::Null, Value::from)
    }

    /// `project_id` as `get_active_project` validates it ([`project_id_value`]).
    pub fn project_id(&self) -> std::result::Result<Option<i64>, ApiError> {
        crate::api::params::project_id_value(self.params.last("project_id"))
    }

    /// The active project (`get_active_project`, `ProjectMixin`): [`Self::project_id`]'s
    /// 400s; absent is `None`, or 400 "This field is required." when `required`; 0 or an id
    /// with no project is 404 when `required`, else `None` (ignored).
    pub async fn project(
        &self,
        required: bool,
    ) -> Result<std::result::Result<Option<i64>, ApiError>> {
        let id = match self.project_id() {
            Ok(Some(id)) => id,
            Ok(None) if required => {
                return Ok(Err(ApiError::field(
                    "project_id",
                    "This field is required.",
                )))
            }
            Ok(None) => return Ok(Ok(None)),
            Err(e) => return Ok(Err(e)),
        };
        let sql = format!("SELECT id FROM main_project WHERE id = {id}");
        let exists = id != 0 && !self.rows(&sql).await?.is_empty();
        Ok(match (exists, required) {
            (true, _) => Ok(Some(id)),
            (false, true) => Err(ApiError::not_found()),
            (false, false) => Ok(None),
        })
    }

    /// The projects `who` may see, as SQL (`SELECT id …`): every project for a superuser;
    /// non-draft ones for anonymous; non-draft, owned or member projects for a user
    /// (`visible_for_user`).
    pub fn visible_projects(&self) -> String {
        let who = match self.who {
            Requester::Superuser(_) => return "SELECT id FROM main_project".into(),
            Requester::Anonymous => Arg::Int(-1),
            Requester::User(u) => Arg::Int(*u),
        };
        self.sql("visible_projects", &[("user", who)])
    }

    /// Whether `who` is a member or the owner of `project` (roles follow membership).
    pub async fn member(&self, project: Option<i64>) -> Result<bool> {
        let (Requester::User(u), Some(p)) = (self.who, project) else {
            return Ok(false);
        };
        let sql = self.sql(
            "is_member",
            &[("user", Arg::Int(*u)), ("project", Arg::Int(p))],
        );
        Ok(self
            .rows(&sql)
            .await?
            .first()
            .and_then(|r| r.bool("member"))
            .unwrap_or(false))
    }

    /// `user_permissions` of an object of `model` (`member`: `who` is a member of the
    /// object's project).
    pub fn permissions(&self, model: Model, member: bool) -> Value {
        let list = |items: &[&str]| json!(items);
        match (self.who, model) {
            (Requester::Superuser(_), Model::Collection) => list(&["create"]),
            (Requester::Superuser(_), Model::Project) => {
                list(&["change", "update", "add", "delete"])
            }
            (Requester::Superuser(_), Model::Deployment) => {
                list(&["update", "regroup", "delete", "sync"])
            }
            (Requester::Superuser(_), Model::Capture) => {
                list(&["star", "update", "run_single_image_ml_job", "delete"])
            }
            (Requester::Superuser(_), Model::StorageSource) => list(&["update", "delete", "test"]),
            (
                Requester::Superuser(_),
                Model::Event
                | Model::Taxon
                | Model::TaxaList
                | Model::Tag
                | Model::ProjectlessStorageSource
                | Model::Pipeline
                | Model::Job
                | Model::CategoryMap,
            ) => list(&["update", "delete"]),
            (Requester::User(_), Model::Capture) if member => {
                list(&["star", "run_single_image_ml_job"])
            }
            (
                Requester::Superuser(_),
                Model::Detection
                | Model::CaptureOccurrence
                | Model::Device
                | Model::Site
                | Model::ProjectlessDeployment
                | Model::ProjectlessCapture,
            ) => list(&["update", "delete"]),
            (Requester::Superuser(_), Model::Occurrence) => list(&["update", "delete"]),
            _ => json!([]),
        }
    }
}
