//! A user's in-app notifications (e.g. `backtest_complete`): creating them, listing them unread
//! first, the unread count, and marking them read. Creating one notifies every API process (a
//! trigger's `pg_notify`), whose streams push it to its user, and queues, in the same transaction,
//! one `notify` job per e-mail or webhook delivery the user's preferences ask for.

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::preferences::EMAIL_BY_DEFAULT;
use crate::model::{Channel, JobKind, NotificationType};
use crate::services::jobs;

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

/// Attempts a `notify` job may take in all (the worker's own limit, `NotifyConfig::max_attempts`,
/// is lower and decides; this bounds a job whose worker keeps dying mid-delivery).
pub const NOTIFY_JOB_ATTEMPTS: i32 = 50;

/// Creates an in-app notification of `kind` for `user` and queues its deliveries: e-mail when the
/// user's preference for `kind` says so (default: [`EMAIL_BY_DEFAULT`]) and no digest gathers it,
/// and one per enabled webhook that lists `kind` unless the preference turns webhooks off. All in
/// the caller's transaction: the deliveries exist exactly when the notification does.
pub async fn insert(db: &mut PgConnection, user: Uuid, kind: NotificationType, payload: &Value) -> sqlx::Result<Uuid> {
    let origin = jobs::Origin::current();
    let (id, queued): (Uuid, i64) = sqlx::query_as(
        "WITH n AS (
             INSERT INTO notifications (user_id, type, channel, payload) VALUES ($1, $2, $3, $4) RETURNING id
         ), pref AS (
             SELECT email, webhook FROM notification_preferences WHERE user_id = $1 AND type = $2
         ), targets AS (
             SELECT jsonb_build_object('channel', 'webhook', 'webhookId', w.id) AS payload
             FROM webhooks w
             WHERE w.user_id = $1 AND w.enabled AND $2 = ANY (w.types) AND coalesce((SELECT webhook FROM pref), true)
             UNION ALL
             SELECT jsonb_build_object('channel', 'email')
             FROM users u
             WHERE u.id = $1 AND NOT u.email_digest AND coalesce((SELECT email FROM pref), $2 = ANY ($5::text[]))
         ), queued AS (
             INSERT INTO jobs (kind, payload, notification_id, max_attempts, request_id, traceparent)
             SELECT $6, t.payload, n.id, $7, $8, $9 FROM targets t, n
             RETURNING id
         )
         SELECT n.id, (SELECT count(*) FROM queued) FROM n",
    )
    .bind(user)
    .bind(kind)
    .bind(Channel::InApp)
    .bind(payload)
    .bind(EMAIL_BY_DEFAULT)
    .bind(JobKind::Notify)
    .bind(NOTIFY_JOB_ATTEMPTS)
    .bind(origin.request_id)
    .bind(origin.traceparent)
    .fetch_one(&mut *db)
    .await?;
    if queued > 0 {
        jobs::wake(&mut *db).await?;
    }
    Ok(id)
}

/// A user's notification by id.
pub async fn get(db: impl PgExecutor<'_>, user: Uuid, id: Uuid) -> sqlx::Result<Option<Notification>> {
    sqlx::query_as::<_, Notification>(&format!("SELECT {COLUMNS} FROM notifications WHERE id = $1 AND user_id = $2"))
        .bind(id)
        .bind(user)
        .fetch_optional(db)
        .await
}

/// Any notification by id, with its owner (for delivery).
pub async fn get_any(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<(Uuid, Notification)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        user_id: Uuid,
        #[sqlx(flatten)]
        n: Notification,
    }
    let row = sqlx::query_as::<_, Row>(&format!("SELECT user_id, {COLUMNS} FROM notifications WHERE id = $1")).bind(id).fetch_optional(db).await?;
    Ok(row.map(|r| (r.user_id, r.n)))
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
