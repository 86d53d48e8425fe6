//! occlens: Antenna's occurrence list, detail and exports recomputed with DataFusion SQL over
//! Parquet snapshots of Antenna's database.
//!
//! Layers, each depending only on those before it:
//! [`render`] (value formatting) and [`staging`] (temporary names), no dependencies · [`snapshot`] (locate, register, validate tables) → [`views`] (requests to the SQL of
//! `queries/`) → [`output`] (JSON and tables) → the `occlens` command line.

pub mod check;
pub mod compare;
pub mod dwca;
pub mod error;
pub mod generate;
pub mod output;
pub mod pg;
pub mod redact;
pub mod render;
pub mod serve;
pub mod snapshot;
pub mod staging;
pub mod verify;
pub mod views;

pub use error::{Error, Result};
pub use views::{Config, Engine};
