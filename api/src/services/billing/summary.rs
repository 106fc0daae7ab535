//! What `GET /billing` shows a user: their subscription, the tier their quotas follow, when it
//! renews, and their usage per metric.

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::model::PlanTier;
use crate::services::quotas::{self, Usage};
use crate::services::subscriptions::{self, Subscription};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Billing {
    /// The tier quotas follow now.
    pub tier: PlanTier,
    /// None: never subscribed (the tier is the sign-in token's).
    pub subscription: Option<Subscription>,
    pub renewal_at: Option<chrono::DateTime<chrono::Utc>>,
    pub usage: Vec<Usage>,
    /// Whether upgrading through Stripe is possible on this server.
    pub billing_configured: bool,
}

pub async fn get(pool: &PgPool, user: Uuid, configured: bool) -> sqlx::Result<Billing> {
    let tier: PlanTier = sqlx::query_scalar("SELECT tier FROM user_plans WHERE user_id = $1").bind(user).fetch_one(pool).await?;
    let subscription = subscriptions::get(pool, user).await?;
    let usage = quotas::usage(pool, user).await?;
    Ok(Billing { tier, renewal_at: subscription.as_ref().and_then(|s| s.renewal_at), subscription, usage, billing_configured: configured })
}
