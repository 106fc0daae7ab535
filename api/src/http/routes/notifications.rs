//! In-app notifications: list (unread first), unread count, mark read, and a Server-Sent Events
//! stream that pushes a user's new notifications to that user only.

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::events::Kind;
use crate::http::extract::AuthUser;
use crate::http::page::{self, Page};
use crate::services::notifications::{self as service, Notification};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list))
        .route("/notifications/unread-count", get(unread_count))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/stream", get(stream))
        .route("/notifications/{id}/read", post(read))
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
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Server-Sent Events: `ready` with the unread count, then each new notification of yours as `notification`.
#[utoipa::path(get, path = "/api/v1/notifications/stream", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "events `ready` and `notification`")))]
pub async fn stream(State(state): State<AppState>, user: AuthUser) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let rx = state.events.subscribe();
    let s = NotificationStream { state, user: user.id, rx, first: true };
    Sse::new(futures::stream::unfold(s, next_notification)).keep_alive(KeepAlive::default())
}
