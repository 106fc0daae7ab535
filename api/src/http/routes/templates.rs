//! Templates: `POST/GET /templates`, `GET/PATCH /templates/{id}`, `POST /templates/{id}/clone`.
//! Publishing takes the educator role; what a caller may see is decided by the service (public and
//! their cohorts' published templates, and their own); anything else is a 404.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::http::page::{self, Page};
use crate::http::params;
use crate::model::AudienceScope;
use crate::services::templates::{self as service, Cloned, Filter, NewTemplate, Sort, Template, TemplateMetadata};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(create))
        .route("/templates/{id}", get(fetch).patch(update))
        .route("/templates/{id}/clone", post(clone))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTemplate {
    pub strategy_version_id: Uuid,
    /// `cohort` (live at once for its members) or `public` (after an admin's review).
    #[schema(example = "cohort")]
    pub audience_scope: String,
    pub cohort_id: Option<Uuid>,
    #[serde(default)]
    pub metadata: TemplateMetadata,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplate {
    pub metadata: TemplateMetadata,
}

/// Publishes one of your strategy versions as a template (educators; quota `template_publishes`).
#[utoipa::path(post, path = "/api/v1/templates", tag = "templates", security(("bearer" = [])), request_body = CreateTemplate,
    responses((status = 201, body = Template, description = "published (cohort) or pending review (public)"),
        (status = 403, description = "not an educator, or quota_exceeded"), (status = 404, description = "no such version or cohort of yours"),
        (status = 422, description = "a field breaks its rule")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(b): ApiJson<CreateTemplate>) -> ApiResult<impl IntoResponse> {
    let audience_scope = params::field::<AudienceScope>("audienceScope", &b.audience_scope)?;
    let t = service::publish(&state.pool, &user, NewTemplate { strategy_version_id: b.strategy_version_id, audience_scope, cohort_id: b.cohort_id, metadata: b.metadata }).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/api/v1/templates/{}", t.id))], Json(t)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub tag: Option<String>,
    /// Text searched in titles and descriptions.
    pub q: Option<String>,
    /// Only this educator's templates.
    pub educator: Option<Uuid>,
    /// `newest` (default) or `most_cloned`.
    pub sort: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// The templates you may see: public and your cohorts' published ones, and your own.
#[utoipa::path(get, path = "/api/v1/templates", tag = "templates", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Template>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Template>>> {
    let n = page::limit(q.limit, 20, 100)?;
    let sort = match q.sort.as_deref() {
        None | Some("newest") => Sort::Newest,
        Some("most_cloned") => Sort::MostCloned,
        Some(s) => return Err(ApiError::BadRequest(format!("sort must be newest or most_cloned, got '{s}'"))),
    };
    let offset = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse::<i64>().ok().filter(|o| *o >= 0).ok_or_else(|| ApiError::BadRequest(format!("invalid cursor '{c}'")))?,
    };
    let f = Filter { tag: q.tag, text: q.q, educator: q.educator, sort, offset, limit: n + 1 };
    let items = service::list(&state.pool, &user, &f).await?;
    let next = offset + n;
    Ok(Json(Page::from_overfetch(items, n, |_| next.to_string())))
}

/// A template with its disclaimers.
#[utoipa::path(get, path = "/api/v1/templates/{id}", tag = "templates", security(("bearer" = [])),
    responses((status = 200, body = Template), (status = 404, description = "no such template, or not visible to you")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Template>> {
    Ok(Json(service::visible(&state.pool, &user, id).await?))
}

/// Changes a template's metadata (its educator); changed disclaimers are recorded as a disclosure.
#[utoipa::path(patch, path = "/api/v1/templates/{id}", tag = "templates", security(("bearer" = [])), request_body = UpdateTemplate,
    responses((status = 200, body = Template), (status = 404, description = "no such template of yours"), (status = 422, description = "a field breaks its rule")))]
pub async fn update(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(b): ApiJson<UpdateTemplate>) -> ApiResult<Json<Template>> {
    Ok(Json(service::update_metadata(&state.pool, &user, id, b.metadata).await?))
}

/// Clones a template into a private strategy of yours (version 1 = its graph); answers with the
/// strategy and the disclaimers to show.
#[utoipa::path(post, path = "/api/v1/templates/{id}/clone", tag = "templates", security(("bearer" = [])),
    responses((status = 201, body = Cloned), (status = 404, description = "no such template, or not visible to you")))]
pub async fn clone(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<(StatusCode, Json<Cloned>)> {
    Ok((StatusCode::CREATED, Json(service::clone(&state.pool, &user, id).await?)))
}
