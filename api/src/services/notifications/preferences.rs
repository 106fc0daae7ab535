//! Which channels a user hears about each notification type on: in-app always, e-mail and webhook
//! per type (no stored row means the defaults), and the daily e-mail digest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::model::NotificationType;

/// The types that go out by e-mail unless the user turns it off (the rest only when turned on).
pub const EMAIL_BY_DEFAULT: &[NotificationType] = &[NotificationType::PaperTradeAlert, NotificationType::GovernanceTask];

/// The channels of one notification type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Channels {
    /// Always on: every notification is kept in the app.
    pub in_app: bool,
    pub email: bool,
    /// Sent to each registered webhook that lists the type (registering for a type is the opt-in).
    pub webhook: bool,
}

impl Channels {
    pub fn default_for(kind: NotificationType) -> Self {
        Channels { in_app: true, email: EMAIL_BY_DEFAULT.contains(&kind), webhook: true }
    }
}

/// A user's preferences: every type's channels and the digest.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    /// Per notification type.
    #[schema(value_type = Object)]
    pub types: BTreeMap<NotificationType, Channels>,
    /// E-mails gathered into one a day instead of one per notification.
    pub email_digest: bool,
    /// The address e-mails go to (from the sign-in token); none means no e-mail is sent.
    pub email: Option<String>,
    /// Whether this server sends e-mail at all (`BB_SMTP_URL` set).
    pub email_available: bool,
}

/// A change of one type's channels; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChannelsPatch {
    /// Must be true when given: in-app cannot be turned off.
    pub in_app: Option<bool>,
    pub email: Option<bool>,
    pub webhook: Option<bool>,
}

/// `PUT /notification-preferences`: the types given change, the others stay.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesPatch {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub types: BTreeMap<String, ChannelsPatch>,
    pub email_digest: Option<bool>,
}

/// A rule the patch breaks: the field (as the API spells it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

/// The patch's types, parsed; the first bad one is named.
pub fn check(patch: &PreferencesPatch) -> Result<Vec<(NotificationType, ChannelsPatch)>, Invalid> {
    let mut out = Vec::new();
    for (name, c) in &patch.types {
        let kind: NotificationType = name.parse().map_err(|e| Invalid { field: format!("types.{name}"), message: format!("unknown notification type: {e}") })?;
        if c.in_app == Some(false) {
            return Err(Invalid { field: format!("types.{name}.inApp"), message: "in-app notifications cannot be turned off".into() });
        }
        out.push((kind, c.clone()));
    }
    Ok(out)
}

/// The user's preferences, defaults filled in.
pub async fn get(db: &mut PgConnection, user: Uuid, email_available: bool) -> sqlx::Result<Preferences> {
    let rows: Vec<(NotificationType, bool, bool)> =
        sqlx::query_as("SELECT type, email, webhook FROM notification_preferences WHERE user_id = $1").bind(user).fetch_all(&mut *db).await?;
    let (email_digest, email): (bool, Option<String>) = sqlx::query_as("SELECT email_digest, email FROM users WHERE id = $1").bind(user).fetch_one(&mut *db).await?;
    let mut types: BTreeMap<_, _> = NotificationType::ALL.iter().map(|k| (*k, Channels::default_for(*k))).collect();
    for (kind, email, webhook) in rows {
        types.insert(kind, Channels { in_app: true, email, webhook });
    }
    Ok(Preferences { types, email_digest, email: email.filter(|e| !e.is_empty()), email_available })
}

/// Applies a checked patch (in the caller's transaction). Turning the digest on starts its day now.
pub async fn update(db: &mut PgConnection, user: Uuid, changes: &[(NotificationType, ChannelsPatch)], email_digest: Option<bool>) -> sqlx::Result<()> {
    for (kind, c) in changes {
        let d = Channels::default_for(*kind);
        sqlx::query(
            "INSERT INTO notification_preferences (user_id, type, email, webhook) VALUES ($1, $2, coalesce($3, $5), coalesce($4, $6))
             ON CONFLICT (user_id, type) DO UPDATE SET email = coalesce($3, notification_preferences.email),
                 webhook = coalesce($4, notification_preferences.webhook), updated_at = now()",
        )
        .bind(user)
        .bind(kind)
        .bind(c.email)
        .bind(c.webhook)
        .bind(d.email)
        .bind(d.webhook)
        .execute(&mut *db)
        .await?;
    }
    if let Some(on) = email_digest {
        sqlx::query("UPDATE users SET digest_sent_at = CASE WHEN $2 AND NOT email_digest THEN now() ELSE digest_sent_at END, email_digest = $2 WHERE id = $1")
            .bind(user)
            .bind(on)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// Turns e-mail off for one type, or for every type (an unsubscribe link).
pub async fn unsubscribe(db: impl PgExecutor<'_>, user: Uuid, kind: Option<NotificationType>) -> sqlx::Result<()> {
    let kinds: Vec<NotificationType> = kind.map(|k| vec![k]).unwrap_or_else(|| NotificationType::ALL.to_vec());
    sqlx::query(
        "INSERT INTO notification_preferences (user_id, type, email, webhook) SELECT $1, k, false, true FROM unnest($2::text[]) k
         ON CONFLICT (user_id, type) DO UPDATE SET email = false, updated_at = now()",
    )
    .bind(user)
    .bind(kinds)
    .execute(db)
    .await?;
    Ok(())
}
