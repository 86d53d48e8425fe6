//! Value rendering with Python's and Django's conventions: float repr, JSON text, wall-clock
//! times, media and capture URLs. Pure functions on values; the SQL of `queries/` names some of
//! them as scalar functions, and the output writers use the rest.

pub mod filesize;
pub mod json_text;
pub mod media;
pub mod pyfmt;
pub mod slug;
pub mod stored_json;
pub mod timefmt;
