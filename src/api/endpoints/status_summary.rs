//! (being written)

use crate::api::endpoints::{Answer, Endpoints};
use crate::api::request::ApiError;

pub async fn get(_e: &Endpoints<'_>, _tail: &[&str]) -> Answer {
    Ok(Err(ApiError::not_found()))
}
