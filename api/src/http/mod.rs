//! The HTTP API: the `/api/v1` router with its layers (metrics, request ids, tracing, security headers, CORS,
//! body limit, rate limits), `/metrics`,
//! the thin routes (`routes`: parse, authorize, call one service function, respond), the
//! extractors and paging they share, error rendering, and the OpenAPI document.

pub mod error;
pub mod extract;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod params;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod security;
pub mod sse;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::ApiConfig;
pub use crate::state::AppState;

/// The `/api/v1` application.
pub fn router(mut state: AppState, config: &ApiConfig) -> Router {
    state.rate_limits = config.rate_limits.clone();
    let api = Router::new()
        .merge(routes::health::router())
        .merge(routes::me::router())
        .merge(routes::strategies::router())
        .merge(routes::backtests::router())
        .merge(routes::paper_trades::router())
        .merge(routes::cohorts::router())
        .merge(routes::templates::router())
        .merge(routes::admin::router())
        .merge(routes::notifications::router())
        .merge(routes::usage::router())
        .merge(routes::billing::router())
        .merge(routes::webhooks::router())
        .merge(routes::ws::router())
        .merge(openapi::router())
        .route_layer(axum::middleware::from_fn(metrics::keep_route));
    let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE, HeaderName::from_static(request_id::HEADER)])
        .expose_headers([HeaderName::from_static(request_id::HEADER)]);
    let mut root = Router::new().nest("/api/v1", api);
    if config.metrics {
        root = root.merge(metrics::routes(metrics::Source { pool: state.pool.clone(), lake: state.lake.clone(), token: config.metrics_token.clone() }));
    }
    root
        .fallback(|| async { crate::error::ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::middleware))
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(cors)
        .layer(axum::middleware::from_fn({
            let hsts = config.hsts;
            move |req, next| security::headers(hsts, req, next)
        }))
        .layer(axum::middleware::from_fn(error::json_rejections))
        .layer(axum::middleware::from_fn(request_id::middleware))
        .layer(axum::middleware::from_fn(metrics::track))
}
