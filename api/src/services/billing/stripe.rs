//! Stripe's wire format: the client of the two calls the product makes (`POST /v1/checkout/sessions`,
//! `POST /v1/billing_portal/sessions`: form-encoded, `Authorization: Bearer sk_…`, one
//! `Idempotency-Key` per user action kept across retries of 429/5xx/network errors, Stripe's
//! `{"error": {…}}` bodies read back), and the check of a webhook's `Stripe-Signature`
//! (`t=…,v1=…`: HMAC-SHA256 of `t.payload` under the endpoint's secret, in constant time, within
//! a tolerance, any of several `v1` values).

use std::time::Duration;

use aws_lc_rs::hmac;
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

use crate::config::BillingConfig;
use crate::error::ApiError;
use crate::model::PlanTier;

/// How far a webhook's timestamp may be from now (Stripe's libraries' default).
pub const TOLERANCE_SECS: i64 = 300;

/// A Stripe client.
#[derive(Debug, Clone)]
pub struct Stripe {
    config: BillingConfig,
    http: reqwest::Client,
}

impl Default for Stripe {
    /// Billing off.
    fn default() -> Self {
        Stripe::new(BillingConfig::default())
    }
}

impl Stripe {
    pub fn new(config: BillingConfig) -> Stripe {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("Blockbuilders/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Stripe { config, http }
    }

    pub fn config(&self) -> &BillingConfig {
        &self.config
    }

    /// Whether checkout and the portal can be used (a secret key is set).
    pub fn configured(&self) -> bool {
        self.config.stripe_secret_key.is_some()
    }

    /// The Stripe price of a paid plan.
    pub fn price_for(&self, plan: PlanTier) -> Option<&str> {
        match plan {
            PlanTier::Premium => self.config.price_premium.as_deref(),
            PlanTier::Educator => self.config.price_educator.as_deref(),
            PlanTier::Free => None,
        }
    }

    /// The plan a Stripe price stands for.
    pub fn plan_for_price(&self, price: &str) -> Option<PlanTier> {
        [PlanTier::Premium, PlanTier::Educator].into_iter().find(|p| self.price_for(*p) == Some(price))
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.config.stripe_api_base.as_str().trim_end_matches('/'), path.trim_start_matches('/'))
    }

    /// `POST path` with a form body, retried on 429, 5xx and network errors (at most three
    /// attempts, the same `Idempotency-Key` on each). Stripe's error answers become `Upstream`.
    async fn post_form(&self, path: &str, form: &[(String, String)]) -> Result<Value, ApiError> {
        let key = self.config.stripe_secret_key.as_ref().ok_or_else(|| ApiError::NotConfigured("billing is not configured on this server (BB_STRIPE_SECRET_KEY)".into()))?;
        let body = {
            let mut body = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                body.append_pair(k, v);
            }
            body.finish()
        };
        let idempotency = Uuid::new_v4().to_string();
        let sent = crate::services::vendor::send(3, Duration::from_millis(250), |s| s.is_server_error() || s.as_u16() == 429, || {
            self.http
                .post(self.url(path))
                .bearer_auth(key.expose_secret())
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header("Idempotency-Key", &idempotency)
                .body(body.clone())
        })
        .await;
        let last = match sent {
            Ok(r) if r.status.is_success() => return Ok(r.json),
            Ok(r) => {
                let message = r.json["error"]["message"].as_str().map(str::to_string).unwrap_or_else(|| r.text.chars().take(200).collect());
                format!("Stripe answered {}: {message}", r.status)
            }
            Err(e) => format!("Stripe could not be reached: {e}"),
        };
        tracing::warn!(path, error = %last, "Stripe call failed");
        Err(ApiError::Upstream(last))
    }

    /// A Checkout session for `plan`: its URL. The user is `client_reference_id` (and in the
    /// metadata of the session and the subscription it makes); a known customer is reused, else
    /// Stripe makes one from the e-mail.
    pub async fn checkout_session(&self, plan: PlanTier, user: Uuid, email: Option<&str>, customer: Option<&str>) -> Result<(String, String), ApiError> {
        let price = self.price_for(plan).ok_or_else(|| ApiError::NotConfigured(format!("no Stripe price is configured for the {plan} plan (BB_STRIPE_PRICE_{})", plan.as_str().to_uppercase())))?;
        let base = self.config.public_url.as_str().trim_end_matches('/');
        let mut form: Vec<(String, String)> = vec![
            ("mode".into(), "subscription".into()),
            ("line_items[0][price]".into(), price.into()),
            ("line_items[0][quantity]".into(), "1".into()),
            ("client_reference_id".into(), user.to_string()),
            ("success_url".into(), format!("{base}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}")),
            ("cancel_url".into(), format!("{base}/billing?checkout=canceled")),
            ("metadata[user_id]".into(), user.to_string()),
            ("metadata[plan]".into(), plan.as_str().into()),
            ("subscription_data[metadata][user_id]".into(), user.to_string()),
            ("subscription_data[metadata][plan]".into(), plan.as_str().into()),
        ];
        match (customer, email) {
            (Some(c), _) => form.push(("customer".into(), c.into())),
            (None, Some(e)) => form.push(("customer_email".into(), e.into())),
            (None, None) => {}
        }
        let s = self.post_form("/v1/checkout/sessions", &form).await?;
        let url = s["url"].as_str().ok_or_else(|| ApiError::Upstream("Stripe's checkout session has no url".into()))?;
        Ok((s["id"].as_str().unwrap_or_default().to_string(), url.to_string()))
    }

    /// A customer-portal session's URL, returning to the app's billing page.
    pub async fn portal_session(&self, customer: &str) -> Result<String, ApiError> {
        let base = self.config.public_url.as_str().trim_end_matches('/');
        let form = vec![("customer".to_string(), customer.to_string()), ("return_url".to_string(), format!("{base}/billing"))];
        let s = self.post_form("/v1/billing_portal/sessions", &form).await?;
        s["url"].as_str().map(str::to_string).ok_or_else(|| ApiError::Upstream("Stripe's portal session has no url".into()))
    }

    /// Checks a webhook's `Stripe-Signature` against the configured secret at time `now`.
    pub fn verify(&self, header: Option<&str>, payload: &[u8], now: i64) -> Result<i64, ApiError> {
        let secret = self.config.stripe_webhook_secret.as_ref().ok_or_else(|| ApiError::NotConfigured("Stripe webhooks are not configured on this server (BB_STRIPE_WEBHOOK_SECRET)".into()))?;
        let header = header.ok_or_else(|| ApiError::BadRequest("the Stripe-Signature header is missing".into()))?;
        verify_signature(secret.expose_secret(), header, payload, now, TOLERANCE_SECS).map_err(ApiError::BadRequest)
    }
}

/// Checks `Stripe-Signature: t=…,v1=…[,v1=…]`: some `v1` is the hex HMAC-SHA256 of `t.payload`
/// under `secret` (its bytes as given), and `t` is within `tolerance` seconds of `now`. Returns `t`.
pub fn verify_signature(secret: &str, header: &str, payload: &[u8], now: i64, tolerance: i64) -> Result<i64, String> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or("the Stripe-Signature header has no timestamp (t=…)")?;
    if sigs.is_empty() {
        return Err("the Stripe-Signature header has no v1 signature".into());
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(payload);
    let ok = sigs.iter().filter_map(|s| hex(s)).any(|sig| hmac::verify(&key, &signed, &sig).is_ok());
    if !ok {
        return Err("no signature in Stripe-Signature matches this payload and the endpoint's secret".into());
    }
    if (now - t).abs() > tolerance {
        return Err(format!("the Stripe-Signature timestamp is {} s from now, more than the {tolerance} s tolerated", (now - t).abs()));
    }
    Ok(t)
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, payload: &str) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), format!("{t}.{payload}").as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn signatures_are_checked_with_a_tolerance_and_several_v1_values() {
        let (secret, body, t) = ("whsec_test_secret", r#"{"id":"evt_1"}"#, 1_700_000_000);
        let good = sign(secret, t, body);
        assert_eq!(verify_signature(secret, &format!("t={t},v1={good}"), body.as_bytes(), t + 10, 300), Ok(t));
        assert_eq!(verify_signature(secret, &format!("t={t},v1={},v1={good},v0=abc", "00".repeat(32)), body.as_bytes(), t, 300), Ok(t), "a rolled secret's second v1");
        assert!(verify_signature(secret, &format!("t={t},v1={good}"), b"{\"id\":\"evt_2\"}", t, 300).unwrap_err().contains("no signature"));
        assert!(verify_signature("whsec_other", &format!("t={t},v1={good}"), body.as_bytes(), t, 300).is_err());
        assert!(verify_signature(secret, &format!("t={t},v1={good}"), body.as_bytes(), t + 301, 300).unwrap_err().contains("tolerated"));
        assert!(verify_signature(secret, &format!("v1={good}"), body.as_bytes(), t, 300).unwrap_err().contains("timestamp"));
        assert!(verify_signature(secret, &format!("t={t}"), body.as_bytes(), t, 300).unwrap_err().contains("no v1"));
    }
}
