//! The export writers: Antenna's CSV and JSON byte for byte (`csv_export`, `json_export`),
//! the flat CSV of data tools (`text_csv`), and where an export is written (`target`).

pub mod csv_export;
pub mod json_export;
pub mod target;
pub mod text_csv;
