//! Strategies and versions: `/strategies`, `/strategies/{id}`, `/strategies/{id}/versions[/{n}]`,
//! `/strategies/validate`. Another user's private strategy is a 404, never a 403.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::http::page::{self, Page};
use crate::http::params::field;
use crate::model::{StrategyStatus, Visibility};
use crate::services::strategies::{self as service, ListFilter, NewStrategy, Strategy, StrategyPatch, Version};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/strategies", get(list).post(create))
        .route("/strategies/validate", post(validate))
        .route("/strategies/{id}", get(fetch).patch(update).delete(archive))
        .route("/strategies/{id}/versions", get(list_versions).post(create_version))
        .route("/strategies/{id}/versions/{n}", get(fetch_version))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateStrategy {
    pub title: String,
    /// `private` (default), `cohort` or `public`.
    pub visibility: Option<String>,
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Object)]
    pub graph_json: Value,
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStrategy {
    pub title: Option<String>,
    pub tags: Option<Vec<String>>,
    /// `private`, `cohort` or `public`.
    pub visibility: Option<String>,
    /// `draft`, `active` or `archived`.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateVersion {
    #[schema(value_type = Object)]
    pub graph_json: Value,
    pub notes: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// `public` lists everyone's public strategies instead of your own.
    pub visibility: Option<String>,
    /// `draft`, `active` or `archived`.
    pub status: Option<String>,
    pub tag: Option<String>,
    /// Text searched in title and slug.
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

/// Your strategies (or everyone's public ones with `visibility=public`), newest first.
#[utoipa::path(get, path = "/api/v1/strategies", tag = "strategies", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Strategy>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Strategy>>> {
    let limit = page::limit(q.limit, 20, 100)?;
    let public_only = match q.visibility.as_deref() {
        None => false,
        Some("public") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("visibility filter '{other}': only 'public' is supported"))),
    };
    let filter = ListFilter {
        public_only,
        status: q.status.as_deref().map(|s| field::<StrategyStatus>("status", s)).transpose()?,
        tag: q.tag,
        text: q.q,
        after: q.cursor.as_deref().map(page::parse_time_id).transpose()?,
        limit: limit + 1,
    };
    let items = service::list(&state.pool, &user, &filter).await?;
    Ok(Json(Page::from_overfetch(items, limit, |s| page::time_id(s.created_at, s.id))))
}

/// Creates a strategy (a `draft`) and its version 1 in one transaction.
#[utoipa::path(post, path = "/api/v1/strategies", tag = "strategies", security(("bearer" = [])), request_body = CreateStrategy,
    responses((status = 201, body = Strategy), (status = 422, description = "validation_failed: the graph's issues in details")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(body): ApiJson<CreateStrategy>) -> ApiResult<(StatusCode, Json<Strategy>)> {
    let new = NewStrategy {
        visibility: field::<Visibility>("visibility", body.visibility.as_deref().unwrap_or("private"))?,
        title: body.title,
        tags: body.tags.unwrap_or_default(),
        graph: body.graph_json,
        notes: body.notes,
    };
    Ok((StatusCode::CREATED, Json(service::create(&state.pool, &user, new).await?)))
}

/// A strategy you own, a public one, or any (admins).
#[utoipa::path(get, path = "/api/v1/strategies/{id}", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Strategy), (status = 404, description = "no such strategy, or not yours")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Strategy>> {
    Ok(Json(service::readable(&state.pool, &user, id).await?))
}

/// Changes title, tags, visibility or status (draft, active, archived).
#[utoipa::path(patch, path = "/api/v1/strategies/{id}", tag = "strategies", security(("bearer" = [])), request_body = UpdateStrategy,
    responses((status = 200, body = Strategy), (status = 404, description = "no such strategy, or not yours")))]
pub async fn update(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(body): ApiJson<UpdateStrategy>) -> ApiResult<Json<Strategy>> {
    let patch = StrategyPatch {
        title: body.title,
        tags: body.tags,
        visibility: body.visibility.as_deref().map(|v| field::<Visibility>("visibility", v)).transpose()?,
        status: body.status.as_deref().map(|v| field::<StrategyStatus>("status", v)).transpose()?,
    };
    Ok(Json(service::update(&state.pool, &user, id, patch).await?))
}

/// Archives the strategy (its versions and runs stay).
#[utoipa::path(delete, path = "/api/v1/strategies/{id}", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Strategy), (status = 404, description = "no such strategy, or not yours")))]
pub async fn archive(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Strategy>> {
    let patch = StrategyPatch { status: Some(StrategyStatus::Archived), ..StrategyPatch::default() };
    Ok(Json(service::update(&state.pool, &user, id, patch).await?))
}

/// Adds the next version (numbers never repeat, even under concurrent creates).
#[utoipa::path(post, path = "/api/v1/strategies/{id}/versions", tag = "strategies", security(("bearer" = [])), request_body = CreateVersion,
    responses((status = 201, body = Version), (status = 404, description = "no such strategy, or not yours"), (status = 422, description = "validation_failed")))]
pub async fn create_version(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(body): ApiJson<CreateVersion>) -> ApiResult<(StatusCode, Json<Version>)> {
    let v = service::create_version(&state.pool, &user, id, &body.graph_json, body.notes.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Every version, newest first.
#[utoipa::path(get, path = "/api/v1/strategies/{id}/versions", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Page<Version>), (status = 404, description = "no such strategy, or not yours")))]
pub async fn list_versions(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Page<Version>>> {
    Ok(Json(Page::all(service::versions(&state.pool, &user, id).await?)))
}

/// One version.
#[utoipa::path(get, path = "/api/v1/strategies/{id}/versions/{n}", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Version), (status = 404, description = "no such version, or not yours")))]
pub async fn fetch_version(State(state): State<AppState>, user: AuthUser, Path((id, n)): Path<(Uuid, i32)>) -> ApiResult<Json<Version>> {
    Ok(Json(service::version(&state.pool, &user, id, n).await?))
}

/// Validates a graph (the body is the graph, or `{"graphJson": graph}`); nothing is stored.
#[utoipa::path(post, path = "/api/v1/strategies/validate", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, description = "{\"valid\": bool, \"issues\": [...]}")))]
pub async fn validate(_user: AuthUser, ApiJson(body): ApiJson<Value>) -> Json<Value> {
    let graph = body.get("graphJson").cloned().unwrap_or(body);
    Json(service::validate(&graph))
}
