//! Snapshots made by occlens itself: the row builder and the synthetic generator.

pub mod builder;
mod synthetic;

pub use builder::SnapshotBuilder;
pub use synthetic::synthetic;
