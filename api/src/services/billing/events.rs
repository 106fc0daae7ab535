//! Stripe's webhook events applied to the user's subscription: each event id stored once (a replay
//! changes nothing), then `checkout.session.completed`, `customer.subscription.created/updated/
//! deleted`, `invoice.paid` and `invoice.payment_failed` move the subscription row, in the event's
//! order by its `created` time (an older event arriving late is kept but not applied). When the
//! effective tier changes, the open quota windows take the new plan's caps at once (nothing is
//! deleted on a downgrade) and the user gets a `system` notification.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::stripe::Stripe;
use crate::error::ApiError;
use crate::model::{NotificationType, PlanTier, SubscriptionStatus};
use crate::services::{notifications, subscriptions};

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    pub received: bool,
    /// The event was stored before (a replay): nothing changed.
    pub duplicate: bool,
    /// `applied`, `stale` (older than the state it would change), `unmatched` (no user), `ignored` (a type not handled).
    pub outcome: String,
}

/// A change to a subscription that an event asks for; `None` fields stay.
#[derive(Debug, Clone, Default)]
struct Change {
    plan: Option<PlanTier>,
    status: Option<SubscriptionStatus>,
    customer: Option<String>,
    subscription: Option<String>,
    price: Option<String>,
    renewal: Option<DateTime<Utc>>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        // an expanded object
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_i64().and_then(|t| Utc.timestamp_opt(t, 0).single())
}

/// Stripe's subscription statuses, as access goes: paying (or trialing) is active, behind on
/// payment is past due, ended is canceled. `incomplete` (first payment pending) changes nothing.
fn status_of(s: &str) -> Option<SubscriptionStatus> {
    match s {
        "active" | "trialing" => Some(SubscriptionStatus::Active),
        "past_due" | "unpaid" => Some(SubscriptionStatus::PastDue),
        "canceled" | "incomplete_expired" | "paused" => Some(SubscriptionStatus::Canceled),
        _ => None,
    }
}

/// The user an object names: our id in its metadata (or `client_reference_id`), else the
/// subscription or customer already linked to a user.
async fn user_of(db: &mut PgConnection, object: &Value, subscription: Option<&str>, customer: Option<&str>) -> sqlx::Result<Option<Uuid>> {
    let named = [&object["client_reference_id"], &object["metadata"]["user_id"], &object["subscription_details"]["metadata"]["user_id"], &object["parent"]["subscription_details"]["metadata"]["user_id"]]
        .into_iter()
        .filter_map(|v| v.as_str().and_then(|s| Uuid::parse_str(s).ok()))
        .next();
    if let Some(u) = named {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)").bind(u).fetch_one(&mut *db).await?;
        return Ok(exists.then_some(u));
    }
    sqlx::query_scalar(
        "SELECT user_id FROM subscriptions WHERE ($1::text IS NOT NULL AND stripe_subscription_id = $1) OR ($2::text IS NOT NULL AND stripe_customer_id = $2)
         ORDER BY (stripe_subscription_id = $1) DESC NULLS LAST LIMIT 1",
    )
    .bind(subscription)
    .bind(customer)
    .fetch_optional(&mut *db)
    .await
}

/// What `event` asks of whose subscription, or why nothing.
async fn read(db: &mut PgConnection, stripe: &Stripe, kind: &str, o: &Value) -> sqlx::Result<Result<(Uuid, Change, Option<&'static str>), &'static str>> {
    let customer = text(&o["customer"]);
    let (change, subscription, notice) = match kind {
        "checkout.session.completed" => {
            let plan = o["metadata"]["plan"].as_str().and_then(|p| p.parse().ok());
            let subscription = text(&o["subscription"]);
            (Change { plan, status: Some(SubscriptionStatus::Active), customer: customer.clone(), subscription: subscription.clone(), ..Change::default() }, subscription, None)
        }
        "customer.subscription.created" | "customer.subscription.updated" | "customer.subscription.deleted" => {
            let item = &o["items"]["data"][0];
            let price = text(&item["price"]);
            let plan = price.as_deref().and_then(|p| stripe.plan_for_price(p)).or_else(|| o["metadata"]["plan"].as_str().and_then(|p| p.parse().ok()));
            let status = if kind == "customer.subscription.deleted" { Some(SubscriptionStatus::Canceled) } else { o["status"].as_str().and_then(status_of) };
            // newer API versions keep the period on the item
            let renewal = time(&o["current_period_end"]).or_else(|| time(&item["current_period_end"]));
            let subscription = text(&o["id"]);
            (Change { plan, status, customer: customer.clone(), subscription: subscription.clone(), price, renewal }, subscription, None)
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let subscription = text(&o["subscription"]).or_else(|| text(&o["parent"]["subscription_details"]["subscription"]));
            let paid = kind == "invoice.paid";
            let renewal = if paid { time(&o["lines"]["data"][0]["period"]["end"]).or_else(|| time(&o["period_end"])) } else { None };
            let status = Some(if paid { SubscriptionStatus::Active } else { SubscriptionStatus::PastDue });
            (Change { status, customer: customer.clone(), subscription: subscription.clone(), renewal, ..Change::default() }, subscription, (!paid).then_some("payment_failed"))
        }
        _ => return Ok(Err("ignored")),
    };
    match user_of(db, o, subscription.as_deref(), customer.as_deref()).await? {
        Some(user) => Ok(Ok((user, change, notice))),
        None => Ok(Err("unmatched")),
    }
}

async fn tier(db: &mut PgConnection, user: Uuid) -> sqlx::Result<PlanTier> {
    sqlx::query_scalar("SELECT tier FROM user_plans WHERE user_id = $1").bind(user).fetch_one(db).await
}

/// Applies `change` (made at `at`) to the user's subscription, unless a later event already did.
async fn apply(db: &mut PgConnection, user: Uuid, at: DateTime<Utc>, change: Change, notice: Option<&str>) -> sqlx::Result<&'static str> {
    // one event of a user at a time
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(user).execute(&mut *db).await?;
    let current = subscriptions::get(&mut *db, user).await?;
    let state_at: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT stripe_state_at FROM subscriptions WHERE user_id = $1").bind(user).fetch_optional(&mut *db).await?.flatten();
    if state_at.is_some_and(|s| s > at) {
        return Ok("stale");
    }
    let Some(plan) = change.plan.or(current.as_ref().map(|c| c.plan_code)) else {
        // a subscription we know no plan of (an unconfigured price): nothing to follow yet
        return Ok("unmatched");
    };
    let before = tier(&mut *db, user).await?;
    let state = subscriptions::SubscriptionState {
        plan_code: plan,
        status: change.status.or(current.as_ref().map(|c| c.status)).unwrap_or(SubscriptionStatus::Active),
        stripe_customer_id: change.customer.or(current.as_ref().and_then(|c| c.stripe_customer_id.clone())),
        stripe_subscription_id: change.subscription.or(current.as_ref().and_then(|c| c.stripe_subscription_id.clone())),
        renewal_at: change.renewal.or(current.as_ref().and_then(|c| c.renewal_at)),
    };
    subscriptions::set(&mut *db, user, &state).await?;
    sqlx::query("UPDATE subscriptions SET stripe_state_at = $2, stripe_price_id = coalesce($3, stripe_price_id) WHERE user_id = $1")
        .bind(user)
        .bind(at)
        .bind(&change.price)
        .execute(&mut *db)
        .await?;
    let after = tier(&mut *db, user).await?;
    if after != before {
        // the open windows take the new caps now; usage so far stays, nothing is deleted
        sqlx::query(
            "UPDATE plan_usage pu SET plan_limit = (SELECT (p.quotas ->> pu.metric)::int FROM subscription_plans p WHERE p.tier = $2)
             WHERE pu.user_id = $1 AND pu.window_end > now()",
        )
        .bind(user)
        .bind(after)
        .execute(&mut *db)
        .await?;
        let message = if after == PlanTier::Free {
            format!("Your {before} plan ended; you are on the free plan now. Your strategies, runs and results are kept.")
        } else {
            format!("Your plan is now {after} (was {before}).")
        };
        notifications::insert(&mut *db, user, NotificationType::System, &json!({"event": "plan_changed", "from": before, "to": after, "message": message})).await?;
    }
    if notice == Some("payment_failed") {
        let message = format!("A payment for your {plan} plan failed. Update your payment method in the billing portal to keep the plan.");
        notifications::insert(&mut *db, user, NotificationType::System, &json!({"event": "payment_failed", "plan": plan, "message": message})).await?;
    }
    Ok("applied")
}

/// Stores a verified event once and applies it, all in one transaction.
pub async fn receive(pool: &PgPool, stripe: &Stripe, event: &Value) -> Result<Received, ApiError> {
    let id = event["id"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| ApiError::BadRequest("the event has no id".into()))?;
    let kind = event["type"].as_str().ok_or_else(|| ApiError::BadRequest("the event has no type".into()))?;
    let created = time(&event["created"]).ok_or_else(|| ApiError::BadRequest("the event has no created time".into()))?;
    let object = &event["data"]["object"];
    if !object.is_object() {
        return Err(ApiError::BadRequest("the event has no data.object".into()));
    }
    let mut tx = pool.begin().await?;
    let fresh: Option<String> = sqlx::query_scalar(
        "INSERT INTO stripe_events (id, type, created, livemode, payload, outcome) VALUES ($1, $2, $3, $4, $5, 'ignored')
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(id)
    .bind(kind)
    .bind(created)
    .bind(event["livemode"].as_bool().unwrap_or(false))
    .bind(event)
    .fetch_optional(&mut *tx)
    .await?;
    if fresh.is_none() {
        let outcome: String = sqlx::query_scalar("SELECT outcome FROM stripe_events WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
        return Ok(Received { received: true, duplicate: true, outcome });
    }
    let (outcome, user) = match read(&mut tx, stripe, kind, object).await? {
        Ok((user, change, notice)) => (apply(&mut tx, user, created, change, notice).await?, Some(user)),
        Err(why) => (why, None),
    };
    sqlx::query("UPDATE stripe_events SET outcome = $2, user_id = $3 WHERE id = $1").bind(id).bind(outcome).bind(user).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(event = id, kind, outcome, user = ?user, "Stripe event");
    Ok(Received { received: true, duplicate: false, outcome: outcome.to_string() })
}
