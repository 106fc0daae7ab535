//! Cohorts: `/cohorts`, `/cohorts/{id}`, `/cohorts/{id}/members[/{userId}]`. Educators manage
//! their own, admins every one; a builder gets 403, another educator's cohort is a 404.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::http::page::{self, Page};
use crate::services::analytics::{self, Format};
use crate::services::cohorts::{self as service, Cohort, Member};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cohorts", get(list).post(create))
        .route("/cohorts/{id}", get(fetch).patch(update).delete(remove))
        .route("/cohorts/{id}/members", get(members).post(add_member))
        .route("/cohorts/{id}/members/{user_id}", delete(remove_member))
        .route("/cohorts/{id}/analytics", get(analytics))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AnalyticsQuery {
    /// csv (default), json or parquet.
    pub format: Option<String>,
}

/// How the cohort uses your templates: one row per member and template used (clones made,
/// backtests run, best and median Sharpe, best total return, worst max drawdown, paper-trading
/// return, last active), computed over the lake's results and this cohort's rows only.
#[utoipa::path(get, path = "/api/v1/cohorts/{id}/analytics", tag = "cohorts", security(("bearer" = [])), params(AnalyticsQuery),
    responses((status = 200, description = "the rows as CSV, JSON (an array of objects) or Parquet", content_type = "text/csv"),
        (status = 400, description = "an unknown format"), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort, or not yours")))]
pub async fn analytics(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<AnalyticsQuery>) -> ApiResult<impl IntoResponse> {
    use futures::StreamExt;
    let format: Format = q.format.as_deref().unwrap_or("csv").parse().map_err(ApiError::BadRequest)?;
    let disposition = format!("attachment; filename=\"cohort-{id}.{}\"", format.extension());
    let headers = [(header::CONTENT_TYPE, format.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)];
    if format == Format::Parquet {
        let rows = analytics::cohort(&state.pool, &state.lake, &user, id).await?;
        return Ok((headers, axum::body::Body::from(analytics::encode(&rows, format)?)));
    }
    // CSV and JSON leave as DataFusion produces the rows
    let rows = analytics::cohort_stream(&state.pool, &state.lake, &user, id).await?;
    let schema = rows.schema();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (sent_in, sent_end) = (sent.clone(), sent);
    let body = rows.map(move |batch| -> Result<Vec<u8>, std::io::Error> {
        let batch = batch.map_err(std::io::Error::other)?;
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        let first = !sent_in.swap(true, std::sync::atomic::Ordering::Relaxed);
        analytics::encode_chunk(&batch, format, first).map_err(std::io::Error::other)
    });
    let open = futures::stream::once(async move { Ok(analytics::head(format)) });
    let end = futures::stream::once(async move { Ok(analytics::tail(format, &schema, sent_end.load(std::sync::atomic::Ordering::Relaxed))) });
    let stream = open.chain(body).chain(end);
    Ok((headers, axum::body::Body::from_stream(stream)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCohort {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateCohort {
    pub name: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// A user's e-mail; with no user yet, an invite that binds when the e-mail first signs in.
    pub email: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// Creates a cohort (educators).
#[utoipa::path(post, path = "/api/v1/cohorts", tag = "cohorts", security(("bearer" = [])), request_body = CreateCohort,
    responses((status = 201, body = Cohort), (status = 403, description = "not an educator"), (status = 422, description = "a field breaks its rule")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(b): ApiJson<CreateCohort>) -> ApiResult<(StatusCode, Json<Cohort>)> {
    Ok((StatusCode::CREATED, Json(service::create(&state.pool, &user, &b.name, b.description.as_deref().unwrap_or("")).await?)))
}

/// Your cohorts (every cohort for an admin), newest first.
#[utoipa::path(get, path = "/api/v1/cohorts", tag = "cohorts", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Cohort>), (status = 403, description = "not an educator")))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Cohort>>> {
    let n = page::limit(q.limit, 20, 100)?;
    let after = q.cursor.as_deref().map(page::parse_time_id).transpose()?;
    let items = service::list(&state.pool, &user, after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |c| page::time_id(c.created_at, c.id))))
}

/// A cohort you manage.
#[utoipa::path(get, path = "/api/v1/cohorts/{id}", tag = "cohorts", security(("bearer" = [])),
    responses((status = 200, body = Cohort), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort, or not yours")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Cohort>> {
    Ok(Json(service::managed(&state.pool, &user, id).await?))
}

/// Renames or re-describes a cohort.
#[utoipa::path(patch, path = "/api/v1/cohorts/{id}", tag = "cohorts", security(("bearer" = [])), request_body = UpdateCohort,
    responses((status = 200, body = Cohort), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort, or not yours")))]
pub async fn update(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(b): ApiJson<UpdateCohort>) -> ApiResult<Json<Cohort>> {
    Ok(Json(service::update(&state.pool, &user, id, b.name.as_deref(), b.description.as_deref()).await?))
}

/// Deletes a cohort with its memberships and invites; its templates stay with you (seen by nobody
/// else) and clones keep their attribution.
#[utoipa::path(delete, path = "/api/v1/cohorts/{id}", tag = "cohorts", security(("bearer" = [])),
    responses((status = 204, description = "deleted"), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort, or not yours")))]
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    service::delete(&state.pool, &user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Members, then invites not yet accepted.
#[utoipa::path(get, path = "/api/v1/cohorts/{id}/members", tag = "cohorts", security(("bearer" = [])),
    responses((status = 200, body = Page<Member>), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort, or not yours")))]
pub async fn members(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Page<Member>>> {
    Ok(Json(Page::all(service::members(&state.pool, &user, id).await?)))
}

/// Adds a member by e-mail: the user if they exist, else an invite.
#[utoipa::path(post, path = "/api/v1/cohorts/{id}/members", tag = "cohorts", security(("bearer" = [])), request_body = AddMember,
    responses((status = 201, body = Member), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort, or not yours"),
        (status = 422, description = "not an e-mail address")))]
pub async fn add_member(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(b): ApiJson<AddMember>) -> ApiResult<(StatusCode, Json<Member>)> {
    Ok((StatusCode::CREATED, Json(service::add_member(&state.pool, &user, id, &b.email).await?)))
}

/// Removes a member: they no longer see the cohort's templates.
#[utoipa::path(delete, path = "/api/v1/cohorts/{id}/members/{user_id}", tag = "cohorts", security(("bearer" = [])),
    responses((status = 204, description = "removed"), (status = 403, description = "not an educator"), (status = 404, description = "no such cohort or member")))]
pub async fn remove_member(State(state): State<AppState>, user: AuthUser, Path((id, user_id)): Path<(Uuid, Uuid)>) -> ApiResult<StatusCode> {
    service::remove_member(&state.pool, &user, id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
