//! The nested objects of the occurrence shapes that depend only on a dimension row and the
//! requester (determination, event, deployment, user, algorithms); the shaper renders each once.

use super::{val, Nested, Object, Shaper};
use crate::engine::rows::RowExt;
use crate::render::json_text::JsonSink;
use crate::render::media::absolute_media_url;
use crate::render::timefmt::{date_label, event_name};

impl<S: JsonSink> Shaper<'_, S> {
    /// The top-level `determination`: no `parents` key (spec §4.4, §9.8).
    pub(super) fn determination(&self, w: &mut S, id: i64) {
        let Some(t) = self.dims.taxa.get(&id) else {
            w.null();
            return;
        };
        w.begin_object();
        w.key("id").int(id);
        w.key("name").value(val(&t, "name"));
        w.key("parent");
        self.nested(w, Nested::TaxonNoParent, t.i64("parent_id"));
        w.key("rank").value(val(&t, "rank"));
        w.key("details");
        self.link(w, "taxa", id);
        w.key("user_permissions").strs(&[]);
        w.end_object();
    }

    pub(super) fn event(&self, w: &mut S, id: i64) {
        let Some(e) = self.dims.events.get(&id) else {
            w.null();
            return;
        };
        let tz = self.cfg.time_zone;
        let (start, end) = (e.i64("start").unwrap_or(0), e.i64("end"));
        w.begin_object();
        w.key("id").int(id);
        w.key("name").str(&event_name(start, end, tz));
        w.key("details");
        self.link(w, "events", id);
        w.key("date_label").str(&date_label(start, end, tz));
        w.key("user_permissions")
            .strs(self.perms(Object::Event, None));
        w.end_object();
    }

    pub(super) fn deployment(&self, w: &mut S, id: i64) {
        let Some(d) = self.dims.deployments.get(&id) else {
            w.null();
            return;
        };
        w.begin_object();
        w.key("id").int(id);
        w.key("name").value(val(&d, "name"));
        w.key("details");
        self.link(w, "deployments", id);
        w.key("user_permissions")
            .strs(self.perms(Object::Deployment, d.i64("project_id")));
        w.end_object();
    }

    pub(super) fn user(&self, w: &mut S, id: i64) {
        let Some(u) = self.dims.users.get(&id) else {
            w.null();
            return;
        };
        w.begin_object();
        w.key("id").int(id);
        w.key("name").value(val(&u, "name"));
        let image = absolute_media_url(u.str("image"), &self.cfg.media_url, self.base);
        w.key("image").opt_str(image.as_deref());
        w.key("details");
        self.link(w, "users", id);
        w.key("user_permissions").strs(&[]);
        w.end_object();
    }

    /// The full algorithm shape; `category_count` is null except in `/occurrences/algorithms/`.
    pub(super) fn algorithm_full(&self, w: &mut S, id: i64, category_count: Option<usize>) {
        let Some(a) = self.dims.algorithms.get(&id) else {
            w.null();
            return;
        };
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(w, "ml/algorithms", id);
        for k in [
            "name",
            "key",
            "description",
            "uri",
            "version",
            "version_name",
        ] {
            w.key(k).value(val(&a, k));
        }
        w.key("task_type").value(val(&a, "task_type"));
        w.key("category_map");
        match a.i64("category_map_id") {
            Some(c) => {
                w.begin_object();
                w.key("id").int(c);
                w.key("details");
                self.link(w, "ml/labels", c);
                w.key("user_permissions")
                    .strs(self.perms(Object::Algorithm, None));
                w.end_object();
            }
            None => {
                w.null();
            }
        }
        w.key("category_count")
            .opt_int(category_count.map(|n| n as i64));
        w.key("created_at");
        self.ts(w, a.i64("created_at"));
        w.key("updated_at");
        self.ts(w, a.i64("updated_at"));
        w.key("user_permissions")
            .strs(self.perms(Object::Algorithm, None));
        w.end_object();
    }

    pub(super) fn algorithm_short(&self, w: &mut S, id: i64) {
        let Some(a) = self.dims.algorithms.get(&id) else {
            w.null();
            return;
        };
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(w, "ml/algorithms", id);
        for k in ["name", "key", "version", "version_name"] {
            w.key(k).value(val(&a, k));
        }
        w.key("created_at");
        self.ts(w, a.i64("created_at"));
        w.key("updated_at");
        self.ts(w, a.i64("updated_at"));
        w.key("user_permissions")
            .strs(self.perms(Object::Algorithm, None));
        w.end_object();
    }
}
