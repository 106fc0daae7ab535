//! The daily e-mail digest: for users who chose it, the notifications they would have been
//! e-mailed are gathered into one message a day. The worker's housekeeping queues a digest job
//! for each user whose day is up; the job sends it and moves the user's digest mark.

use std::time::Instant;

use sqlx::PgPool;
use uuid::Uuid;

use super::deliver::{self, Next, Notifier};
use super::deliveries::{self, Attempt};
use super::inbox::{Notification, NOTIFY_JOB_ATTEMPTS};
use super::preferences::EMAIL_BY_DEFAULT;
use crate::model::{Channel, DeliveryStatus, JobKind};
use crate::services::jobs;

/// Most notifications one digest lists (the rest wait for the next).
pub const MAX_ITEMS: i64 = 200;

/// Queues a digest job for every user whose digest is on and whose day since the last one is up
/// (at most one waiting or running per user). Returns how many were queued.
pub async fn enqueue_due(pool: &PgPool) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let n = sqlx::query(
        "INSERT INTO jobs (kind, payload, max_attempts)
         SELECT $1, jsonb_build_object('channel', 'email', 'digest', true, 'userId', u.id), $2
         FROM users u
         WHERE u.email_digest AND coalesce(u.digest_sent_at, '-infinity') <= now() - interval '1 day'
           AND EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = u.id AND n.created_at > coalesce(u.digest_sent_at, '-infinity'))
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = $1 AND j.status IN ('queued', 'running') AND j.payload ? 'digest'
                           AND j.payload ->> 'userId' = u.id::text)
         ON CONFLICT DO NOTHING",
    )
    .bind(JobKind::Notify)
    .bind(NOTIFY_JOB_ATTEMPTS)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        jobs::wake(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Sends `user`'s digest if it is due: the notifications since the last one whose type has
/// e-mail on, oldest first. Each listed notification gets a delivery row.
pub async fn send(pool: &PgPool, n: &Notifier, user: Uuid, attempt: i32) -> anyhow::Result<Next> {
    let row: Option<(Option<String>, String, bool, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT email, display_name, email_digest, digest_sent_at FROM users WHERE id = $1").bind(user).fetch_optional(pool).await?;
    let Some((address, name, on, since)) = row else { return Ok(Next::Done) };
    if !on || since.is_some_and(|s| s > chrono::Utc::now() - chrono::Duration::days(1)) {
        return Ok(Next::Done);
    }
    let items = sqlx::query_as::<_, Notification>(
        "SELECT n.id, n.type AS kind, n.channel, n.payload, n.read_at, n.created_at
         FROM notifications n LEFT JOIN notification_preferences p ON p.user_id = n.user_id AND p.type = n.type
         WHERE n.user_id = $1 AND n.created_at > coalesce($2, '-infinity') AND coalesce(p.email, n.type = ANY ($3::text[]))
         ORDER BY n.created_at, n.id LIMIT $4",
    )
    .bind(user)
    .bind(since)
    .bind(EMAIL_BY_DEFAULT)
    .bind(MAX_ITEMS)
    .fetch_all(pool)
    .await?;
    // the mark moves to the newest notification listed (or now, when none is), only if no other
    // digest moved it meanwhile
    let mark = items.iter().map(|i| i.created_at).max();
    let advance = |pool: &PgPool| {
        let pool = pool.clone();
        async move {
            sqlx::query("UPDATE users SET digest_sent_at = coalesce($2, now()) WHERE id = $1 AND digest_sent_at IS NOT DISTINCT FROM $3")
                .bind(user)
                .bind(mark)
                .bind(since)
                .execute(&pool)
                .await
        }
    };
    if items.is_empty() {
        advance(pool).await?;
        return Ok(Next::Done);
    }
    let address = address.filter(|a| !a.trim().is_empty());
    let target = address.clone().unwrap_or_else(|| "(no address)".into());
    let log_all = |status: DeliveryStatus, code: Option<i32>, error: Option<String>, ms: Option<i32>, retry_in: Option<std::time::Duration>| {
        let target = target.clone();
        let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
        async move {
            let mut tx = pool.begin().await?;
            for id in ids {
                let a = Attempt { notification: id, channel: Channel::Email, webhook: None, target: &target, attempt, status, response_code: code, error: error.clone(), duration_ms: ms, retry_in };
                deliveries::record(&mut *tx, &a).await?;
            }
            tx.commit().await
        }
    };
    let (Some(mailer), Some(to)) = (deliver::mailer(n), address.as_deref()) else {
        let why = if deliver::mailer(n).is_none() { "e-mail is off on this server (BB_SMTP_URL is not set)" } else { "the account has no e-mail address" };
        log_all(DeliveryStatus::Skipped, None, Some(format!("daily digest: {why}")), None, None).await?;
        advance(pool).await?;
        return Ok(Next::Done);
    };
    let f = deliver::frame(pool, n, user, &name, None, n.url("notifications")).await?;
    let message = deliver::render_digest(n, &items, &f)?;
    let start = Instant::now();
    let sent = mailer.send(to, &message, &f.unsubscribe_url).await;
    let ms = Some(start.elapsed().as_millis().min(i32::MAX as u128) as i32);
    match sent {
        Ok(code) => {
            log_all(DeliveryStatus::Delivered, Some(code), None, ms, None).await?;
            advance(pool).await?;
            Ok(Next::Done)
        }
        Err(e) if e.transient && attempt < n.config.max_attempts => {
            let wait = n.backoff(attempt);
            log_all(DeliveryStatus::Retrying, e.code, Some(format!("daily digest: {}", e.message)), ms, Some(wait)).await?;
            Ok(Next::RetryIn(wait, e.message))
        }
        Err(e) => {
            log_all(DeliveryStatus::Failed, e.code, Some(format!("daily digest: {}", e.message)), ms, None).await?;
            advance(pool).await?;
            Ok(Next::Done)
        }
    }
}
