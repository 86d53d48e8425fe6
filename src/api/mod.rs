//! The API requests: parsing a URL as Antenna's viewset reads it (`request`), the SQL
//! conditions and orderings it selects with (`query`), and the JSON shapes of the answers
//! (`shape`, `respond`).

pub mod answer;
pub mod endpoints;
pub mod paging;
pub mod params;
pub mod query;
pub mod request;
pub mod respond;
pub mod route;
pub mod shape;

pub use respond::{get, Response};
