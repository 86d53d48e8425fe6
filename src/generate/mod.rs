//! Snapshots made by occlens itself: the row builder and the synthetic generator.

pub mod builder;
mod columnar;
pub mod scale;
mod synthetic;

pub use builder::SnapshotBuilder;
pub use scale::scale;
pub use synthetic::synthetic;
