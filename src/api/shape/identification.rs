//! An identification as `/api/v2/identifications/` gives it (IdentificationSerializer): its
//! user, its occurrence (OccurrenceNestedSerializer: id, details, the determination shape),
//! its taxon in the nested-taxon shape, and its own fields.

use super::{Nested, Shaper};
use crate::engine::rows::{Row, RowExt};
use crate::render::json_text::{JsonSink, ValueTree};
use serde_json::Value;

/// What the requester may do, on the identification and on its occurrence.
pub struct IdentificationPermissions<'p> {
    pub identification: &'p [&'p str],
    pub occurrence: &'p [&'p str],
}

impl Shaper<'_, ValueTree> {
    /// `row`: the identification's columns, `occurrence_found` and the occurrence's
    /// `determination_id`; timestamps in microseconds.
    pub fn identification_item(&self, row: &Row, perms: &IdentificationPermissions) -> Value {
        let mut w = ValueTree::default();
        let id = row.i64("id").unwrap_or_default();
        w.begin_object();
        w.key("id").int(id);
        w.key("details");
        self.link(&mut w, "identifications", id);
        w.key("user");
        self.nested(&mut w, Nested::User, row.i64("user_id"));
        w.key("occurrence");
        match row.i64("occurrence_found") {
            Some(o) => {
                w.begin_object();
                w.key("id").int(o);
                w.key("details");
                self.link(&mut w, "occurrences", o);
                w.key("determination");
                self.nested(&mut w, Nested::Determination, row.i64("determination_id"));
                w.key("user_permissions").strs(perms.occurrence);
                w.end_object();
            }
            None => {
                w.null();
            }
        }
        w.key("taxon");
        self.nested(&mut w, Nested::Taxon, row.i64("taxon_id"));
        w.key("withdrawn").opt_bool(row.bool("withdrawn"));
        w.key("agreed_with_identification_id")
            .opt_int(row.i64("agreed_with_identification_id"));
        w.key("agreed_with_prediction_id")
            .opt_int(row.i64("agreed_with_prediction_id"));
        w.key("comment").opt_str(row.str("comment"));
        w.key("created_at");
        self.ts(&mut w, row.i64("created_at"));
        w.key("updated_at");
        self.ts(&mut w, row.i64("updated_at"));
        w.key("user_permissions").strs(perms.identification);
        w.end_object();
        w.finish()
    }
}
