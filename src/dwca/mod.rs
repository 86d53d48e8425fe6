//! Darwin Core Archive (antenna-exports-dwca.md §1–§2): the archive writer and the structural
//! validator that gates it.

pub mod archive;
pub mod eml;
pub mod validate;
