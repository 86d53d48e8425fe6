//! The JSON shapes of the occurrence API (spec §4): key order, nested objects, hyperlinks and
//! `user_permissions`. Values come from the queries; nothing here decides which rows win.
//!
//! Shapes are written as JSON text ([`JsonText`]) with the formatter of the output (the API's
//! compact text, or `json.dumps` for `occurrences_api_json`). The nested objects that depend
//! only on a dimension row and the requester (taxa, determinations, events, deployments,
//! users, algorithms) are rendered once per shaper and copied as bytes after that.

mod identification;
mod nested;

pub use identification::IdentificationPermissions;

use crate::api::request::Requester;
use crate::engine::dims::Dims;
use crate::engine::related::Related;
use crate::engine::rows::{Row, RowExt};
use crate::engine::typed::{ClassificationRow, DetectionRow, IdentificationRow, OccurrenceRow};
use crate::engine::Config;
use crate::render::json_text::{JsonSink, ValueTree};
use crate::render::media::{media_url, push_media_url, CaptureUrls};
use crate::render::timefmt::{
    duration_iso, duration_label, duration_seconds, iso, millis, time_of_day, write_iso,
};
use rustc_hash::FxHashMap as HashMap;
use serde_json::{json, Value};
use std::cell::RefCell;

/// What a requester may do with an object, by kind (spec §4.5).
#[derive(Clone, Copy)]
enum Object {
    Envelope,
    Occurrence,
    Event,
    Deployment,
    Taxon,
    Algorithm,
    Detection,
    Capture,
}

/// A nested object rendered once per id (it depends only on the dimension row and the
/// requester).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Nested {
    Taxon,
    TaxonNoParent,
    Determination,
    Event,
    Deployment,
    User,
    AlgorithmFull,
    AlgorithmShort,
}

pub struct Shaper<'a, S: JsonSink = ValueTree> {
    dims: &'a Dims,
    cfg: &'a Config,
    who: &'a Requester,
    /// The `occurrences_api_json` export variant (spec §6.2): export image rule, Django
    /// encoder text for annotations, no top-level `user_permissions`.
    export: bool,
    /// Nested objects rendered so far (a shaper is used by one thread at a time: an export
    /// makes one per thread).
    rendered: RefCell<HashMap<(Nested, i64), S::Rendered>>,
    /// The API base without its trailing `/`.
    base: &'a str,
    /// Where a link or an instant is written before it goes to the sink (no String each).
    scratch: RefCell<String>,
    capture_urls: RefCell<CaptureUrls>,
    /// The classifications of the detail being written that it shows more than once (its
    /// prediction candidates and best prediction are also its detections' classifications),
    /// by id: written once, copied after that.
    repeated: RefCell<Vec<(i64, Seen<S::Rendered>)>>,
}

/// A repeated classification of the detail being written: not yet written, or written (as a
/// value of its own, or at a span of the sink's own text).
enum Seen<R> {
    Not,
    Rendered(R),
    At(usize, usize),
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

/// A row's value for `key` (null when the query did not select it).
fn val<'r>(row: &'r Row, key: &str) -> &'r Value {
    row.get(key).unwrap_or(&Value::Null)
}

impl<'a> Shaper<'a, ValueTree> {
    /// The shaper of API responses (values; `verify` compares them as values).
    pub fn api(dims: &'a Dims, cfg: &'a Config, who: &'a Requester) -> Self {
        Shaper::new(dims, cfg, who, false)
    }

    /// A list item (§4.2), or with `rel.detail` a detail item (§4.3).
    pub fn occurrence(&self, o: &OccurrenceRow, rel: &Related) -> Value {
        let mut w = ValueTree::default();
        self.write_occurrence(&mut w, o, rel);
        w.finish()
    }

    /// An item of `/occurrences/algorithms/`: the full shape with `category_count` = the
    /// number of labels of the algorithm's category map (spec §5.8).
    pub fn algorithm_choice(&self, id: i64) -> Value {
        let labels = self
            .dims
            .algorithms
            .get(&id)
            .and_then(|a| a.i64("category_map_id"))
            .and_then(|c| self.dims.category_maps.get(&c).copied());
        let mut w = ValueTree::default();
        self.algorithm_full(&mut w, id, labels);
        w.finish()
    }
}

impl<'a, S: JsonSink> Shaper<'a, S> {
    pub fn new(dims: &'a Dims, cfg: &'a Config, who: &'a Requester, export: bool) -> Self {
        Shaper {
            dims,
            cfg,
            who,
            export,
            rendered: RefCell::default(),
            base: cfg.api_base.trim_end_matches('/'),
            scratch: RefCell::default(),
            capture_urls: RefCell::default(),
            repeated: RefCell::default(),
        }
    }

    fn link(&self, w: &mut S, route: &str, id: i64) {
        let mut s = self.scratch.borrow_mut();
        s.clear();
        s.push_str(self.base);
        s.push_str("/api/v2/");
        s.push_str(route);
        s.push('/');
        s.push_str(itoa::Buffer::new().format(id));
        s.push('/');
        w.str(&s);
    }

    /// Whether the requester manages `project` ([`Dims::manages`]).
    fn manager(&self, project: Option<i64>) -> bool {
        self.dims.manages(self.who.user_id(), project)
    }

    fn perms(&self, kind: Object, project: Option<i64>) -> &'static [&'static str] {
        let member = match (self.who, project) {
            (Requester::User(u), Some(p)) => {
                self.dims.memberships.contains(&(*u, p)) || self.manager(project)
            }
            _ => false,
        };
        match (self.who, kind) {
            (Requester::Superuser(_), Object::Envelope) => &["create"],
            (Requester::Superuser(_), Object::Occurrence) => &["update"],
            (Requester::Superuser(_), Object::Deployment) => {
                &["update", "regroup", "delete", "sync"]
            }
            (Requester::Superuser(_), Object::Capture) => {
                &["star", "update", "run_single_image_ml_job", "delete"]
            }
            (
                Requester::Superuser(_),
                Object::Event | Object::Taxon | Object::Algorithm | Object::Detection,
            ) => &["update", "delete"],
            // A Project manager (the owner) holds every deployment and capture permission.
            (Requester::User(_), Object::Deployment) if self.manager(project) => {
                &["update", "regroup", "delete", "sync"]
            }
            (Requester::User(_), Object::Capture) if self.manager(project) => {
                &["star", "update", "run_single_image_ml_job", "delete"]
            }
            (Requester::User(_), Object::Capture) if member => &["star", "run_single_image_ml_job"],
            // `create_identification` on the project: a Project manager's (or an Identifier's,
            // a role the snapshot does not record).
            (Requester::User(_), Object::Occurrence) if self.manager(project) => &["update"],
            _ => &[],
        }
    }

    pub fn envelope_permissions(&self) -> Value {
        json!(self.perms(Object::Envelope, None))
    }

    fn ts(&self, w: &mut S, micros: Option<i64>) {
        let Some(us) = micros else {
            w.null();
            return;
        };
        let mut s = self.scratch.borrow_mut();
        s.clear();
        write_iso(&mut s, us, self.cfg.time_zone, 'T');
        w.str(&s);
    }

    /// The media URL of `path` ([`push_media_url`]), null without one.
    fn media(&self, w: &mut S, path: Option<&str>) {
        let Some(path) = path else {
            w.null();
            return;
        };
        let mut s = self.scratch.borrow_mut();
        s.clear();
        push_media_url(&mut s, path, &self.cfg.media_url);
        w.str(&s);
    }

    /// The nested object `what` of dimension row `id` (null when there is none).
    fn nested(&self, w: &mut S, what: Nested, id: Option<i64>) {
        let Some(id) = id else {
            w.null();
            return;
        };
        if let Some(done) = self.rendered.borrow().get(&(what, id)) {
            w.rendered(done);
            return;
        }
        let mut t = S::default();
        self.render(&mut t, what, id);
        let done = t.finish();
        w.rendered(&done);
        self.rendered.borrow_mut().insert((what, id), done);
    }

    fn render(&self, w: &mut S, what: Nested, id: i64) {
        match what {
            Nested::Taxon | Nested::TaxonNoParent => self.taxon(w, id, what == Nested::Taxon),
            Nested::Determination => self.determination(w, id),
            Nested::Event => self.event(w, id),
            Nested::Deployment => self.deployment(w, id),
            Nested::User => self.user(w, id),
            Nested::AlgorithmFull => self.algorithm_full(w, id, None),
            Nested::AlgorithmShort => self.algorithm_short(w, id),
        }
    }

    /// nested-taxon shape (with `parent` and `parents`), or taxon-no-parent.
    fn taxon(&self, w: &mut S, id: i64, with_parents: bool) {
        let Some(t) = self.dims.taxa.get(&id) else {
            w.null();
            return;
        };
        w.begin_object();
        w.key("id").int(id);
        w.key("name").value(val(&t, "name"));
        w.key("rank").value(val(&t, "rank"));
        w.key("details");
        self.link(w, "taxa", id);
        for k in [
            "gbif_taxon_key",
            "fieldguide_id",
            "inat_taxon_id",
            "cover_image_url",
            "cover_image_credit",
        ] {
            w.key(k).value(val(&t, k));
        }
        if with_parents {
            w.key("parent");
            self.nested(w, Nested::TaxonNoParent, t.i64("parent_id"));
            w.key("parents")
                .value(&Value::Array(parents(t.str("parents_json"))));
        }
        w.key("user_permissions")
            .strs(self.perms(Object::Taxon, None));
        w.end_object();
    }

    /// nested-classification shape, copied when the detail being written showed it already:
    /// from the sink's own text where it can ([`JsonSink::mark`]), else from a value of its own.
    fn classification(&self, w: &mut S, c: &ClassificationRow, rel: &Related) {
        let first = {
            let repeated = self.repeated.borrow();
            match repeated.iter().position(|(r, _)| Some(*r) == c.id) {
                Some(i) => match &repeated[i].1 {
                    Seen::Rendered(done) => {
                        w.rendered(done);
                        return;
                    }
                    Seen::At(from, to) => {
                        w.again(*from, *to);
                        return;
                    }
                    Seen::Not => Some(i),
                },
                None => None,
            }
        };
        let Some(i) = first else {
            return self.write_classification(w, c, rel);
        };
        let seen = match w.mark() {
            Some(from) => {
                self.write_classification(w, c, rel);
                Seen::At(from, w.mark().expect("a sink with marks keeps them"))
            }
            None => {
                let mut t = S::default();
                self.write_classification(&mut t, c, rel);
                let done = t.finish();
                w.rendered(&done);
                Seen::Rendered(done)
            }
        };
        self.repeated.borrow_mut()[i].1 = seen;
    }

    fn write_classification(&self, w: &mut S, c: &ClassificationRow, rel: &Related) {
        let id = c.id.unwrap_or_default();
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(w, "classifications", id);
        w.key("taxon");
        self.nested(w, Nested::Taxon, c.taxon_id);
        w.key("score").opt_float(c.score);
        w.key("terminal").opt_bool(c.terminal);
        w.key("algorithm");
        self.nested(w, Nested::AlgorithmFull, c.algorithm_id);
        w.key("applied_to");
        let source = c.applied_to_id.and_then(|p| rel.applied_to.get(&p));
        match source {
            Some(source) if source.created_at.is_some() => {
                w.begin_object();
                w.key("id").int(source.id.unwrap_or_default());
                w.key("created_at");
                self.ts(w, source.created_at);
                w.key("algorithm");
                self.nested(w, Nested::AlgorithmFull, source.algorithm_id);
                w.end_object();
            }
            _ => {
                w.null();
            }
        }
        w.key("created_at");
        self.ts(w, c.created_at);
        w.key("user_permissions").strs(&[]);
        w.end_object();
    }

    /// occurrence-identification shape (of an occurrence of `project`).
    fn identification(&self, w: &mut S, i: &IdentificationRow, project: Option<i64>) {
        let id = i.id.unwrap_or_default();
        let own = self.who.user_id().is_some() && self.who.user_id() == i.user_id;
        // OccurrenceIdentificationSerializer: own, or a Project manager (superuser status
        // alone does not grant it).
        let may_delete = own || self.manager(project);
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(w, "identifications", id);
        w.key("taxon");
        self.nested(w, Nested::Taxon, i.taxon_id);
        w.key("user");
        self.nested(w, Nested::User, i.user_id);
        w.key("withdrawn").opt_bool(i.withdrawn);
        w.key("comment").opt_str(i.comment.as_deref());
        w.key("created_at");
        self.ts(w, i.created_at);
        let perms: &[&str] = if may_delete { &["delete"] } else { &[] };
        w.key("user_permissions").strs(perms);
        w.end_object();
    }

    fn detection(&self, w: &mut S, d: &DetectionRow, rel: &Related, project: Option<i64>) {
        let detail = rel.detail.as_ref().expect("detail relations");
        let id = d.id.unwrap_or_default();
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(w, "detections", id);
        w.key("timestamp");
        self.ts(w, d.timestamp);
        w.key("url");
        self.media(w, d.path.as_deref().filter(|p| !p.is_empty()));
        w.key("capture");
        match d.capture_id {
            Some(cid) => {
                w.begin_object();
                w.key("id").int(cid);
                w.key("details");
                self.link(w, "captures", cid);
                let path = d.capture_path.as_deref().unwrap_or("");
                let url = self
                    .capture_urls
                    .borrow_mut()
                    .url(d.capture_public_base_url.as_deref(), path);
                w.key("url").opt_str(url.as_deref());
                w.key("width").opt_int(d.capture_width);
                w.key("height").opt_int(d.capture_height);
                w.key("user_permissions")
                    .strs(self.perms(Object::Capture, project));
                w.end_object();
            }
            None => {
                w.null();
            }
        }
        w.key("width").null();
        w.key("height").null();
        w.key("bbox").stored_json(d.bbox.as_deref());
        w.key("occurrence");
        match d.occurrence_id {
            Some(o) => self.link(w, "occurrences", o),
            None => {
                w.null();
            }
        }
        w.key("classifications").begin_array();
        let classifications = detail.detection_classifications.get(&id);
        for c in classifications.into_iter().flatten() {
            if let Some(c) = rel.classifications.get(c) {
                self.classification(w, c, rel);
            }
        }
        w.end_array();
        w.key("user_permissions")
            .strs(self.perms(Object::Detection, project));
        w.end_object();
    }

    /// The classifications detail `o` shows more than once: its prediction candidates and
    /// best prediction (each also one of its detections' classifications). None in a list
    /// item.
    fn note_repeated(&self, o: &OccurrenceRow, rel: &Related) {
        let mut repeated = self.repeated.borrow_mut();
        repeated.clear();
        let Some(detail) = &rel.detail else {
            return;
        };
        let id = o.id.unwrap_or_default();
        let predictions = detail.predictions.get(&id).into_iter().flatten();
        for c in predictions.chain(o.best_prediction_id.as_ref()) {
            if !repeated.iter().any(|(r, _)| r == c) {
                repeated.push((*c, Seen::Not));
            }
        }
    }

    /// Write a list item (§4.2), or with `rel.detail` a detail item (§4.3), to `w`.
    pub fn write_occurrence(&self, w: &mut S, o: &OccurrenceRow, rel: &Related) {
        let tz = self.cfg.time_zone;
        let id = o.id.unwrap_or_default();
        let project = o.project_id;
        let identifications = rel.identifications.get(&id).map_or(&[][..], Vec::as_slice);
        let best_ident = o
            .best_identification_id
            .and_then(|b| identifications.iter().find(|i| i.id == Some(b)));
        let best_pred = o
            .best_prediction_id
            .and_then(|c| rel.classifications.get(&c));
        self.note_repeated(o, rel);
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(w, "occurrences", id);
        w.key("event");
        self.nested(w, Nested::Event, o.event_id);
        w.key("deployment");
        self.nested(w, Nested::Deployment, o.deployment_id);
        let (first, time, duration) = (
            o.first_appearance_timestamp.map(|t| iso(t, tz)),
            o.first_appearance_time.map(time_of_day),
            o.duration,
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
        w.key("first_appearance_timestamp")
            .opt_str(first.as_deref());
        w.key("first_appearance_time").opt_str(time.as_deref());
        w.key("duration").opt_str(duration.as_deref());
        w.key("duration_label").str(&duration_label(o.duration));
        w.key("determination");
        self.nested(w, Nested::Determination, o.determination_id);
        w.key("detections_count").opt_int(o.detections_count);
        w.key("detection_images").begin_array();
        match &rel.detail {
            Some(d) => {
                for p in d.images.get(&id).into_iter().flatten() {
                    // The export keeps `""` (as the media base alone); the API drops it.
                    if self.export || !p.is_empty() {
                        self.media(w, Some(p));
                    }
                }
            }
            None => {
                let cover = media_url(o.cover_image_path.as_deref(), &self.cfg.media_url);
                if let Some(url) = cover {
                    w.str(&url);
                }
            }
        }
        w.end_array();
        w.key("determination_score")
            .opt_float(o.determination_score);
        w.key("determination_details").begin_object();
        w.key("taxon");
        self.nested(w, Nested::Taxon, o.determination_id);
        w.key("identification");
        match best_ident {
            Some(i) => self.identification(w, i, project),
            None => {
                w.null();
            }
        }
        w.key("prediction");
        match (best_ident, best_pred) {
            (None, Some(p)) => self.classification(w, p, rel),
            _ => {
                w.null();
            }
        }
        w.key("score").opt_float(o.determination_score);
        w.end_object();
        w.key("best_machine_prediction");
        match best_pred {
            Some(p) => {
                w.begin_object();
                w.key("taxon");
                self.nested(w, Nested::Taxon, p.taxon_id);
                w.key("algorithm");
                self.nested(w, Nested::AlgorithmShort, p.algorithm_id);
                w.key("score").opt_float(p.score);
                w.end_object();
            }
            None => {
                w.null();
            }
        }
        w.key("identifications").begin_array();
        for i in identifications {
            self.identification(w, i, project);
        }
        w.end_array();
        w.key("created_at");
        self.ts(w, o.created_at);
        w.key("updated_at");
        self.ts(w, o.updated_at);
        if let Some(d) = &rel.detail {
            w.key("determination_id").opt_int(o.determination_id);
            w.key("detections").begin_array();
            for det in d.detections.get(&id).into_iter().flatten() {
                self.detection(w, det, rel, project);
            }
            w.end_array();
            w.key("predictions").begin_array();
            let predictions = d.predictions.get(&id).into_iter().flatten();
            for c in predictions.filter_map(|c| rel.classifications.get(c)) {
                self.classification(w, c, rel);
            }
            w.end_array();
        }
        if !self.export {
            w.key("user_permissions")
                .strs(self.perms(Object::Occurrence, project));
        }
        w.end_object();
    }
}
