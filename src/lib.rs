//! occlens: Antenna's occurrence list, detail and exports recomputed with DataFusion SQL over
//! Parquet snapshots of Antenna's database.
//!
//! Layers, each depending only on those before it: [`render`], [`redact`] and [`staging`]
//! (value text, secrets, temporary names) · [`snapshot`] (locate, register, validate tables) →
//! [`engine`] (session, catalog of `queries/` views, cache, rows) and [`functions`] (UDFs and
//! UDAFs) → [`api`], [`exports`], [`dwca`], [`verify`], [`serve`], `cluster` → the `occlens`
//! command line.

pub mod api;
pub mod check;
#[cfg(feature = "cluster")]
pub mod cluster;
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
