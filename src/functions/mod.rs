//! occlens's SQL functions, registered in every session: the top-1 aggregates
//! (`arg_max`/`arg_min`, and `arg_max_of_maxima` for a top 1 of per-part top 1s), the ordered
//! concatenation, the count of repeated keys, and the render functions that print values as
//! Antenna (Python) does. The rules that use them stay in `queries/`.

pub mod arg_best;
mod best_values;
mod chunked;
mod key_tuple;
pub mod maxima;
pub mod ordered_concat;
pub mod render_udf;
pub mod repeated_keys;
mod single_group;
pub mod udf;
