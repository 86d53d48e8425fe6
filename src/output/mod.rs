//! Output: JSON shapes of the API, Python value rendering, media URLs, tables.

pub mod api;
pub mod csv_export;
pub mod json_export;
pub mod media;
pub mod pyfmt;
pub mod shape;
pub mod table;
pub mod timefmt;
