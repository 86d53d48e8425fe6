//! occlens: Antenna's occurrence list, detail and exports recomputed with DataFusion SQL over
//! Parquet snapshots of Antenna's database.
//!
//! Layers, each depending only on those before it:
//! [`render`] (value formatting) and [`staging`] (temporary names), no dependencies · [`snapshot`] (locate, register, validate tables) → [`views`] (requests to the SQL of
//! `queries/`) → [`output`] (JSON and tables) → the `occlens` command line.

pub mod api;
pub mod check;
pub mod dwca;
pub mod engine;
pub mod error;
pub mod exports;
pub mod functions;
pub mod generate;
pub mod pg;
pub mod redact;
pub mod render;
pub mod serve;
pub mod snapshot;
pub mod staging;
pub mod verify;

pub use engine::{Config, Engine};
pub use error::{Error, Result};
