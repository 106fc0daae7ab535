//! Security headers on every answer: `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! no-referrer`, `X-Frame-Options: DENY`, a Content-Security-Policy (for JSON nothing may load; for
//! the few HTML pages the API serves, their own inline styles only), and `Strict-Transport-Security`
//! when the app is reached over TLS (its public URL is https).

use axum::extract::Request;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The policy of answers that are data: nothing they contain may load or run anything.
pub const CSP_DATA: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";
/// The policy of HTML pages (the unsubscribe page): their inline styles, nothing else.
pub const CSP_HTML: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// One year, subdomains included.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Middleware: sets the headers on the way out (`hsts`: the app is served over TLS).
pub async fn headers(hsts: bool, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let html = res.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    let h = res.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(if html { CSP_HTML } else { CSP_DATA }));
    }
    if hsts {
        h.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    res
}
