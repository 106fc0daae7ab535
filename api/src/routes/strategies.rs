//! Strategies and versions: `/strategies`, `/strategies/{id}`, `/strategies/{id}/versions[/{n}]`,
//! `/strategies/validate`. Another user's private strategy is a 404, never a 403.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::strategies::{self as db, ListFilter, Strategy, Version};
use crate::error::{ApiError, ApiResult};
use crate::http::json::ApiJson;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/strategies", get(list).post(create))
        .route("/strategies/validate", post(validate))
        .route("/strategies/{id}", get(fetch).patch(update).delete(archive))
        .route("/strategies/{id}/versions", get(list_versions).post(create_version))
        .route("/strategies/{id}/versions/{n}", get(fetch_version))
}

/// A page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page of `items` fetched with `limit + 1` rows: a row beyond `limit` means there is a
    /// next page, whose cursor is `cursor` of the page's last item.
    pub fn from_overfetch(mut items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Self {
        let next_cursor = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(cursor)
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateStrategy {
    pub title: String,
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
    pub visibility: Option<String>,
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
    pub status: Option<String>,
    pub tag: Option<String>,
    /// Text searched in title and slug.
    pub q: Option<String>,
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> ApiResult<String> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(ApiError::validation(format!("{field} must be one of {}", allowed.join(", ")), json!({"field": field, "value": value})))
    }
}

fn title(t: &str) -> ApiResult<String> {
    let t = t.trim();
    if t.is_empty() || t.chars().count() > 200 {
        return Err(ApiError::validation("title must be 1 to 200 characters", json!({"field": "title"})));
    }
    Ok(t.to_string())
}

fn tags(tags: &[String]) -> ApiResult<Vec<String>> {
    if tags.len() > 20 {
        return Err(ApiError::validation("at most 20 tags", json!({"field": "tags"})));
    }
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.len() > 32 || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ApiError::validation(format!("tag '{t}' must be 1 to 32 characters of a-z, 0-9, - and _"), json!({"field": "tags", "value": t})));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// The graph's validator issues as a 422, or the graph when valid.
fn check_graph(graph: &Value) -> ApiResult<()> {
    pipelines::graph::validate(graph).map(|_| ()).map_err(|issues| {
        ApiError::validation(format!("the strategy graph has {} issue(s)", issues.len()), json!({"issues": issues}))
    })
}

/// `My SMA Cross!` → `my-sma-cross`.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').chars().take(60).collect::<String>().trim_end_matches('-').to_string();
    if slug.is_empty() { "strategy".into() } else { slug }
}

/// A `<created_at µs>_<id>` keyset cursor (read back by [`parse_cursor`]).
pub(crate) fn keyset_cursor(created_at: chrono::DateTime<chrono::Utc>, id: Uuid) -> String {
    format!("{}_{}", created_at.timestamp_micros(), id)
}

/// Reads a `<created_at µs>_<id>` keyset cursor.
pub(crate) fn parse_cursor(c: &str) -> ApiResult<(chrono::DateTime<chrono::Utc>, Uuid)> {
    let bad = || ApiError::BadRequest(format!("invalid cursor '{c}'"));
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let t = chrono::DateTime::from_timestamp_micros(t.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((t, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// Loads a strategy the caller may read (404 otherwise).
async fn readable(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Strategy> {
    match db::get(&state.pool, id).await? {
        Some(s) if user.can_read(s.owner_id, &s.visibility) => Ok(s),
        _ => Err(ApiError::NotFound(format!("strategy {id} not found"))),
    }
}

/// Your strategies (or everyone's public ones with `visibility=public`), newest first.
#[utoipa::path(get, path = "/api/v1/strategies", tag = "strategies", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Strategy>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Strategy>>> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be 1 to 100".into()));
    }
    let public_only = match q.visibility.as_deref() {
        None => false,
        Some("public") => true,
        Some(other) => return Err(ApiError::BadRequest(format!("visibility filter '{other}': only 'public' is supported"))),
    };
    if let Some(s) = &q.status {
        one_of("status", s, &["draft", "active", "archived"])?;
    }
    let filter = ListFilter {
        owner: if public_only { None } else { Some(user.id()) },
        public_only,
        status: q.status,
        tag: q.tag.map(|t| t.to_lowercase()),
        text: q.q.filter(|t| !t.trim().is_empty()),
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: limit + 1,
    };
    let items = db::list(&state.pool, &filter).await?;
    Ok(Json(Page::from_overfetch(items, limit, |s| keyset_cursor(s.created_at, s.id))))
}

/// Creates a strategy (a `draft`) and its version 1 in one transaction.
#[utoipa::path(post, path = "/api/v1/strategies", tag = "strategies", security(("bearer" = [])), request_body = CreateStrategy,
    responses((status = 201, body = Strategy), (status = 422, description = "validation_failed: the graph's issues in details")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(body): ApiJson<CreateStrategy>) -> ApiResult<(StatusCode, Json<Strategy>)> {
    let title = title(&body.title)?;
    let visibility = one_of("visibility", body.visibility.as_deref().unwrap_or("private"), &["private", "cohort", "public"])?;
    let tags = tags(body.tags.as_deref().unwrap_or_default())?;
    check_graph(&body.graph_json)?;
    let base = slugify(&title);
    // a concurrent create may take the same slug: try again with the next free suffix
    for _ in 0..5 {
        let taken = db::slugs_like(&state.pool, &base).await?;
        let slug = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") }).find(|s| !taken.contains(s)).expect("a free slug");
        let mut tx = state.pool.begin().await?;
        let strategy = match db::insert(&mut tx, user.id(), &title, &slug, &visibility, &tags).await {
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("strategies_slug_key") => continue,
            other => other?,
        };
        let n = db::next_version(&mut tx, strategy.id).await?;
        db::insert_version(&mut tx, strategy.id, n, &body.graph_json, body.notes.as_deref(), user.id()).await?;
        tx.commit().await?;
        let strategy = db::get(&state.pool, strategy.id).await?.ok_or_else(|| anyhow::anyhow!("strategy vanished"))?;
        return Ok((StatusCode::CREATED, Json(strategy)));
    }
    Err(ApiError::Conflict("could not find a free slug; try another title".into()))
}

/// A strategy you own, a public one, or any (admins).
#[utoipa::path(get, path = "/api/v1/strategies/{id}", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Strategy), (status = 404, description = "no such strategy, or not yours")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Strategy>> {
    Ok(Json(readable(&state, &user, id).await?))
}

/// Changes title, tags, visibility or status (draft, active, archived).
#[utoipa::path(patch, path = "/api/v1/strategies/{id}", tag = "strategies", security(("bearer" = [])), request_body = UpdateStrategy,
    responses((status = 200, body = Strategy), (status = 404, description = "no such strategy, or not yours")))]
pub async fn update(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(body): ApiJson<UpdateStrategy>) -> ApiResult<Json<Strategy>> {
    let s = readable(&state, &user, id).await?;
    if !user.can_write(s.owner_id) {
        return Err(ApiError::NotFound(format!("strategy {id} not found")));
    }
    let title = body.title.as_deref().map(title).transpose()?;
    let tags = body.tags.as_deref().map(tags).transpose()?;
    let visibility = body.visibility.as_deref().map(|v| one_of("visibility", v, &["private", "cohort", "public"])).transpose()?;
    let status = body.status.as_deref().map(|v| one_of("status", v, &["draft", "active", "archived"])).transpose()?;
    let s = db::update(&state.pool, id, title.as_deref(), tags.as_deref(), visibility.as_deref(), status.as_deref()).await?;
    Ok(Json(s.ok_or_else(|| ApiError::NotFound(format!("strategy {id} not found")))?))
}

/// Archives the strategy (its versions and runs stay).
#[utoipa::path(delete, path = "/api/v1/strategies/{id}", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Strategy), (status = 404, description = "no such strategy, or not yours")))]
pub async fn archive(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Strategy>> {
    let s = readable(&state, &user, id).await?;
    if !user.can_write(s.owner_id) {
        return Err(ApiError::NotFound(format!("strategy {id} not found")));
    }
    let s = db::update(&state.pool, id, None, None, None, Some("archived")).await?;
    Ok(Json(s.ok_or_else(|| ApiError::NotFound(format!("strategy {id} not found")))?))
}

/// Adds the next version (numbers never repeat, even under concurrent creates).
#[utoipa::path(post, path = "/api/v1/strategies/{id}/versions", tag = "strategies", security(("bearer" = [])), request_body = CreateVersion,
    responses((status = 201, body = Version), (status = 404, description = "no such strategy, or not yours"), (status = 422, description = "validation_failed")))]
pub async fn create_version(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(body): ApiJson<CreateVersion>) -> ApiResult<(StatusCode, Json<Version>)> {
    let s = readable(&state, &user, id).await?;
    if !user.can_write(s.owner_id) {
        return Err(ApiError::NotFound(format!("strategy {id} not found")));
    }
    check_graph(&body.graph_json)?;
    let mut tx = state.pool.begin().await?;
    let n = db::next_version(&mut tx, id).await?;
    let v = db::insert_version(&mut tx, id, n, &body.graph_json, body.notes.as_deref(), user.id()).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(v)))
}

/// Every version, newest first.
#[utoipa::path(get, path = "/api/v1/strategies/{id}/versions", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Page<Version>), (status = 404, description = "no such strategy, or not yours")))]
pub async fn list_versions(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Page<Version>>> {
    readable(&state, &user, id).await?;
    Ok(Json(Page { items: db::versions(&state.pool, id).await?, next_cursor: None }))
}

/// One version.
#[utoipa::path(get, path = "/api/v1/strategies/{id}/versions/{n}", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, body = Version), (status = 404, description = "no such version, or not yours")))]
pub async fn fetch_version(State(state): State<AppState>, user: AuthUser, Path((id, n)): Path<(Uuid, i32)>) -> ApiResult<Json<Version>> {
    readable(&state, &user, id).await?;
    Ok(Json(db::version(&state.pool, id, n).await?.ok_or_else(|| ApiError::NotFound(format!("version {n} of strategy {id} not found")))?))
}

/// Validates a graph (the body is the graph, or `{"graphJson": graph}`); nothing is stored.
#[utoipa::path(post, path = "/api/v1/strategies/validate", tag = "strategies", security(("bearer" = [])),
    responses((status = 200, description = "{\"valid\": bool, \"issues\": [...]}")))]
pub async fn validate(_user: AuthUser, ApiJson(body): ApiJson<Value>) -> Json<Value> {
    let graph = body.get("graphJson").cloned().unwrap_or(body);
    match pipelines::graph::validate(&graph) {
        Ok(_) => Json(json!({"valid": true, "issues": []})),
        Err(issues) => Json(json!({"valid": false, "issues": issues})),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs() {
        assert_eq!(super::slugify("My SMA Cross!"), "my-sma-cross");
        assert_eq!(super::slugify("  --  "), "strategy");
        assert_eq!(super::slugify("Ünïcode & RSI 14"), "n-code-rsi-14");
    }
}
