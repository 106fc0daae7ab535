//! `GET /health` (the process is up) and `GET /ready` (the database answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

/// The process is up.
#[utoipa::path(get, path = "/api/v1/health", tag = "health", responses((status = 200, description = "up")))]
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The database is reachable.
#[utoipa::path(get, path = "/api/v1/ready", tag = "health", responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match crate::db::ping(&state.pool).await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": e.to_string()}))),
    }
}
