//! Webhook endpoints: register one (`{url, types}` → its id and signing secret, shown once), list
//! yours, re-enable one that delivery disabled, delete one. Deliveries are POSTs signed the
//! Standard Webhooks way (`Webhook-Id`, `Webhook-Timestamp`, `Webhook-Signature`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::services::notifications::webhooks::{self as service, NewWebhook, Registered, Webhook};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks", get(list).post(create)).route("/webhooks/{id}", patch(update).delete(remove))
}

/// Registers an endpoint for the notification types listed (registering for a type is the opt-in).
/// The answer holds the signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = NewWebhook,
    responses((status = 201, body = Registered),
        (status = 422, description = "a URL that is not http(s) or not on a public address, or an unknown type (`details.field`)"),
        (status = 409, description = "you have the most endpoints one user may have")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(new): ApiJson<NewWebhook>) -> ApiResult<(StatusCode, Json<Registered>)> {
    let (url, types) = service::check(&new, state.notifier.config.allow_private).await.map_err(|e| ApiError::invalid(e.field, e.message))?;
    let mut tx = state.pool.begin().await?;
    let registered = service::insert(&mut tx, user.id, &url, &types)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("you have {} webhooks, the most one user may have; delete one first", service::MAX_PER_USER)))?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(registered)))
}

/// Your endpoints (without their secrets).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])), responses((status = 200, body = Vec<Webhook>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(service::list(&state.pool, user.id).await?))
}

/// `{"enabled": true}` turns an endpoint back on (its failure count starts again); `false` pauses it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    pub enabled: bool,
}

/// Turns one of your endpoints on or off.
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 404, description = "no such webhook, or not yours")))]
pub async fn update(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(u): ApiJson<UpdateWebhook>) -> ApiResult<Json<Webhook>> {
    service::set_enabled(&state.pool, user.id, id, u.enabled).await?.map(Json).ok_or_else(|| ApiError::NotFound(format!("webhook {id} not found")))
}

/// Deletes one of your endpoints; deliveries still queued for it are skipped.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 404, description = "no such webhook, or not yours")))]
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    if service::delete(&state.pool, user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("webhook {id} not found")))
    }
}
