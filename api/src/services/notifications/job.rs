//! The work of one `notify` job: its payload says which — a webhook delivery, an e-mail, or a
//! user's daily digest — and the attempt's outcome says whether the queue retries it.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::deliver::{self, Next, Notifier};
use super::{digest, inbox};

/// The work of one `notify` job: `payload.channel` says what; attempt numbers count from 1.
pub async fn run(pool: &PgPool, n: &Notifier, notification: Option<Uuid>, payload: &Value, attempt: i32) -> anyhow::Result<Next> {
    if payload.get("digest").and_then(Value::as_bool) == Some(true) {
        let user: Uuid = payload.get("userId").and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("a digest job names its userId"))?;
        return digest::send(pool, n, user, attempt).await;
    }
    let id = notification.ok_or_else(|| anyhow::anyhow!("a notify job names its notification"))?;
    // the notification was deleted (its user was): nothing to deliver
    let Some((user, note)) = inbox::get_any(pool, id).await? else { return Ok(Next::Done) };
    match payload.get("channel").and_then(Value::as_str) {
        Some("webhook") => {
            let hook: Uuid = payload.get("webhookId").and_then(Value::as_str).and_then(|s| s.parse().ok()).ok_or_else(|| anyhow::anyhow!("a webhook job names its webhookId"))?;
            deliver::webhook(pool, n, user, &note, hook, attempt).await
        }
        Some("email") => deliver::email(pool, n, user, &note, attempt).await,
        other => anyhow::bail!("a notify job's channel must be email or webhook, not {other:?}"),
    }
}

