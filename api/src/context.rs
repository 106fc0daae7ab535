//! What the code serving a request may know about it without taking it as an argument: its id
//! (set by the HTTP layer's request-id middleware, read by error bodies and the audit trail).

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served ("" outside a request).
pub fn request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

/// Runs `fut` as the request with id `id`.
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}
