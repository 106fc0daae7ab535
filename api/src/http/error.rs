//! Rendering `ApiError` in the seed's format `{"error":{"code","message","details","timestamp","requestId"}}`;
//! 5xx are logged with the request id and never show internals.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::http::request_id;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = request_id::current();
        if let ApiError::Internal(e) = &self {
            // logged with the request id; the client sees no internals
            tracing::error!(request_id = %request_id, error = ?e, "internal error");
        }
        let body = json!({"error": {
            "code": self.code(),
            "message": self.to_string(),
            "details": self.details(),
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "requestId": request_id,
        }});
        let mut res = (self.status(), axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs, .. } = &self {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after_secs));
        }
        res
    }
}
