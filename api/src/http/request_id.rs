//! Request ids: taken from `X-Request-Id` or generated, echoed on every response, on every log line
//! of the request (its tracing span) and in every error body.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The id of the request being served ("" outside a request).
pub fn current() -> String {
    crate::context::request_id()
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

/// Middleware: assigns the id, runs the request in a span carrying it, sets the response header.
pub async fn middleware(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = crate::context::with_request_id(id.clone(), async move {
            let started = std::time::Instant::now();
            let response = next.run(req).await;
            tracing::info!(status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "served");
            response
        }.instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, v);
    }
    response
}
