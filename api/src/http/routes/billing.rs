//! Billing: start a Stripe Checkout for a paid plan, open the customer portal, see your plan and
//! usage, and the endpoint Stripe posts its webhook events to (no sign-in: the `Stripe-Signature`
//! authenticates it).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::model::{PlanTier, SubscriptionStatus};
use crate::services::billing::events::{self, Received};
use crate::services::billing::summary::{self, Billing};
use crate::services::subscriptions;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/billing", get(fetch))
        .route("/billing/checkout-session", post(checkout))
        .route("/billing/portal-session", post(portal))
        .route("/billing/webhooks/stripe", post(stripe_webhook))
}

/// Your plan tier, subscription, renewal date and usage per metric.
#[utoipa::path(get, path = "/api/v1/billing", tag = "billing", security(("bearer" = [])), responses((status = 200, body = Billing)))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Billing>> {
    Ok(Json(summary::get(&state.pool, user.id, state.stripe.configured()).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// `premium` or `educator`.
    pub plan: String,
}

/// Where to send the browser.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionUrl {
    pub url: String,
    /// The Stripe session's id (checkout only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// Starts a Stripe Checkout for a paid plan; the answer's `url` is Stripe's payment page. Your plan
/// changes when Stripe confirms the payment (its webhook), not here.
#[utoipa::path(post, path = "/api/v1/billing/checkout-session", tag = "billing", security(("bearer" = [])), request_body = CheckoutRequest,
    responses((status = 200, body = SessionUrl), (status = 422, description = "not a paid plan (`details.field` = plan)"),
        (status = 409, description = "you have a subscription: change it in the portal"), (status = 502, description = "Stripe refused or failed"),
        (status = 503, description = "billing is not configured")))]
pub async fn checkout(State(state): State<AppState>, user: AuthUser, ApiJson(req): ApiJson<CheckoutRequest>) -> ApiResult<Json<SessionUrl>> {
    let plan: PlanTier = req.plan.parse().map_err(|e| ApiError::invalid("plan", format!("plan: {e}")))?;
    if plan == PlanTier::Free {
        return Err(ApiError::invalid("plan", "the free plan needs no checkout; cancel your subscription in the billing portal"));
    }
    let current = subscriptions::get(&state.pool, user.id).await?;
    if let Some(s) = current.as_ref().filter(|s| s.status != SubscriptionStatus::Canceled && s.stripe_subscription_id.is_some()) {
        return Err(ApiError::Conflict(format!("you have a {} subscription ({}); change or cancel it in the billing portal (POST /api/v1/billing/portal-session)", s.plan_code, s.status)));
    }
    let customer = current.as_ref().and_then(|s| s.stripe_customer_id.as_deref());
    let (id, url) = state.stripe.checkout_session(plan, user.id, user.email.as_deref(), customer).await?;
    Ok(Json(SessionUrl { url, id: Some(id) }))
}

/// Opens Stripe's customer portal (change plan, payment method, cancel) for your customer.
#[utoipa::path(post, path = "/api/v1/billing/portal-session", tag = "billing", security(("bearer" = [])),
    responses((status = 200, body = SessionUrl), (status = 409, description = "you have no Stripe customer yet: check out first"),
        (status = 502, description = "Stripe refused or failed"), (status = 503, description = "billing is not configured")))]
pub async fn portal(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<SessionUrl>> {
    let customer = subscriptions::get(&state.pool, user.id)
        .await?
        .and_then(|s| s.stripe_customer_id)
        .ok_or_else(|| ApiError::Conflict("you have no billing account yet: start with POST /api/v1/billing/checkout-session".into()))?;
    Ok(Json(SessionUrl { url: state.stripe.portal_session(&customer).await?, id: None }))
}

/// Stripe's webhook events (configure this URL in Stripe with the events
/// `checkout.session.completed`, `customer.subscription.*`, `invoice.paid`, `invoice.payment_failed`).
/// Verified by `Stripe-Signature`; each event is stored once, a replay answers 200 and changes nothing.
#[utoipa::path(post, path = "/api/v1/billing/webhooks/stripe", tag = "billing", request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Received), (status = 400, description = "a bad or missing signature, an expired timestamp, or not an event"),
        (status = 503, description = "Stripe webhooks are not configured")))]
pub async fn stripe_webhook(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Json<Received>> {
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    state.stripe.verify(header, &body, chrono::Utc::now().timestamp())?;
    let event: Value = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the body is not a JSON event: {e}")))?;
    Ok(Json(events::receive(&state.pool, &state.stripe, &event).await?))
}
