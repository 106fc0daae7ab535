//! `ApiError`: every error the API answers, in the seed's format
//! `{"error":{"code","message","details","timestamp","requestId"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::http::request_id;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    /// Input that parsed but breaks a rule (e.g. a strategy graph with issues); `details` says what.
    #[error("{message}")]
    Validation { message: String, details: Value },
    /// The plan's quota for a metric is used up in this window (403 `quota_exceeded`).
    #[error("{message}")]
    QuotaExceeded { message: String, details: Value },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::QuotaExceeded { .. } => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::QuotaExceeded { .. } => "quota_exceeded",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn validation(message: impl Into<String>, details: Value) -> Self {
        ApiError::Validation { message: message.into(), details }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // unique violations are conflicts, told apart by constraint name
        if let sqlx::Error::Database(db) = &e {
            match db.constraint() {
                Some("strategies_slug_key") => return ApiError::Conflict("a strategy with this slug exists".into()),
                Some("strategy_versions_strategy_version_key") => return ApiError::Conflict("this version number exists".into()),
                _ => {}
            }
        }
        ApiError::Internal(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = request_id::current();
        if let ApiError::Internal(e) = &self {
            // logged with the request id; the client sees no internals
            tracing::error!(request_id = %request_id, error = ?e, "internal error");
        }
        let details = match &self {
            ApiError::Validation { details, .. } | ApiError::QuotaExceeded { details, .. } => details.clone(),
            _ => Value::Null,
        };
        let body = json!({"error": {
            "code": self.code(),
            "message": self.to_string(),
            "details": details,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "requestId": request_id,
        }});
        (self.status(), axum::Json(body)).into_response()
    }
}

/// The API's result type.
pub type ApiResult<T> = Result<T, ApiError>;
