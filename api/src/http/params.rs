//! Reading closed-set values (statuses, visibilities, ...) out of requests, with the error each
//! kind of input gets: a body field that breaks its set is a 422 naming the field, a query
//! parameter a 400.

use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::model::UnknownValue;

/// A body field's value: 422 `validation_failed` "{field} must be one of ..." otherwise.
pub fn field<T: std::str::FromStr<Err = UnknownValue>>(name: &str, value: &str) -> ApiResult<T> {
    value.parse().map_err(|e: UnknownValue| ApiError::validation(format!("{name} must be one of {}", e.allowed), json!({"field": name, "value": value})))
}

/// A query parameter's value: 400 "{name} '{value}': one of ..." otherwise.
pub fn query<T: std::str::FromStr<Err = UnknownValue>>(name: &str, value: &str) -> ApiResult<T> {
    value.parse().map_err(|e: UnknownValue| ApiError::BadRequest(format!("{name} '{value}': one of {}", e.allowed)))
}
