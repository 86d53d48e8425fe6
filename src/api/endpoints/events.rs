//! (being written)

use crate::api::endpoints::{Answer, Endpoints, Order};
use crate::api::params::Params;
use crate::api::request::ApiError;

pub async fn get(_e: &Endpoints<'_>, _tail: &[&str]) -> Answer {
    Ok(Err(ApiError::not_found()))
}

pub fn order(_p: &Params, _tail: &[&str]) -> Option<Order> {
    None
}
