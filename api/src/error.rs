//! `ApiError`: every error the API answers (rendered by `http::error` in the seed's format
//! `{"error":{"code","message","details","timestamp","requestId"}}`), and how the errors of the
//! database, the lake, the query engine and the pipelines map onto it.

use axum::http::StatusCode;
use serde_json::{json, Value};

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
    /// Too many requests (429 `rate_limited`, with `Retry-After`).
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    /// An outside service (Stripe, Supabase, ...) refused or failed (502 `upstream_error`).
    #[error("{0}")]
    Upstream(String),
    /// The feature is not configured on this server (503 `not_configured`).
    #[error("{0}")]
    NotConfigured(String),
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
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::NotConfigured(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Upstream(_) => "upstream_error",
            ApiError::NotConfigured(_) => "not_configured",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn validation(message: impl Into<String>, details: Value) -> Self {
        ApiError::Validation { message: message.into(), details }
    }

    /// A 422 naming the request field (camelCase, as the API spells it) that breaks its rule.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::validation(message, json!({"field": field}))
    }

    /// What the details of the error say (null for most).
    pub fn details(&self) -> Value {
        match self {
            ApiError::Validation { details, .. } | ApiError::QuotaExceeded { details, .. } => details.clone(),
            ApiError::RateLimited { retry_after_secs, .. } => json!({"retryAfterSeconds": retry_after_secs}),
            _ => Value::Null,
        }
    }
}

/// `fee_rate` → `feeRate`: a field as params.json spells it, as the API's JSON spells it.
pub fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in key.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        // unique violations are conflicts, told apart by constraint name
        if let sqlx::Error::Database(db) = &e {
            match db.constraint() {
                Some("strategies_slug_key") => return ApiError::Conflict("a strategy with this slug exists".into()),
                Some("strategy_versions_strategy_version_key") => return ApiError::Conflict("this version number exists".into()),
                Some("subscriptions_user_key") => return ApiError::Conflict("the user has a subscription already".into()),
                Some("subscriptions_stripe_subscription_key") => return ApiError::Conflict("this Stripe subscription belongs to another user".into()),
                _ => {}
            }
        }
        ApiError::Internal(e.into())
    }
}

impl From<lake::Error> for ApiError {
    fn from(e: lake::Error) -> Self {
        match e {
            lake::Error::InvalidMarket { field, .. } => ApiError::invalid(field, e.to_string()),
            lake::Error::InvalidTimeframe(_) => ApiError::invalid("timeframe", e.to_string()),
            e => ApiError::Internal(e.into()),
        }
    }
}

/// DataFusion's errors: the one place they map to HTTP (always a 500: the API builds every plan itself).
impl From<datafusion::error::DataFusionError> for ApiError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<query::Error> for ApiError {
    fn from(e: query::Error) -> Self {
        match e {
            query::Error::Lake(e) => e.into(),
            query::Error::DataFusion(e) => e.into(),
        }
    }
}

impl From<pipelines::Error> for ApiError {
    fn from(e: pipelines::Error) -> Self {
        use pipelines::Error as E;
        match e {
            E::Graph(issues) => ApiError::validation("the strategy version's graph is invalid", json!({"issues": issues})),
            E::InvalidField { field, message } => {
                let api = camel(&field);
                ApiError::invalid(&api, message.replacen(&field, &api, 1))
            }
            E::NoCandles(m) | E::Invalid(m) => ApiError::validation(m, Value::Null),
            E::Lake(e) => e.into(),
            E::Query(e) => e.into(),
            E::DataFusion(e) => e.into(),
            e @ E::Arrow(_) => ApiError::Internal(e.into()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// The API's result type.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_field_errors_name_the_api_field() {
        let e: ApiError = pipelines::Error::InvalidField { field: "fee_rate".into(), message: "fee_rate must be in [0, 0.5), got -0.1".into() }.into();
        assert_eq!(e.to_string(), "feeRate must be in [0, 0.5), got -0.1");
        assert_eq!(e.details(), json!({"field": "feeRate"}));
        assert_eq!(camel("initial_capital"), "initialCapital");
    }
}
