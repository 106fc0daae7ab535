//! Rendering `ApiError` in the seed's format `{"error":{"code","message","details","timestamp","requestId"}}`;
//! 5xx are logged with the request id and never show internals; axum's own plain-text rejections are
//! re-rendered in the same format.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
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
        let mut res = render(self.status(), self.code(), &self.to_string(), self.details(), &request_id);
        if let ApiError::RateLimited { retry_after_secs, .. } = &self {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(*retry_after_secs));
        }
        res
    }
}

/// An error answer in the API's format.
fn render(status: StatusCode, code: &str, message: &str, details: serde_json::Value, request_id: &str) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": message,
        "details": details,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestId": request_id,
    }});
    (status, axum::Json(body)).into_response()
}

/// Middleware: the answers axum gives on its own — a path or query that does not parse (400),
/// an unsupported method (405) or media type (415), in plain text or empty — re-rendered in the
/// API's error format, their status kept.
pub async fn json_rejections(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let plain = response.headers().get(header::CONTENT_TYPE).is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !status.is_client_error() || !plain || status == StatusCode::UNAUTHORIZED {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
        _ => "bad_request",
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let message = match String::from_utf8_lossy(&text).trim() {
        "" => status.canonical_reason().unwrap_or("request refused").to_lowercase(),
        t => t.to_string(),
    };
    let mut rendered = render(status, code, &message, serde_json::Value::Null, &request_id::current());
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            rendered.headers_mut().insert(name, v.clone());
        }
    }
    rendered
}
