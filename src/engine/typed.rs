//! The rows the occurrence shapes read, decoded from Arrow into Rust structs: one declaration
//! per view row (its columns and their kinds), the boundary between `queries/` and the JSON
//! writers. [`check`] compares every declaration with its views' schemas when the engine
//! opens, so a column renamed or retyped in `queries/` is an error naming the view and the
//! column — never a `null` in output.
//!
//! Kinds: `Int` (any integer type), `Float`, `Bool`, `Str` (any string type), and `Time`
//! (timestamps, durations, times of day and dates, decoded as integer microseconds — UTC
//! instants for timestamps — as [`crate::engine::rows`] decodes them).

use crate::engine::rows::CastColumn;
use crate::error::{Error, Result};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;

/// The kind of value a declared column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Int,
    Float,
    Bool,
    Str,
    Time,
}

impl Want {
    /// Whether a column of type `t` can be decoded as this kind (NULL literals can be any).
    pub fn accepts(self, t: &DataType) -> bool {
        use DataType as T;
        matches!(t, T::Null)
            || match self {
                Want::Int => t.is_integer(),
                Want::Float => matches!(t, T::Float64 | T::Float32),
                Want::Bool => matches!(t, T::Boolean),
                Want::Str => matches!(t, T::Utf8 | T::LargeUtf8 | T::Utf8View),
                Want::Time => matches!(
                    t,
                    T::Timestamp(..) | T::Duration(_) | T::Time64(_) | T::Time32(_) | T::Date32
                ),
            }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Want::Int => "an integer",
            Want::Float => "a float",
            Want::Bool => "a boolean",
            Want::Str => "a string",
            Want::Time => "a timestamp, duration, time or date",
        }
    }
}

/// A struct decoded from the rows of some views.
pub trait ViewRow: Sized {
    /// The views whose rows decode to this struct.
    const VIEWS: &'static [&'static str];
    /// Its columns, as the views name them, and their kinds.
    const COLUMNS: &'static [(&'static str, Want)];
    /// The rows of `batch`, a result of `view`.
    fn decode(batch: &RecordBatch, view: &str) -> Result<Vec<Self>>;

    /// The rows of `batches`, in order.
    fn decode_all(batches: &[RecordBatch], view: &str) -> Result<Vec<Self>> {
        let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for b in batches {
            rows.extend(Self::decode(b, view)?);
        }
        Ok(rows)
    }
}

/// The error for `view`'s `column`, expected `want`, found `found` (None: absent).
fn mismatch(view: &str, column: &str, want: Want, found: Option<&DataType>) -> Error {
    Error::ViewColumn {
        view: view.to_string(),
        column: column.to_string(),
        expected: want.describe().to_string(),
        found: found.map_or("no such column".into(), |t| format!("{t}")),
    }
}

/// Check `schema` (a result of `view`) against `columns`.
pub fn check_schema(view: &str, schema: &Schema, columns: &[(&str, Want)]) -> Result<()> {
    for (name, want) in columns {
        match schema.field_with_name(name) {
            Ok(f) if want.accepts(f.data_type()) => {}
            Ok(f) => return Err(mismatch(view, name, *want, Some(f.data_type()))),
            Err(_) => return Err(mismatch(view, name, *want, None)),
        }
    }
    Ok(())
}

/// `batch`'s column `name`, cast for reading as `want`.
pub fn column(batch: &RecordBatch, view: &str, name: &str, want: Want) -> Result<CastColumn> {
    let c = batch
        .column_by_name(name)
        .ok_or_else(|| mismatch(view, name, want, None))?;
    if !want.accepts(c.data_type()) {
        return Err(mismatch(view, name, want, Some(c.data_type())));
    }
    CastColumn::of(c.as_ref())
}

macro_rules! read {
    (Int, $c:expr, $i:expr) => {
        $c.i64($i)
    };
    (Time, $c:expr, $i:expr) => {
        $c.i64($i)
    };
    (Float, $c:expr, $i:expr) => {
        match $c.cell($i) {
            crate::engine::rows::Cell::Float(v) => Some(v),
            _ => None,
        }
    };
    (Bool, $c:expr, $i:expr) => {
        match $c.cell($i) {
            crate::engine::rows::Cell::Bool(v) => Some(v),
            _ => None,
        }
    };
    (Str, $c:expr, $i:expr) => {
        $c.str($i).map(str::to_owned)
    };
}

macro_rules! rust_type {
    (Int) => { Option<i64> };
    (Time) => { Option<i64> };
    (Float) => { Option<f64> };
    (Bool) => { Option<bool> };
    (Str) => { Option<String> };
}

/// Declare view rows: `Name in ["view", …] { column: Kind, … }`.
macro_rules! view_rows {
    ($( $(#[$doc:meta])* $name:ident in [$($view:literal),+] { $($field:ident: $want:ident),* $(,)? } )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(pub $field: rust_type!($want),)*
        }

        impl ViewRow for $name {
            const VIEWS: &'static [&'static str] = &[$($view),+];
            const COLUMNS: &'static [(&'static str, Want)] =
                &[$((stringify!($field), Want::$want)),*];

            fn decode(batch: &RecordBatch, view: &str) -> Result<Vec<Self>> {
                $(let $field = column(batch, view, stringify!($field), Want::$want)?;)*
                Ok((0..batch.num_rows())
                    .map(|i| $name { $($field: read!($want, $field, i),)* })
                    .collect())
            }
        }
    )*};
}

view_rows! {
    /// A row of `occurrence_list` (spec §3): what a list or detail item shows of an
    /// occurrence, with its best prediction's `classification_detail` columns.
    OccurrenceRow in ["occurrence_list"] {
        id: Int,
        project_id: Int,
        deployment_id: Int,
        event_id: Int,
        determination_id: Int,
        determination_score: Float,
        detections_count: Int,
        first_appearance_timestamp: Time,
        first_appearance_time: Time,
        duration: Time,
        cover_image_path: Str,
        best_prediction_id: Int,
        best_identification_id: Int,
        created_at: Time,
        updated_at: Time,
        best_prediction_created_at: Time,
        best_prediction_score: Float,
        best_prediction_terminal: Bool,
        best_prediction_algorithm_id: Int,
        best_prediction_taxon_id: Int,
        best_prediction_detection_id: Int,
        best_prediction_applied_to_id: Int,
    }

    /// A classification as its nested JSON shows it (`classification_detail`; a detail's
    /// detection classifications and prediction candidates carry the same columns).
    ClassificationRow in ["classification_detail", "detection_classifications", "prediction_candidates"] {
        id: Int,
        created_at: Time,
        score: Float,
        terminal: Bool,
        algorithm_id: Int,
        taxon_id: Int,
        detection_id: Int,
        applied_to_id: Int,
    }

    /// The occurrence of a related row (prediction candidates are grouped by it).
    OccurrenceKey in ["prediction_candidates", "detection_classifications"] {
        occurrence_id: Int,
    }

    /// An identification of an occurrence, in output order.
    IdentificationRow in ["occurrence_identifications"] {
        id: Int,
        occurrence_id: Int,
        taxon_id: Int,
        user_id: Int,
        withdrawn: Bool,
        comment: Str,
        created_at: Time,
    }

    /// A detection of a detail, with its capture's columns (`capture_id` NULL: no capture).
    DetectionRow in ["detail_detections"] {
        id: Int,
        occurrence_id: Int,
        source_image_id: Int,
        timestamp: Time,
        path: Str,
        bbox: Str,
        capture_id: Int,
        capture_path: Str,
        capture_public_base_url: Str,
        capture_width: Int,
        capture_height: Int,
    }

    /// A detail image path of an occurrence, in output order.
    ImageRow in ["detail_images", "export_detection_images"] {
        occurrence_id: Int,
        path: Str,
    }

    /// A stored determination that differs from the expected one (`occlens audit`; checked
    /// against the audit's statements when they start, not at open: the requests never plan
    /// the audit's views).
    AuditDifferenceRow in ["audit_difference"] {
        id: Int,
        project_id: Int,
        class: Str,
        stored_taxon_id: Int,
        stored_score: Float,
        expected_taxon_id: Int,
        expected_score: Float,
        best_identification_id: Int,
        best_prediction_id: Int,
    }

    /// An occurrence the API hides, with the reason (`occlens audit`).
    AuditInvalidRow in ["audit_invalid"] {
        id: Int,
        project_id: Int,
        reason: Str,
    }
}

impl OccurrenceRow {
    /// The best prediction (spec §3.3) as a `classification_detail` row.
    pub fn best_prediction(&self) -> Option<ClassificationRow> {
        Some(ClassificationRow {
            id: Some(self.best_prediction_id?),
            created_at: self.best_prediction_created_at,
            score: self.best_prediction_score,
            terminal: self.best_prediction_terminal,
            algorithm_id: self.best_prediction_algorithm_id,
            taxon_id: self.best_prediction_taxon_id,
            detection_id: self.best_prediction_detection_id,
            applied_to_id: self.best_prediction_applied_to_id,
        })
    }
}

/// The declarations and the views each reads, for [`check`].
fn declarations() -> Vec<(&'static str, &'static [(&'static str, Want)])> {
    fn of<R: ViewRow>() -> impl Iterator<Item = (&'static str, &'static [(&'static str, Want)])> {
        R::VIEWS.iter().map(|v| (*v, R::COLUMNS))
    }
    of::<OccurrenceRow>()
        .chain(of::<ClassificationRow>())
        .chain(of::<OccurrenceKey>())
        .chain(of::<IdentificationRow>())
        .chain(of::<DetectionRow>())
        .chain(of::<ImageRow>())
        .collect()
}

/// Check every declared row against the schema of its views in `ctx` (views of `queries/`, or
/// the cache's tables standing for them): the first mismatch is the error.
pub async fn check(ctx: &SessionContext) -> Result<()> {
    for (view, columns) in declarations() {
        let schema = ctx.table(view).await?.schema().as_arrow().clone();
        check_schema(view, &schema, columns)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int32Array, StringArray};
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;

    fn batch(fields: Vec<(&str, Arc<dyn datafusion::arrow::array::Array>)>) -> RecordBatch {
        let schema = Schema::new(
            fields
                .iter()
                .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(Arc::new(schema), fields.into_iter().map(|f| f.1).collect()).unwrap()
    }

    #[test]
    fn rows_decode_typed_values_and_nulls() {
        let b = batch(vec![
            (
                "occurrence_id",
                Arc::new(Int32Array::from(vec![Some(7), None])),
            ),
            (
                "path",
                Arc::new(StringArray::from(vec![Some("a.jpg"), None])),
            ),
        ]);
        let rows = ImageRow::decode(&b, "detail_images").unwrap();
        assert_eq!(
            rows,
            [
                ImageRow {
                    occurrence_id: Some(7),
                    path: Some("a.jpg".into())
                },
                ImageRow::default()
            ]
        );
    }

    #[test]
    fn a_missing_or_retyped_column_is_an_error_naming_the_view_and_column() {
        let b = batch(vec![(
            "occurrence_id",
            Arc::new(Int32Array::from(vec![1])) as _,
        )]);
        let e = ImageRow::decode(&b, "detail_images")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "view detail_images: column path: expected a string, found no such column"
        );
        let b = batch(vec![
            (
                "occurrence_id",
                Arc::new(Float64Array::from(vec![1.0])) as _,
            ),
            ("path", Arc::new(StringArray::from(vec!["a"])) as _),
        ]);
        let e = check_schema("detail_images", &b.schema(), ImageRow::COLUMNS)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "view detail_images: column occurrence_id: expected an integer, found Float64"
        );
    }
}
