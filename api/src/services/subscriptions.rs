//! Subscriptions: each user's plan as billing knows it (one row per user). The tier a user's
//! quotas follow is the `user_plans` view: an active or past-due subscription's plan, free once
//! canceled, and the token's claimed tier for a user without a subscription row.

use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::model::{PlanTier, SubscriptionStatus};

/// A user's subscription.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub user_id: Uuid,
    pub plan_code: PlanTier,
    pub status: SubscriptionStatus,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub renewal_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What a subscription is set to.
#[derive(Debug, Clone)]
pub struct SubscriptionState {
    pub plan_code: PlanTier,
    pub status: SubscriptionStatus,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub renewal_at: Option<chrono::DateTime<chrono::Utc>>,
}

const COLUMNS: &str = "user_id, plan_code, status, stripe_customer_id, stripe_subscription_id, renewal_at, created_at, updated_at";

/// The user's subscription, if they have one.
pub async fn get(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<Option<Subscription>> {
    sqlx::query_as::<_, Subscription>(&format!("SELECT {COLUMNS} FROM subscriptions WHERE user_id = $1")).bind(user).fetch_optional(db).await
}

/// Creates or replaces the user's subscription.
pub async fn set(db: impl PgExecutor<'_>, user: Uuid, s: &SubscriptionState) -> sqlx::Result<Subscription> {
    sqlx::query_as::<_, Subscription>(&format!(
        "INSERT INTO subscriptions (user_id, plan_code, status, stripe_customer_id, stripe_subscription_id, renewal_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (user_id) DO UPDATE SET plan_code = EXCLUDED.plan_code, status = EXCLUDED.status,
             stripe_customer_id = EXCLUDED.stripe_customer_id, stripe_subscription_id = EXCLUDED.stripe_subscription_id,
             renewal_at = EXCLUDED.renewal_at, updated_at = now()
         RETURNING {COLUMNS}"
    ))
    .bind(user)
    .bind(s.plan_code)
    .bind(s.status)
    .bind(&s.stripe_customer_id)
    .bind(&s.stripe_subscription_id)
    .bind(s.renewal_at)
    .fetch_one(db)
    .await
}
