//! Rate limits on the requests that change something (POST, PUT, PATCH, DELETE): a token bucket
//! per signed-in user (`BB_RATE_LIMIT_PER_MINUTE`, default 120) and one per client address
//! (`BB_RATE_LIMIT_IP_PER_MINUTE`, default 600). The address is the connection's peer, or, behind
//! a proxy, the first address in the one header named by `BB_TRUSTED_IP_HEADER` (never a header
//! the client could set otherwise). Over the limit: 429 `rate_limited` with `Retry-After`. Stripe's
//! webhook is exempt (Stripe paces its own retries).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::rate_limit::{Key, Limits};
use crate::state::AppState;

/// The client's address: the trusted header's last entry when one is configured (the address the
/// proxy in front of us saw and appended; entries before it are the client's own word), else the peer.
fn client_ip(req: &Request, limits: &Limits) -> Option<IpAddr> {
    if let Some(h) = &limits.trusted_ip_header {
        return req.headers().get(h.as_str()).and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next()).and_then(|v| v.trim().parse().ok());
    }
    req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

fn limited(what: &str, per_minute: u32, wait: Duration) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    ApiError::RateLimited { message: format!("too many changes {what}: at most {per_minute} a minute; try again in {secs} s"), retry_after_secs: secs }.into_response()
}

/// Middleware: checks the caller's buckets before a mutating request runs.
pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mutating = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    if !mutating || req.uri().path().ends_with("/billing/webhooks/stripe") {
        return next.run(req).await;
    }
    let limits = &state.rate_limits;
    if let Some(ip) = client_ip(&req, limits) {
        if let Err(wait) = state.buckets.take(Key::Ip(ip), limits.per_ip_per_minute) {
            return limited("from your address", limits.per_ip_per_minute, wait);
        }
    }
    let token = req.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    if let Some(token) = token {
        // only a verified token names a user (a forged one cannot drain someone else's bucket)
        if let Ok(claims) = state.verifier.verify(token.trim()).await {
            if let Ok(user) = uuid::Uuid::parse_str(&claims.sub) {
                if let Err(wait) = state.buckets.take(Key::User(user), limits.per_user_per_minute) {
                    return limited("by you", limits.per_user_per_minute, wait);
                }
            }
        }
    }
    next.run(req).await
}

