//! The HTTP API: shared state, the router with its layers (request ids, tracing, CORS, body limit)
//! and the OpenAPI document.

pub mod json;
pub mod openapi;
pub mod request_id;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::Router;
use sqlx::PgPool;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::auth::jwt::Verifier;
use crate::config::ApiConfig;
use crate::events::Events;
use crate::routes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: Arc<Verifier>,
    /// Where candles are read and backtest results stored.
    pub lake: Arc<lake::Lake>,
    /// Run and notification changes, for Server-Sent Events.
    pub events: Events,
    /// Attempts a backtest job gets before it is dead-lettered.
    pub job_attempts: i32,
}

impl AppState {
    /// State over `pool` and `lake`, listening for change events until the pool is closed.
    pub async fn new(pool: PgPool, verifier: Verifier, lake: lake::Lake) -> anyhow::Result<Self> {
        let events = Events::start(&pool).await?;
        Ok(AppState { pool, verifier: Arc::new(verifier), lake: Arc::new(lake), events, job_attempts: 3 })
    }
}

/// The `/api/v1` application.
pub fn router(state: AppState, config: &ApiConfig) -> Router {
    let api = Router::new()
        .merge(routes::health::router())
        .merge(routes::me::router())
        .merge(routes::strategies::router())
        .merge(routes::backtests::router())
        .merge(routes::notifications::router())
        .merge(routes::usage::router())
        .merge(openapi::router());
    let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE, HeaderName::from_static(request_id::HEADER)])
        .expose_headers([HeaderName::from_static(request_id::HEADER)]);
    Router::new()
        .nest("/api/v1", api)
        .fallback(|| async { crate::error::ApiError::NotFound("no such route".into()) })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(cors)
        .layer(axum::middleware::from_fn(request_id::middleware))
}
