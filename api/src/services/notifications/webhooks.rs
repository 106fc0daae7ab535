//! A user's webhook endpoints: registering one (its URL checked against the SSRF guard, a new
//! `whsec_` secret shown once), listing them, deleting one; and what delivery changes on them
//! (failures in a row, disabling after too many, with an in-app notice to the owner).

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::{inbox, signing, ssrf};
use crate::model::NotificationType;

/// An endpoint as its owner sees it (the secret only in the answer to its registration).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    /// The notification types sent here.
    pub types: Vec<NotificationType>,
    pub enabled: bool,
    /// Deliveries that failed for good since the last one that arrived.
    pub consecutive_failures: i32,
    pub disabled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub disabled_reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The answer to a registration: the endpoint and its signing secret, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` + base64 of the HMAC-SHA256 key (Standard Webhooks); verify `Webhook-Signature` with it.
    pub secret: String,
}

/// `POST /webhooks`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewWebhook {
    /// An http(s) URL on a public address.
    pub url: String,
    /// The notification types to send there (at least one).
    pub types: Vec<String>,
}

/// A rule the registration breaks: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

const COLUMNS: &str = "id, url, types, enabled, consecutive_failures, disabled_at, disabled_reason, created_at";

/// Endpoints one user may have.
pub const MAX_PER_USER: i64 = 20;

/// Checks a registration: URL (resolved now, when private addresses are refused) and types.
pub async fn check(new: &NewWebhook, allow_private: bool) -> Result<(url::Url, Vec<NotificationType>), Invalid> {
    let url = ssrf::check_url(new.url.trim(), allow_private).map_err(|message| Invalid { field: "url", message })?;
    if !allow_private {
        if let Some(url::Host::Domain(host)) = url.host() {
            ssrf::resolve_public(host, url.port_or_known_default().unwrap_or(443)).await.map_err(|message| Invalid { field: "url", message })?;
        }
    }
    if new.types.is_empty() {
        return Err(Invalid { field: "types", message: "list at least one notification type".into() });
    }
    let mut types = Vec::new();
    for (i, t) in new.types.iter().enumerate() {
        let kind: NotificationType = t.parse().map_err(|e| Invalid { field: "types", message: format!("types[{i}]: {e}") })?;
        if !types.contains(&kind) {
            types.push(kind);
        }
    }
    Ok((url, types))
}

/// Registers a checked endpoint; `None` when the user already has [`MAX_PER_USER`].
pub async fn insert(db: &mut PgConnection, user: Uuid, url: &url::Url, types: &[NotificationType]) -> sqlx::Result<Option<Registered>> {
    // one registration at a time per user, so the limit holds under concurrency
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(user).execute(&mut *db).await?;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks WHERE user_id = $1").bind(user).fetch_one(&mut *db).await?;
    if n >= MAX_PER_USER {
        return Ok(None);
    }
    let secret = signing::new_secret();
    let webhook = sqlx::query_as::<_, Webhook>(&format!("INSERT INTO webhooks (user_id, url, types, secret) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"))
        .bind(user)
        .bind(url.as_str())
        .bind(types)
        .bind(&secret)
        .fetch_one(&mut *db)
        .await?;
    Ok(Some(Registered { webhook, secret }))
}

pub async fn list(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<Vec<Webhook>> {
    sqlx::query_as::<_, Webhook>(&format!("SELECT {COLUMNS} FROM webhooks WHERE user_id = $1 ORDER BY created_at, id")).bind(user).fetch_all(db).await
}

/// Deletes one of the user's endpoints (its queued deliveries are skipped); `false` if not theirs.
pub async fn delete(db: impl PgExecutor<'_>, user: Uuid, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM webhooks WHERE id = $1 AND user_id = $2").bind(id).bind(user).execute(db).await?.rows_affected() == 1)
}

/// Turns an endpoint on (its failures in a row start again) or off; `None` if not the user's.
pub async fn set_enabled(db: impl PgExecutor<'_>, user: Uuid, id: Uuid, enabled: bool) -> sqlx::Result<Option<Webhook>> {
    sqlx::query_as::<_, Webhook>(&format!(
        "UPDATE webhooks SET enabled = $3,
             consecutive_failures = CASE WHEN $3 THEN 0 ELSE consecutive_failures END,
             disabled_at = CASE WHEN $3 THEN NULL WHEN enabled THEN now() ELSE disabled_at END,
             disabled_reason = CASE WHEN $3 THEN NULL WHEN enabled THEN 'turned off by its owner' ELSE disabled_reason END
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .bind(enabled)
    .fetch_optional(db)
    .await
}

/// What delivery needs of an endpoint.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub user_id: Uuid,
    pub url: String,
    pub secret: String,
    pub enabled: bool,
}

pub async fn endpoint(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as("SELECT id, user_id, url, secret, enabled FROM webhooks WHERE id = $1").bind(id).fetch_optional(db).await
}

/// A delivery arrived: the failures in a row start again.
pub async fn succeeded(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhooks SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0").bind(id).execute(db).await?;
    Ok(())
}

/// A delivery failed for good: one more failure in a row; at `disable_after` the endpoint is
/// disabled and its owner told in-app (a `system` notification). Returns whether it was disabled now.
pub async fn failed(db: &mut PgConnection, id: Uuid, disable_after: i32, last_error: &str) -> sqlx::Result<bool> {
    let row: Option<(Uuid, String, i32, bool)> = sqlx::query_as(
        "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1,
             enabled = enabled AND consecutive_failures + 1 < $2,
             disabled_at = CASE WHEN enabled AND consecutive_failures + 1 >= $2 THEN now() ELSE disabled_at END,
             disabled_reason = CASE WHEN enabled AND consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END
         WHERE id = $1
         RETURNING user_id, url, consecutive_failures, (disabled_at IS NOT NULL AND disabled_at >= now() AND NOT enabled)",
    )
    .bind(id)
    .bind(disable_after.max(1))
    .bind(format!("{disable_after} deliveries in a row failed; the last: {last_error}"))
    .fetch_optional(&mut *db)
    .await?;
    let Some((user, url, failures, disabled_now)) = row else { return Ok(false) };
    if disabled_now {
        let message = format!("Webhook {url} was disabled after {failures} failed deliveries in a row (last error: {last_error}). Register it again once it answers.");
        inbox::insert(&mut *db, user, NotificationType::System, &json!({"event": "webhook_disabled", "webhookId": id, "url": url, "failures": failures, "lastError": last_error, "message": message})).await?;
    }
    Ok(disabled_now)
}
