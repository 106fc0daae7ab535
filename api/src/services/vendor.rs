//! One request to an outside service (Stripe, Supabase), retried on network errors and on the
//! statuses the caller says may pass later, with doubling waits; the request is rebuilt for each
//! attempt (so the same idempotency key or body goes out every time). What the answer means is
//! the caller's to read.

use std::time::Duration;

use serde_json::Value;

/// The last answer: its status, its body as text, and as JSON (`Null` when it is not).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: reqwest::StatusCode,
    pub text: String,
    pub json: Value,
}

/// Sends `request()` up to `attempts` times, `first_wait` before the second (doubling after),
/// while the service cannot be reached or answers a status `retry` accepts. `Err` is the last
/// network error when the final attempt got no answer.
pub async fn send(attempts: u32, first_wait: Duration, retry: impl Fn(reqwest::StatusCode) -> bool, request: impl Fn() -> reqwest::RequestBuilder) -> Result<Reply, String> {
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        if attempt > 1 {
            tokio::time::sleep(first_wait.saturating_mul(2u32.pow(attempt - 2))).await;
        }
        match request().send().await {
            Err(e) => last = e.to_string(),
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                let json = serde_json::from_str(&text).unwrap_or(Value::Null);
                if status.is_success() || !retry(status) || attempt == attempts.max(1) {
                    return Ok(Reply { status, text, json });
                }
            }
        }
    }
    Err(last)
}
