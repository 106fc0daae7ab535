//! Admin routes: compliance events and their review, template takedowns, user roles and invitations. Every
//! route takes the admin role (403 otherwise); decisions are recorded in the audit trail.

use axum::extract::{Path, Query, State};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::http::page::{self, Page};
use crate::http::params;
use crate::model::{ComplianceEntity, ComplianceEventType, ComplianceStatus, Role};
use crate::services::compliance::{self, ComplianceEvent};
use crate::services::templates::{self, Template};
use crate::services::users::{self, User};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/compliance/events", get(events))
        .route("/admin/compliance/events/{id}", get(event).patch(review))
        .route("/admin/templates/{id}/takedown", post(takedown))
        .route("/admin/users/{id}/roles", patch(roles))
        .route("/admin/users/invite", axum::routing::post(invite))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct EventsQuery {
    /// open, approved, rejected or escalated.
    pub status: Option<String>,
    /// disclosure, risk_review, takedown or audit.
    pub event_type: Option<String>,
    /// strategy, template, cohort or notification.
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// Compliance events, newest first (admins).
#[utoipa::path(get, path = "/api/v1/admin/compliance/events", tag = "admin", security(("bearer" = [])), params(EventsQuery),
    responses((status = 200, body = Page<ComplianceEvent>), (status = 403, description = "not an admin")))]
pub async fn events(State(state): State<AppState>, user: AuthUser, Query(q): Query<EventsQuery>) -> ApiResult<Json<Page<ComplianceEvent>>> {
    user.require(Role::Admin)?;
    let n = page::limit(q.limit, 20, 100)?;
    let f = compliance::Filter {
        status: q.status.as_deref().map(|s| params::query::<ComplianceStatus>("status", s)).transpose()?,
        event_type: q.event_type.as_deref().map(|s| params::query::<ComplianceEventType>("eventType", s)).transpose()?,
        entity_type: q.entity_type.as_deref().map(|s| params::query::<ComplianceEntity>("entityType", s)).transpose()?,
        entity_id: q.entity_id,
        after: q.cursor.as_deref().map(page::parse_time_id).transpose()?,
        limit: n + 1,
    };
    let items = compliance::list(&state.pool, &f).await?;
    Ok(Json(Page::from_overfetch(items, n, |e| page::time_id(e.created_at, e.id))))
}

/// One compliance event with its evidence.
#[utoipa::path(get, path = "/api/v1/admin/compliance/events/{id}", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = ComplianceEvent), (status = 403, description = "not an admin"), (status = 404, description = "no such event")))]
pub async fn event(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<ComplianceEvent>> {
    user.require(Role::Admin)?;
    Ok(Json(compliance::get(&state.pool, id).await?.ok_or_else(|| ApiError::NotFound(format!("compliance event {id} not found")))?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// approved, rejected or escalated.
    #[schema(example = "approved")]
    pub status: String,
    pub note: Option<String>,
}

/// Decides an open or escalated event: approving a template's risk review publishes it,
/// rejecting keeps it hidden and tells its educator.
#[utoipa::path(patch, path = "/api/v1/admin/compliance/events/{id}", tag = "admin", security(("bearer" = [])), request_body = Review,
    responses((status = 200, body = ComplianceEvent), (status = 403, description = "not an admin"), (status = 404, description = "no such event"),
        (status = 409, description = "already decided"), (status = 422, description = "an unknown status")))]
pub async fn review(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(b): ApiJson<Review>) -> ApiResult<Json<ComplianceEvent>> {
    user.require(Role::Admin)?;
    let status = params::field::<ComplianceStatus>("status", &b.status)?;
    Ok(Json(templates::review(&state.pool, &user, id, status, b.note.as_deref()).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Takedown {
    pub reason: String,
}

/// Takes a template down at once: hidden from every list, read and clone (clones made stay).
#[utoipa::path(post, path = "/api/v1/admin/templates/{id}/takedown", tag = "admin", security(("bearer" = [])), request_body = Takedown,
    responses((status = 200, body = Template), (status = 403, description = "not an admin"), (status = 404, description = "no such template"),
        (status = 409, description = "already taken down")))]
pub async fn takedown(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(b): ApiJson<Takedown>) -> ApiResult<Json<Template>> {
    user.require(Role::Admin)?;
    Ok(Json(templates::takedown(&state.pool, &user, id, &b.reason).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// Any of builder, educator, admin.
    pub roles: Vec<String>,
}

/// Sets a user's roles (kept over what their tokens claim); written to Supabase's `app_metadata`
/// first when its admin API is configured (the local row changes only if it accepted); recorded in
/// the audit trail.
#[utoipa::path(patch, path = "/api/v1/admin/users/{id}/roles", tag = "admin", security(("bearer" = [])), request_body = SetRoles,
    responses((status = 200, body = User), (status = 403, description = "not an admin"), (status = 404, description = "no such user"),
        (status = 422, description = "an unknown role, or none")))]
pub async fn roles(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(b): ApiJson<SetRoles>) -> ApiResult<Json<User>> {
    user.require(Role::Admin)?;
    let roles = b.roles.iter().map(|r| params::field::<Role>("roles", r)).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(users::set_roles(&state.pool, &state.supabase, &user, id, &roles).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub email: String,
    /// Any of builder, educator, admin.
    pub roles: Vec<String>,
}

/// Provisions an account in Supabase (`POST /auth/v1/admin/users`) with these roles, and its row
/// here; recorded in the audit trail.
#[utoipa::path(post, path = "/api/v1/admin/users/invite", tag = "admin", security(("bearer" = [])), request_body = Invite,
    responses((status = 201, body = User), (status = 403, description = "not an admin"), (status = 409, description = "the address has an account"),
        (status = 422, description = "not an e-mail address, or an unknown role"), (status = 502, description = "Supabase refused or failed"),
        (status = 503, description = "Supabase's admin API is not configured")))]
pub async fn invite(State(state): State<AppState>, user: AuthUser, ApiJson(b): ApiJson<Invite>) -> ApiResult<(axum::http::StatusCode, Json<User>)> {
    user.require(Role::Admin)?;
    let roles = b.roles.iter().map(|r| params::field::<Role>("roles", r)).collect::<ApiResult<Vec<_>>>()?;
    Ok((axum::http::StatusCode::CREATED, Json(users::invite(&state.pool, &state.supabase, &user, &b.email, &roles).await?)))
}
