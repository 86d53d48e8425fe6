//! The snapshot contract: which Antenna tables occlens reads, their columns and Arrow types.
//!
//! Mirrors `SCHEMA.md` of the Antenna oracle snapshot. Columns marked `used` are read by
//! `queries/*.sql` and validated when a snapshot is opened; the others are written by the
//! generator so that its output follows the full contract, but may be absent from a snapshot.

use datafusion::arrow::datatypes::{Field, Schema};

pub use super::column_kind::Kind;

#[derive(Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
    pub used: bool,
    /// Added by a later Antenna migration: a snapshot without it reads it as NULL.
    pub fill: bool,
}

pub struct Table {
    pub name: &'static str,
    /// Required tables must be present; optional ones are registered empty when absent.
    pub required: bool,
    pub columns: &'static [Column],
}

impl Table {
    /// Columns a snapshot may store that `queries/` derives under the same name beside the
    /// table's own columns (`valid_occurrence` adds the detection aggregates to
    /// `main_occurrence.*`, `detection_local` two columns to `main_detection.*`, the DwC-A
    /// export three to `main_event.*`): a table
    /// that stores one (a later schema caching a count) is read without it, since every
    /// view would fail on the repeated name, and occlens recomputes it anyway.
    pub fn derived_names(&self) -> &'static [&'static str] {
        match self.name {
            "main_occurrence" => &[
                "detections_count",
                "first_appearance_timestamp",
                "last_appearance_timestamp",
                "first_appearance_time",
                "duration",
                "cover_image_path",
            ],
            "main_detection" => &["is_null_marker", "local_timestamp"],
            // The DwC-A export's events (`queries/dwca.sql`): local start and end, position.
            "main_event" => &["ls", "le", "position"],
            _ => &[],
        }
    }

    /// The full Arrow schema of the contract (every column, used or not).
    pub fn schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.kind.data_type(), c.nullable))
                .collect::<Vec<_>>(),
        )
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn c(name: &'static str, kind: Kind, nullable: bool, used: bool) -> Column {
    Column {
        name,
        kind,
        nullable,
        used,
        fill: false,
    }
}

/// A column of a later migration (e.g. `main_project.license`, DwC-A branch migration 0084):
/// used, nullable, and read as NULL when a snapshot predates it.
const fn later(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        nullable: true,
        used: true,
        fill: true,
    }
}

use Kind::*;

const TS: [Column; 3] = [
    c("id", I64, false, true),
    c("created_at", Ts, false, true),
    c("updated_at", Ts, false, true),
];

macro_rules! table {
    ($name:literal, $required:expr, [$($col:expr),* $(,)?]) => {
        Table { name: $name, required: $required, columns: &[$($col),*] }
    };
}

pub static TABLES: &[Table] = &[
    table!(
        "main_occurrence",
        true,
        [
            TS[0],
            TS[1],
            TS[2],
            c("deployment_id", I64, true, true),
            c("determination_id", I64, true, true),
            c("event_id", I64, true, true),
            c("project_id", I64, true, true),
            c("determination_score", F64, true, true),
        ]
    ),
    table!(
        "main_detection",
        true,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("bbox", Json, true, true),
            c("timestamp", Ts, true, true),
            c("path", Str, true, true),
            c("frame_num", I32, true, true),
            c("detection_time", Ts, true, false),
            c("detection_score", F64, true, true),
            c("similarity_vector", Json, true, false),
            c("occurrence_id", I64, true, true),
            c("source_image_id", I64, false, true),
            c("detection_algorithm_id", I64, true, true),
        ]
    ),
    table!(
        "main_classification",
        true,
        [
            TS[0],
            TS[1],
            c("updated_at", Ts, false, false),
            c("score", F64, true, true),
            c("timestamp", Ts, false, false),
            c("algorithm_id", I64, true, true),
            c("detection_id", I64, true, true),
            c("taxon_id", I64, true, true),
            c("category_map_id", I64, true, false),
            c("logits", ListF64, true, false),
            c("scores", ListF64, true, false),
            c("terminal", Bool, false, true),
            c("applied_to_id", I64, true, true),
        ]
    ),
    table!(
        "main_identification",
        true,
        [
            TS[0],
            TS[1],
            // Read by `/identifications/` only: a snapshot without it reads it as NULL.
            later("updated_at", Ts),
            c("occurrence_id", I64, false, true),
            c("taxon_id", I64, true, true),
            c("user_id", I64, true, true),
            c("withdrawn", Bool, false, true),
            c("agreed_with_identification_id", I64, true, true),
            c("agreed_with_prediction_id", I64, true, true),
            c("comment", Str, false, true),
        ]
    ),
    table!(
        "main_taxon",
        true,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("name", Str, false, true),
            c("rank", Str, false, true),
            c("active", Bool, false, true),
            c("gbif_taxon_key", I64, true, true),
            c("authorship_date", Date, true, false),
            c("ordering", I32, true, true),
            c("parent_id", I64, true, true),
            c("synonym_of_id", I64, true, false),
            c("display_name", Str, true, true),
            c("author", Str, false, false),
            c("bold_taxon_bin", Str, true, true),
            c("inat_taxon_id", I64, true, true),
            c("notes", Str, false, false),
            c("sort_phylogeny", I64, true, false),
            c("parents_json", Json, false, true),
            c("search_names", ListStr, true, true),
            c("common_name_en", Str, true, true),
            c("cover_image_credit", Str, true, true),
            c("cover_image_url", Str, true, true),
            c("fieldguide_id", Str, true, true),
        ]
    ),
    table!(
        "ml_algorithm",
        true,
        [
            TS[0],
            TS[1],
            TS[2],
            c("name", Str, false, true),
            c("key", Str, false, true),
            c("description", Str, false, true),
            c("version", I32, false, true),
            c("version_name", Str, true, true),
            c("category_map_id", I64, true, true),
            c("task_type", Str, true, true),
            c("uri", Str, true, true),
        ]
    ),
    table!(
        "ml_algorithmcategorymap",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("data", Json, false, false),
            c("labels", ListStr, false, true),
            c("version", Str, true, false),
            c("description", Str, true, false),
            c("labels_hash", I64, true, false),
            c("uri", Str, true, false),
        ]
    ),
    table!(
        "main_sourceimage",
        true,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("path", Str, false, true),
            c("public_base_url", Str, true, true),
            c("timestamp", Ts, true, true),
            c("width", I32, true, true),
            c("height", I32, true, true),
            c("size", I64, true, true),
            c("last_modified", Ts, true, false),
            c("checksum", Str, true, false),
            c("checksum_algorithm", Str, true, false),
            c("deployment_id", I64, true, true),
            c("event_id", I64, true, true),
            c("project_id", I64, true, true),
            c("test_image", Bool, false, false),
            c("uploaded_by_id", I64, true, false),
            c("detections_count", I32, true, true),
        ]
    ),
    table!(
        "main_event",
        true,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("group_by", Str, false, false),
            c("start", Ts, false, true),
            c("end", Ts, true, true),
            c("deployment_id", I64, true, true),
            c("project_id", I64, true, true),
            c("calculated_fields_updated_at", Ts, true, false),
            c("captures_count", I32, true, true),
            c("detections_count", I32, true, true),
            c("occurrences_count", I32, true, true),
        ]
    ),
    table!(
        "main_deployment",
        true,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("name", Str, false, true),
            c("description", Str, false, true),
            c("data_source_total_files", I32, true, true),
            c("data_source_total_size", I64, true, true),
            c("data_source_subdir", Str, true, true),
            c("data_source_regex", Str, true, true),
            c("data_source_last_checked", Ts, true, true),
            c("latitude", F64, true, true),
            c("longitude", F64, true, true),
            c("image", Str, true, true),
            c("data_source_id", I64, true, true),
            c("device_id", I64, true, true),
            c("project_id", I64, true, true),
            c("research_site_id", I64, true, true),
            c("captures_count", I32, true, true),
            c("detections_count", I32, true, false),
            c("events_count", I32, true, true),
            c("first_capture_timestamp", Ts, true, true),
            c("last_capture_timestamp", Ts, true, true),
            c("occurrences_count", I32, true, true),
            c("taxa_count", I32, true, true),
        ]
    ),
    table!(
        "main_project",
        true,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("name", Str, false, true),
            c("description", Str, false, true),
            c("image", Str, true, true),
            c("active", Bool, false, true),
            c("priority", I32, false, true),
            c("owner_id", I64, true, true),
            c("feature_flags", Json, false, true),
            c("default_filters_score_threshold", F64, false, true),
            c("default_processing_pipeline_id", I64, true, true),
            c("session_time_gap_seconds", I32, false, true),
            c("draft", Bool, false, true),
            later("license", Str),
            later("rights_holder", Str),
        ]
    ),
    table!(
        "main_project_default_filters_include_taxa",
        false,
        [
            c("id", I64, false, true),
            c("project_id", I64, false, true),
            c("taxon_id", I64, false, true),
        ]
    ),
    table!(
        "main_project_default_filters_exclude_taxa",
        false,
        [
            c("id", I64, false, true),
            c("project_id", I64, false, true),
            c("taxon_id", I64, false, true),
        ]
    ),
    table!(
        "main_sourceimagecollection",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("name", Str, false, false),
            c("description", Str, false, false),
            c("method", Str, false, false),
            c("kwargs", Json, true, false),
            c("project_id", I64, false, true),
        ]
    ),
    table!(
        "main_sourceimagecollection_images",
        false,
        [
            c("id", I64, false, true),
            c("sourceimagecollection_id", I64, false, true),
            c("sourceimage_id", I64, false, true),
        ]
    ),
    table!(
        "main_taxalist",
        false,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("name", Str, false, true),
            c("description", Str, false, true),
        ]
    ),
    table!(
        "main_taxalist_taxa",
        false,
        [
            c("id", I64, false, true),
            c("taxalist_id", I64, false, true),
            c("taxon_id", I64, false, true),
        ]
    ),
    table!(
        "main_taxalist_projects",
        false,
        [
            c("id", I64, false, true),
            c("taxalist_id", I64, false, true),
            c("project_id", I64, false, true),
        ]
    ),
    table!(
        "main_taxon_projects",
        false,
        [
            c("id", I64, false, false),
            c("taxon_id", I64, false, true),
            c("project_id", I64, false, true),
        ]
    ),
    // A deployment's storage source (S3StorageSource): optional; absent, `data_source` is null.
    // Its access and secret keys are never part of a snapshot (src/pg/mod.rs copies only
    // these columns).
    table!(
        "main_s3storagesource",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("name", Str, false, true),
            c("bucket", Str, false, true),
            c("prefix", Str, false, true),
            c("project_id", I64, true, true),
        ]
    ),
    // ML pipelines (a project's default_processing_pipeline): optional; absent, it is null.
    table!(
        "ml_pipeline",
        false,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("name", Str, false, true),
            c("slug", Str, false, true),
            c("description", Str, true, true),
            c("version", I32, false, true),
            c("version_name", Str, true, true),
        ]
    ),
    // A pipeline's algorithms (Pipeline.algorithms) and the pipelines a project enabled
    // (ProjectPipelineConfig): optional; absent, a project's `/ml/algorithms/` list is empty.
    table!(
        "ml_pipeline_algorithms",
        false,
        [
            c("id", I64, false, false),
            c("pipeline_id", I64, false, true),
            c("algorithm_id", I64, false, true),
        ]
    ),
    table!(
        "ml_projectpipelineconfig",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("project_id", I64, false, true),
            c("pipeline_id", I64, false, true),
            c("enabled", Bool, false, true),
        ]
    ),
    // Jobs (ami.jobs Job): optional; absent, deployments have no `jobs` and projects no
    // `last_job_updated_at`.
    table!(
        "jobs_job",
        false,
        [
            TS[0],
            c("created_at", Ts, false, true),
            c("updated_at", Ts, false, true),
            c("name", Str, false, false),
            c("status", Str, false, true),
            c("job_type_key", Str, false, true),
            c("project_id", I64, true, true),
            c("deployment_id", I64, true, true),
        ]
    ),
    // Taxon tags (Antenna's Tag model and Taxon.tags): optional; absent, no taxon has a tag.
    table!(
        "main_tag",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("name", Str, false, true),
            c("project_id", I64, true, true),
        ]
    ),
    table!(
        "main_taxon_tags",
        false,
        [
            c("id", I64, false, false),
            c("taxon_id", I64, false, true),
            c("tag_id", I64, false, true),
        ]
    ),
    table!(
        "main_userprojectmembership",
        false,
        [
            c("id", I64, false, true),
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("user_id", I64, false, true),
            c("project_id", I64, false, true),
        ]
    ),
    table!(
        "main_site",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("name", Str, false, true),
            c("description", Str, false, false),
            c("project_id", I64, true, false),
        ]
    ),
    table!(
        "main_device",
        false,
        [
            TS[0],
            c("created_at", Ts, false, false),
            c("updated_at", Ts, false, false),
            c("name", Str, false, true),
            c("description", Str, false, false),
            c("project_id", I64, true, false),
        ]
    ),
    table!(
        "users_user",
        true,
        [
            c("id", I64, false, true),
            c("email", Str, false, true),
            c("name", Str, false, true),
            // The avatar (an ImageField's storage path): a snapshot without it (PII kept
            // out) reads it as NULL, i.e. `"image": null`.
            later("image", Str),
        ]
    ),
];

pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}
