//! The JSON shapes of the occurrence API (spec §4): key order, nested objects, hyperlinks and
//! `user_permissions`. Values come from the queries; nothing here decides which rows win.

use crate::api::request::Requester;
use crate::engine::dims::Dims;
use crate::engine::occurrences::Related;
use crate::engine::rows::{Row, RowExt};
use crate::engine::Config;
use crate::render::media::{capture_url, media_url, media_url_of};
use crate::render::timefmt::{
    date_label, duration_iso, duration_label, duration_seconds, event_name, iso, millis,
    time_of_day,
};
use serde_json::{json, Map, Value};

/// What a requester may do with an object, by kind (spec §4.5).
#[derive(Clone, Copy)]
enum Kind {
    Envelope,
    Occurrence,
    Event,
    Deployment,
    Taxon,
    Algorithm,
    Detection,
    Capture,
}

pub struct Shaper<'a> {
    pub dims: &'a Dims,
    pub cfg: &'a Config,
    pub who: &'a Requester,
    /// The `occurrences_api_json` export variant (spec §6.2): export image rule, Django
    /// encoder text for annotations, no top-level `user_permissions`.
    pub export: bool,
}

/// `TaxonParentSerializer(many=True, source="parents_json")`: each stored parent's id, name
/// and rank (none when the column is NULL or not a JSON list).
pub(crate) fn parents(parents_json: Option<&str>) -> Vec<Value> {
    parents_json
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|p| json!({"id": p["id"], "name": p["name"], "rank": p["rank"]}))
        .collect()
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::from(*s)).collect())
}

impl Shaper<'_> {
    fn link(&self, route: &str, id: impl std::fmt::Display) -> Value {
        Value::from(format!(
            "{}/api/v2/{route}/{id}/",
            self.cfg.api_base.trim_end_matches('/')
        ))
    }

    fn perms(&self, kind: Kind, project: Option<i64>) -> Value {
        let member = match (self.who, project) {
            (Requester::User(u), Some(p)) => {
                self.dims.memberships.contains(&(*u, p))
                    || self.dims.projects.get(&p).and_then(|r| r.i64("owner_id")) == Some(*u)
            }
            _ => false,
        };
        match (self.who, kind) {
            (Requester::Superuser(_), Kind::Envelope) => strings(&["create"]),
            (Requester::Superuser(_), Kind::Occurrence) => strings(&["update"]),
            (Requester::Superuser(_), Kind::Deployment) => {
                strings(&["update", "regroup", "delete", "sync"])
            }
            (Requester::Superuser(_), Kind::Capture) => {
                strings(&["star", "update", "run_single_image_ml_job", "delete"])
            }
            (
                Requester::Superuser(_),
                Kind::Event | Kind::Taxon | Kind::Algorithm | Kind::Detection,
            ) => strings(&["update", "delete"]),
            (Requester::User(_), Kind::Capture) if member => {
                strings(&["star", "run_single_image_ml_job"])
            }
            _ => json!([]),
        }
    }

    pub fn envelope_permissions(&self) -> Value {
        self.perms(Kind::Envelope, None)
    }

    fn taxon_core(&self, id: i64) -> Option<Map<String, Value>> {
        let t = self.dims.taxa.get(&id)?;
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("name".into(), t["name"].clone());
        m.insert("rank".into(), t["rank"].clone());
        m.insert("details".into(), self.link("taxa", id));
        for k in [
            "gbif_taxon_key",
            "fieldguide_id",
            "inat_taxon_id",
            "cover_image_url",
            "cover_image_credit",
        ] {
            m.insert(k.into(), t.get(k).cloned().unwrap_or(Value::Null));
        }
        Some(m)
    }

    /// taxon-no-parent shape.
    fn taxon_no_parent(&self, id: Option<i64>) -> Value {
        match id.and_then(|id| self.taxon_core(id)) {
            Some(mut m) => {
                m.insert("user_permissions".into(), self.perms(Kind::Taxon, None));
                Value::Object(m)
            }
            None => Value::Null,
        }
    }

    /// nested-taxon shape: with `parent` and `parents` (from the cached parents_json).
    pub fn taxon(&self, id: Option<i64>) -> Value {
        let Some(id) = id else { return Value::Null };
        let Some(mut m) = self.taxon_core(id) else {
            return Value::Null;
        };
        let Some(t) = self.dims.taxa.get(&id) else {
            return Value::Null;
        };
        m.insert("parent".into(), self.taxon_no_parent(t.i64("parent_id")));
        m.insert(
            "parents".into(),
            Value::Array(parents(t.str("parents_json"))),
        );
        m.insert("user_permissions".into(), self.perms(Kind::Taxon, None));
        Value::Object(m)
    }

    /// The top-level `determination`: no `parents` key (spec §4.4, §9.8).
    fn determination(&self, id: Option<i64>) -> Value {
        let Some(t) = id.and_then(|id| self.dims.taxa.get(&id)) else {
            return Value::Null;
        };
        let id = id.unwrap();
        json!({
            "id": id, "name": t["name"], "parent": self.taxon_no_parent(t.i64("parent_id")),
            "rank": t["rank"], "details": self.link("taxa", id), "user_permissions": [],
        })
    }

    fn event(&self, id: Option<i64>) -> Value {
        let Some(e) = id.and_then(|id| self.dims.events.get(&id)) else {
            return Value::Null;
        };
        let (id, tz) = (id.unwrap(), self.cfg.time_zone);
        let start = e.i64("start").unwrap_or(0);
        json!({
            "id": id, "name": event_name(start, e.i64("end"), tz), "details": self.link("events", id),
            "date_label": date_label(start, e.i64("end"), tz),
            "user_permissions": self.perms(Kind::Event, None),
        })
    }

    fn deployment(&self, id: Option<i64>) -> Value {
        let Some(d) = id.and_then(|id| self.dims.deployments.get(&id)) else {
            return Value::Null;
        };
        let id = id.unwrap();
        json!({
            "id": id, "name": d["name"], "details": self.link("deployments", id),
            "user_permissions": self.perms(Kind::Deployment, d.i64("project_id")),
        })
    }

    fn user(&self, id: Option<i64>) -> Value {
        let Some(u) = id.and_then(|id| self.dims.users.get(&id)) else {
            return Value::Null;
        };
        let id = id.unwrap();
        json!({"id": id, "name": u["name"], "image": null, "details": self.link("users", id), "user_permissions": []})
    }

    fn algorithm_full(&self, id: Option<i64>) -> Value {
        let Some(a) = id.and_then(|id| self.dims.algorithms.get(&id)) else {
            return Value::Null;
        };
        let id = id.unwrap();
        let tz = self.cfg.time_zone;
        let category_map = match a.i64("category_map_id") {
            Some(c) => json!({"id": c, "details": self.link("ml/labels", c),
                              "user_permissions": self.perms(Kind::Algorithm, None)}),
            None => Value::Null,
        };
        json!({
            "id": id, "details": self.link("ml/algorithms", id), "name": a["name"], "key": a["key"],
            "description": a["description"], "uri": a["uri"], "version": a["version"],
            "version_name": a["version_name"], "task_type": a["task_type"],
            "category_map": category_map, "category_count": null,
            "created_at": ts(&a, "created_at", tz), "updated_at": ts(&a, "updated_at", tz),
            "user_permissions": self.perms(Kind::Algorithm, None),
        })
    }

    /// An item of `/occurrences/algorithms/`: the full shape with `category_count` = the
    /// number of labels of the algorithm's category map (spec §5.8).
    pub fn algorithm_choice(&self, id: i64) -> Value {
        let mut v = self.algorithm_full(Some(id));
        let labels = self
            .dims
            .algorithms
            .get(&id)
            .and_then(|a| a.i64("category_map_id"))
            .and_then(|c| self.dims.category_maps.get(&c).copied());
        if let Some(o) = v.as_object_mut() {
            o.insert("category_count".into(), json!(labels));
        }
        v
    }

    fn algorithm_short(&self, id: Option<i64>) -> Value {
        let Some(a) = id.and_then(|id| self.dims.algorithms.get(&id)) else {
            return Value::Null;
        };
        let id = id.unwrap();
        let tz = self.cfg.time_zone;
        json!({
            "id": id, "details": self.link("ml/algorithms", id), "name": a["name"], "key": a["key"],
            "version": a["version"], "version_name": a["version_name"],
            "created_at": ts(&a, "created_at", tz), "updated_at": ts(&a, "updated_at", tz),
            "user_permissions": self.perms(Kind::Algorithm, None),
        })
    }

    /// nested-classification shape.
    pub fn classification(&self, c: &Row) -> Value {
        let tz = self.cfg.time_zone;
        let applied_to = match c.i64("applied_to_id") {
            Some(p) if c.i64("applied_to_created_at").is_some() => json!({
                "id": p, "created_at": ts(c, "applied_to_created_at", tz),
                "algorithm": self.algorithm_full(c.i64("applied_to_algorithm_id")),
            }),
            _ => Value::Null,
        };
        let id = c.i64("id").unwrap_or_default();
        json!({
            "id": id, "details": self.link("classifications", id), "taxon": self.taxon(c.i64("taxon_id")),
            "score": c["score"], "terminal": c["terminal"], "algorithm": self.algorithm_full(c.i64("algorithm_id")),
            "applied_to": applied_to, "created_at": ts(c, "created_at", tz), "user_permissions": [],
        })
    }

    /// occurrence-identification shape.
    fn identification(&self, i: &Row) -> Value {
        let id = i.i64("id").unwrap_or_default();
        let own = self.who.user_id().is_some() && self.who.user_id() == i.i64("user_id");
        let may_delete = own || matches!(self.who, Requester::Superuser(_));
        json!({
            "id": id, "details": self.link("identifications", id), "taxon": self.taxon(i.i64("taxon_id")),
            "user": self.user(i.i64("user_id")), "withdrawn": i["withdrawn"], "comment": i["comment"],
            "created_at": ts(i, "created_at", self.cfg.time_zone),
            "user_permissions": if may_delete { strings(&["delete"]) } else { json!([]) },
        })
    }

    fn detection(&self, d: &Row, rel: &Related, project: Option<i64>) -> Value {
        let detail = rel.detail.as_ref().expect("detail relations");
        let id = d.i64("id").unwrap_or_default();
        let capture = d
            .i64("source_image_id")
            .and_then(|c| detail.captures.get(&c))
            .map_or(Value::Null, |c| {
                let cid = c.i64("id").unwrap_or_default();
                json!({
                    "id": cid, "details": self.link("captures", cid),
                    "url": capture_url(c.str("public_base_url"), c.str("path").unwrap_or("")),
                    "width": c["width"], "height": c["height"],
                    "user_permissions": self.perms(Kind::Capture, project),
                })
            });
        let classifications: Vec<Value> = detail
            .detection_classifications
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|cid| rel.classifications.get(cid))
            .map(|c| self.classification(c))
            .collect();
        json!({
            "id": id, "details": self.link("detections", id),
            "timestamp": d.i64("timestamp").map(|t| iso(t, self.cfg.time_zone)),
            "url": media_url(d.str("path"), &self.cfg.media_url), "capture": capture,
            "width": null, "height": null,
            "bbox": d.str("bbox").and_then(|b| serde_json::from_str::<Value>(b).ok()).unwrap_or(Value::Null),
            "occurrence": d.i64("occurrence_id").map(|o| self.link("occurrences", o)),
            "classifications": classifications,
            "user_permissions": self.perms(Kind::Detection, project),
        })
    }

    /// A list item (§4.2), or with `rel.detail` a detail item (§4.3).
    pub fn occurrence(&self, o: &Row, rel: &Related) -> Value {
        let tz = self.cfg.time_zone;
        let id = o.i64("id").unwrap_or_default();
        let project = o.i64("project_id");
        let classification = |cid: Option<i64>| cid.and_then(|c| rel.classifications.get(&c));
        let identifications: Vec<&Row> = rel
            .identifications
            .get(&id)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let best_ident = o.i64("best_identification_id").and_then(|b| {
            identifications
                .iter()
                .find(|i| i.i64("id") == Some(b))
                .copied()
        });
        let best_pred = classification(o.i64("best_prediction_id"));
        let images: Vec<String> = match &rel.detail {
            Some(d) if self.export => d
                .images
                .get(&id)
                .into_iter()
                .flatten()
                .map(|p| media_url_of(p, &self.cfg.media_url))
                .collect(),
            Some(d) => d
                .images
                .get(&id)
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|p| media_url(Some(p), &self.cfg.media_url))
                .collect(),
            None => media_url(o.str("cover_image_path"), &self.cfg.media_url)
                .into_iter()
                .collect(),
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("details".into(), self.link("occurrences", id));
        m.insert("event".into(), self.event(o.i64("event_id")));
        m.insert("deployment".into(), self.deployment(o.i64("deployment_id")));
        let (first, time, duration) = (
            o.i64("first_appearance_timestamp").map(|t| iso(t, tz)),
            o.i64("first_appearance_time").map(time_of_day),
            o.i64("duration"),
        );
        let (first, time, duration) = if self.export {
            (
                first.map(|t| millis(&t)),
                time.map(|t| millis(&t)),
                duration.map(duration_iso),
            )
        } else {
            (first, time, duration.map(duration_seconds))
        };
        m.insert("first_appearance_timestamp".into(), json!(first));
        m.insert("first_appearance_time".into(), json!(time));
        m.insert("duration".into(), json!(duration));
        m.insert(
            "duration_label".into(),
            json!(duration_label(o.i64("duration"))),
        );
        m.insert(
            "determination".into(),
            self.determination(o.i64("determination_id")),
        );
        m.insert("detections_count".into(), o["detections_count"].clone());
        m.insert("detection_images".into(), json!(images));
        m.insert(
            "determination_score".into(),
            o["determination_score"].clone(),
        );
        m.insert(
            "determination_details".into(),
            json!({
                "taxon": self.taxon(o.i64("determination_id")),
                "identification": best_ident.map_or(Value::Null, |i| self.identification(i)),
                "prediction": match (best_ident, best_pred) {
                    (None, Some(p)) => self.classification(p),
                    _ => Value::Null,
                },
                "score": o["determination_score"],
            }),
        );
        m.insert(
            "best_machine_prediction".into(),
            best_pred.map_or(Value::Null, |p| {
                json!({
                    "taxon": self.taxon(p.i64("taxon_id")),
                    "algorithm": self.algorithm_short(p.i64("algorithm_id")),
                    "score": p["score"],
                })
            }),
        );
        m.insert(
            "identifications".into(),
            Value::Array(
                identifications
                    .iter()
                    .map(|i| self.identification(i))
                    .collect(),
            ),
        );
        m.insert("created_at".into(), ts(o, "created_at", tz));
        m.insert("updated_at".into(), ts(o, "updated_at", tz));
        if let Some(d) = &rel.detail {
            m.insert("determination_id".into(), o["determination_id"].clone());
            let detections = d
                .detections
                .get(&id)
                .into_iter()
                .flatten()
                .map(|det| self.detection(det, rel, project));
            m.insert("detections".into(), Value::Array(detections.collect()));
            let predictions = d
                .predictions
                .get(&id)
                .into_iter()
                .flatten()
                .filter_map(|c| rel.classifications.get(c))
                .map(|c| self.classification(c));
            m.insert("predictions".into(), Value::Array(predictions.collect()));
        }
        if !self.export {
            m.insert(
                "user_permissions".into(),
                self.perms(Kind::Occurrence, project),
            );
        }
        Value::Object(m)
    }
}

fn ts(row: &Row, key: &str, tz: chrono_tz::Tz) -> Value {
    row.i64(key)
        .map_or(Value::Null, |t| Value::from(iso(t, tz)))
}
