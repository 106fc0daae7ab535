//! `GET /ws`: a WebSocket that pushes the signed-in user's live events — `ready` with the unread
//! count, each new `notification` (with the new count), `unread` when they read some, and changes of their backtest (`run`) and
//! paper-trading (`paper`) runs — the same events as the Server-Sent Events streams, in one
//! connection. The token comes as a bearer header or `?access_token=` (browsers cannot set headers
//! on a WebSocket). The server pings every 20 s and closes a connection that misses two pongs.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::events::{Event, Kind};
use crate::services::notifications as service;
use crate::services::{backtests, paper_trades};
use crate::state::AppState;

/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(20);

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(ws))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct WsQuery {
    /// The bearer token, for clients that cannot set the Authorization header.
    pub access_token: Option<String>,
}

/// Upgrades to a WebSocket of your live events. Messages are JSON text: `{"type":"ready","unread":n}`,
/// `{"type":"notification","notification":{…},"unread":n}`, `{"type":"unread","unread":n}` (you read some,
/// here or elsewhere), `{"type":"run","run":{…}}` (a backtest's
/// status and progress), `{"type":"paper","paperTrade":{…}}`, and `{"type":"resync","unread":n}` when
/// events were dropped (re-read what you show). Send the text `ping` for a `{"type":"pong"}`.
#[utoipa::path(get, path = "/api/v1/ws", tag = "notifications", security(("bearer" = [])), params(WsQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"), (status = 401, description = "no valid token")))]
pub async fn ws(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<WsQuery>, upgrade: WebSocketUpgrade) -> ApiResult<Response> {
    let header = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let token = match (header, q.access_token.as_deref()) {
        (Some(h), _) => h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")).ok_or_else(|| ApiError::Unauthorized("the Authorization header must be 'Bearer <token>'".into()))?,
        (None, Some(t)) => t,
        (None, None) => return Err(ApiError::Unauthorized("missing bearer token (header, or ?access_token=)".into())),
    };
    let user = crate::auth::authenticate(&state.pool, &state.verifier, token.trim()).await?;
    Ok(upgrade.on_upgrade(move |socket| session(state, user.id, socket)))
}

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// The message for one change event of the user's, if there is one to send.
async fn message(state: &AppState, user: Uuid, e: &Event) -> Option<Value> {
    match e.kind {
        Kind::Notification => {
            let n = service::get(&state.pool, user, e.id).await.ok()??;
            let unread = service::unread_count(&state.pool, user).await.ok()?;
            Some(json!({"type": "notification", "notification": n, "unread": unread}))
        }
        Kind::Run => {
            let run = backtests::runs::get(&state.pool, e.id).await.ok()??;
            Some(json!({"type": "run", "run": super::backtests::run_event(&run)}))
        }
        Kind::Unread => {
            let unread = service::unread_count(&state.pool, user).await.ok()?;
            Some(json!({"type": "unread", "unread": unread}))
        }
        Kind::Paper => {
            let run = paper_trades::runs::get(&state.pool, e.id).await.ok()??;
            Some(json!({"type": "paper", "paperTrade": super::paper_trades::run_event(&run)}))
        }
    }
}

async fn session(state: AppState, user: Uuid, mut socket: WebSocket) {
    use tokio::sync::broadcast::error::RecvError;
    let mut rx = state.events.subscribe();
    let Ok(unread) = service::unread_count(&state.pool, user).await else { return };
    if socket.send(text(json!({"type": "ready", "unread": unread}))).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut unanswered = 0;
    loop {
        tokio::select! {
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(Message::Pong(_))) => unanswered = 0,
                Some(Ok(Message::Text(t))) if t.as_str().trim() == "ping" => {
                    if socket.send(text(json!({"type": "pong"}))).await.is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
            },
            e = rx.recv() => {
                let out = match e {
                    Ok(e) if e.user_id == user => message(&state, user, &e).await,
                    Ok(_) => None,
                    Err(RecvError::Lagged(_)) => service::unread_count(&state.pool, user).await.ok().map(|n| json!({"type": "resync", "unread": n})),
                    Err(RecvError::Closed) => break,
                };
                if let Some(v) = out {
                    if socket.send(text(v)).await.is_err() {
                        break;
                    }
                }
            }
            _ = ping.tick() => {
                if unanswered >= 2 {
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
                unanswered += 1;
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
}
