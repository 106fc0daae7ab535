//! The delivery log: one row per attempt to deliver a notification by e-mail or webhook (channel,
//! target, attempt, status, response code, error, time), read back by the notification's owner.

use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::{Channel, DeliveryStatus};

/// One attempt, as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: i64,
    pub channel: Channel,
    pub webhook_id: Option<Uuid>,
    /// The e-mail address or the webhook URL.
    pub target: String,
    /// From 1; every retry of a webhook delivery carries the same `Webhook-Id`.
    pub attempt: i32,
    pub status: DeliveryStatus,
    /// The HTTP status (webhooks) or the SMTP reply code (e-mail), when one came.
    pub response_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i32>,
    /// When the next attempt is due (status `retrying`).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An attempt to record.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    pub notification: Uuid,
    pub channel: Channel,
    pub webhook: Option<Uuid>,
    pub target: &'a str,
    pub attempt: i32,
    pub status: DeliveryStatus,
    pub response_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: Option<i32>,
    pub retry_in: Option<std::time::Duration>,
}

/// Logs an attempt (and counts it in the process's metrics).
pub async fn record(db: impl PgExecutor<'_>, a: &Attempt<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO notification_deliveries (notification_id, channel, webhook_id, target, attempt, status, response_code, error, duration_ms, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + $10 * interval '1 millisecond')",
    )
    .bind(a.notification)
    .bind(a.channel)
    .bind(a.webhook)
    .bind(a.target)
    .bind(a.attempt)
    .bind(a.status)
    .bind(a.response_code)
    .bind(&a.error)
    .bind(a.duration_ms)
    .bind(a.retry_in.map(|d| d.as_millis() as i64))
    .execute(db)
    .await?;
    crate::metrics::global().delivery(a.channel.as_str(), a.status.as_str());
    Ok(())
}

/// Every attempt for a notification of `user`'s, oldest first; `None` when the notification is not theirs.
pub async fn list(db: &mut sqlx::PgConnection, user: Uuid, notification: Uuid) -> sqlx::Result<Option<Vec<Delivery>>> {
    let mine: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM notifications WHERE id = $1 AND user_id = $2)").bind(notification).bind(user).fetch_one(&mut *db).await?;
    if !mine {
        return Ok(None);
    }
    let rows = sqlx::query_as::<_, Delivery>(
        "SELECT id, channel, webhook_id, target, attempt, status, response_code, error, duration_ms, next_attempt_at, created_at
         FROM notification_deliveries WHERE notification_id = $1 ORDER BY id",
    )
    .bind(notification)
    .fetch_all(&mut *db)
    .await?;
    Ok(Some(rows))
}
