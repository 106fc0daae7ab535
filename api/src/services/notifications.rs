//! Notifications of a user (e.g. `backtest_complete`): creating them, listing them unread first,
//! the unread count, and marking them read. Creating one notifies every API process (a trigger's
//! `pg_notify`), whose streams push it to its user.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::{Channel, NotificationType};

/// A notification as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub channel: Channel,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "id, type AS kind, channel, payload, read_at, created_at";

/// Creates an in-app notification of `kind` for `user`.
pub async fn insert(db: impl PgExecutor<'_>, user: Uuid, kind: NotificationType, payload: &Value) -> sqlx::Result<Uuid> {
    sqlx::query_scalar("INSERT INTO notifications (user_id, type, channel, payload) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(user)
        .bind(kind)
        .bind(Channel::InApp)
        .bind(payload)
        .fetch_one(db)
        .await
}

/// A user's notification by id.
pub async fn get(db: impl PgExecutor<'_>, user: Uuid, id: Uuid) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as::<_, Notification>(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1 AND user_id = $2"))
        .bind(id)
        .bind(user)
        .fetch_optional(db)
        .await
}

/// Keyset position in the unread-first order: (unread, created_at, id).
pub type Cursor = (bool, chrono::DateTime<chrono::Utc>, Uuid);

/// The cursor of a notification in the unread-first order.
pub fn cursor_of(n: &Notification) -> Cursor {
    (n.read_at.is_none(), n.created_at, n.id)
}

/// A page of a user's notifications: unread first, then newest first.
pub async fn list(db: impl PgExecutor<'_>, user: Uuid, unread_only: bool, after: Option<Cursor>, limit: i64) -> sqlx::Result<Vec<Notification>> {
    sqlx::query_as::<_, Notification>(&format!(
        "SELECT {COLUMNS} FROM notifications
         WHERE user_id = $1 AND (NOT $2 OR read_at IS NULL)
           AND ($3::bool IS NULL OR ((read_at IS NULL), created_at, id) < ($3, $4, $5))
         ORDER BY (read_at IS NULL) DESC, created_at DESC, id DESC LIMIT $6"
    ))
    .bind(user)
    .bind(unread_only)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(after.map(|a| a.2))
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn unread_count(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL").bind(user).fetch_one(db).await
}

/// Marks one notification read (kept read if it already was); `None` if it is not the user's.
pub async fn mark_read(db: impl PgExecutor<'_>, user: Uuid, id: Uuid) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as::<_, Notification>(&format!(
        "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await
}

/// Marks every unread notification of the user read; returns how many.
pub async fn mark_all_read(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<u64> {
    Ok(sqlx::query("UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL").bind(user).execute(db).await?.rows_affected())
}
