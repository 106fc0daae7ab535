//! Notifications: list (unread first), unread count, mark read, a Server-Sent Events stream that
//! pushes a user's new notifications to that user only, the delivery log of one notification, the
//! channel preferences, and the unsubscribe link of e-mails (no sign-in: its token is signed).

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::events::Kind;
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::http::page::{self, Page};
use crate::services::notifications::deliveries::{self, Delivery};
use crate::services::notifications::preferences::{self, Preferences, PreferencesPatch};
use crate::services::notifications::signing;
use crate::services::notifications::{self as service, Notification};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/unread-count", get(unread_count))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/stream", get(stream))
        .route("/notifications/{id}/read", post(read))
        .route("/notifications/{id}/deliveries", get(list_deliveries))
        .route("/notifications/unsubscribe", get(unsubscribe_page).post(unsubscribe_one_click))
        .route("/notification-preferences", get(get_preferences).put(put_preferences))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Only unread ones.
    pub unread: Option<bool>,
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// Your notifications: unread first, then newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Notification>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Notification>>> {
    let n = page::limit(q.limit, 20, 100)?;
    let after = q.cursor.as_deref().map(page::parse_flag_time_id).transpose()?;
    let items = service::list(&state.pool, user.id, q.unread.unwrap_or(false), after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |item| {
        let (unread, t, id) = service::cursor_of(item);
        page::flag_time_id(unread, t, id)
    })))
}

/// `{"unread": n}`.
#[utoipa::path(get, path = "/api/v1/notifications/unread-count", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "{\"unread\": n}")))]
pub async fn unread_count(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"unread": service::unread_count(&state.pool, user.id).await?})))
}

/// Marks one of your notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Notification), (status = 404, description = "no such notification, or not yours")))]
pub async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Notification>> {
    service::mark_read(&state.pool, user.id, id).await?.map(Json).ok_or_else(|| ApiError::NotFound(format!("notification {id} not found")))
}

/// Marks all your notifications read: `{"marked": n}`.
#[utoipa::path(post, path = "/api/v1/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "{\"marked\": n}")))]
pub async fn read_all(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"marked": service::mark_all_read(&state.pool, user.id).await?})))
}

struct NotificationStream {
    state: AppState,
    user: Uuid,
    rx: tokio::sync::broadcast::Receiver<crate::events::Event>,
    first: bool,
}

async fn next_notification(mut s: NotificationStream) -> Option<(Result<SseEvent, Infallible>, NotificationStream)> {
    use tokio::sync::broadcast::error::RecvError;
    if s.first {
        s.first = false;
        let unread = service::unread_count(&s.state.pool, s.user).await.ok()?;
        let event = SseEvent::default().event("ready").json_data(json!({"unread": unread})).ok()?;
        return Some((Ok(event), s));
    }
    loop {
        match s.rx.recv().await {
            Ok(e) if e.kind == Kind::Notification && e.user_id == s.user => {
                if let Ok(Some(n)) = service::get(&s.state.pool, s.user, e.id).await {
                    let event = SseEvent::default().event("notification").id(n.id.to_string()).json_data(&n).ok()?;
                    return Some((Ok(event), s));
                }
            }
            Ok(e) if e.kind == Kind::Unread && e.user_id == s.user => {
                if let Ok(unread) = service::unread_count(&s.state.pool, s.user).await {
                    let event = SseEvent::default().event("unread").json_data(json!({"unread": unread})).ok()?;
                    return Some((Ok(event), s));
                }
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Server-Sent Events: `ready` with the unread count, then each new notification of yours as
/// `notification`, and `unread` with the new count when you read some (here or elsewhere).
#[utoipa::path(get, path = "/api/v1/notifications/stream", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "events `ready`, `notification` and `unread`")))]
pub async fn stream(State(state): State<AppState>, user: AuthUser) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.events.subscribe();
    let s = NotificationStream { state, user: user.id, rx, first: true };
    Sse::new(futures::stream::unfold(s, next_notification)).keep_alive(KeepAlive::default())
}

/// Every attempt to deliver one of your notifications by e-mail or webhook, oldest first.
#[utoipa::path(get, path = "/api/v1/notifications/{id}/deliveries", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Vec<Delivery>), (status = 404, description = "no such notification, or not yours")))]
pub async fn list_deliveries(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Vec<Delivery>>> {
    let mut c = state.pool.acquire().await?;
    deliveries::list(&mut c, user.id, id).await?.map(Json).ok_or_else(|| ApiError::NotFound(format!("notification {id} not found")))
}

/// Your channels per notification type (in-app always; e-mail; webhook) and the daily digest.
#[utoipa::path(get, path = "/api/v1/notification-preferences", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = Preferences)))]
pub async fn get_preferences(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Preferences>> {
    let mut c = state.pool.acquire().await?;
    Ok(Json(preferences::get(&mut c, user.id, state.notifier.email_available()).await?))
}

/// Changes your channels: the types given change (fields left out stay), the others stay.
/// `{"types": {"backtest_complete": {"email": true}}, "emailDigest": true}`.
#[utoipa::path(put, path = "/api/v1/notification-preferences", tag = "notifications", security(("bearer" = [])), request_body = PreferencesPatch,
    responses((status = 200, body = Preferences), (status = 422, description = "an unknown type, or in-app turned off (`details.field`)")))]
pub async fn put_preferences(State(state): State<AppState>, user: AuthUser, ApiJson(patch): ApiJson<PreferencesPatch>) -> ApiResult<Json<Preferences>> {
    let changes = preferences::check(&patch).map_err(|e| ApiError::invalid(&e.field, e.message))?;
    let mut tx = state.pool.begin().await?;
    preferences::update(&mut tx, user.id, &changes, patch.email_digest).await?;
    let now = preferences::get(&mut tx, user.id, state.notifier.email_available()).await?;
    tx.commit().await?;
    Ok(Json(now))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct UnsubscribeQuery {
    /// The token of the e-mail's unsubscribe link.
    pub token: String,
}

async fn apply_unsubscribe(state: &AppState, token: &str) -> ApiResult<signing::Unsubscribe> {
    let mut c = state.pool.acquire().await?;
    let key = signing::app_key(&mut c, signing::UNSUBSCRIBE_KEY).await?;
    let u = signing::read_unsubscribe_token(&key, token).ok_or_else(|| ApiError::BadRequest("this unsubscribe link is not valid (it may be cut short)".into()))?;
    preferences::unsubscribe(&mut *c, u.user, u.kind).await?;
    Ok(u)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The unsubscribe link of an e-mail: turns e-mail off for the type it names (or all types) and
/// says so in a page. No sign-in: the token is signed by the platform.
#[utoipa::path(get, path = "/api/v1/notifications/unsubscribe", tag = "notifications", params(UnsubscribeQuery),
    responses((status = 200, content_type = "text/html", description = "done"), (status = 400, description = "the token is not valid")))]
pub async fn unsubscribe_page(State(state): State<AppState>, Query(q): Query<UnsubscribeQuery>) -> Response {
    match apply_unsubscribe(&state, &q.token).await {
        Ok(u) => {
            let what = u.kind.map(|k| format!("'{}' notifications", escape(k.as_str()))).unwrap_or_else(|| "any notifications".into());
            let settings = escape(&state.notifier.url("settings/notifications"));
            Html(format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unsubscribed · Blockbuilders</title></head>\
                 <body style=\"font-family: system-ui, sans-serif\"><h1>You are unsubscribed</h1><p>You will no longer get e-mails about {what}. \
                 In-app notifications stay.</p><p><a href=\"{settings}\">Notification settings</a></p></body></html>"
            ))
            .into_response()
        }
        Err(ApiError::BadRequest(m)) => (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Blockbuilders</title></head><body><h1>Link not valid</h1><p>{}</p></body></html>", escape(&m))).into_response(),
        Err(e) => e.into_response(),
    }
}

/// One-click unsubscribe (RFC 8058: mail clients POST `List-Unsubscribe=One-Click` to the link).
#[utoipa::path(post, path = "/api/v1/notifications/unsubscribe", tag = "notifications", params(UnsubscribeQuery),
    responses((status = 200, description = "{\"unsubscribed\": true, \"type\": t or null}"), (status = 400, description = "the token is not valid")))]
pub async fn unsubscribe_one_click(State(state): State<AppState>, Query(q): Query<UnsubscribeQuery>) -> ApiResult<Json<Value>> {
    let u = apply_unsubscribe(&state, &q.token).await?;
    Ok(Json(json!({"unsubscribed": true, "type": u.kind})))
}
