//! Output: JSON shapes of the API, export writers, tables.

pub mod api;
pub mod csv_export;
pub mod json_export;
pub mod shape;
pub mod table;
pub mod target;
pub mod text_csv;
