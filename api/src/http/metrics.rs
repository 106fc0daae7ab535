//! `GET /metrics` (Prometheus, at the root path of the API's port; optional bearer token) and the
//! middleware that counts every request by method, matched route and status.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use secrecy::{ExposeSecret, SecretString};

use crate::metrics::{global, KindLabels, PoolLabels, QueueLabels, TableLabels};
use crate::model::{JobKind, JobStatus};

/// Outermost middleware: times the request and counts it under the route the router matched
/// (which [`keep_route`] hands back on the response).
pub async fn track(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    let route = response.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
    global().request(method.as_str(), route, response.status().as_u16(), started.elapsed());
    response
}

/// Route layer: copies the matched route onto the response for [`track`].
pub async fn keep_route(req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(m) = matched {
        response.extensions_mut().insert(m);
    }
    response
}

/// What a scrape reads besides the registry, and who may scrape.
#[derive(Clone)]
pub struct Source {
    pub pool: sqlx::PgPool,
    pub lake: Arc<lake::Lake>,
    /// The bearer token a scrape must carry, if any.
    pub token: Option<SecretString>,
}

/// The `/metrics` route (on `bb serve`'s port, or alone on `bb worker --metrics-addr`).
pub fn routes<S: Clone + Send + Sync + 'static>(source: Source) -> Router<S> {
    Router::new().route("/metrics", get(scrape)).with_state(source)
}

/// `GET /metrics`: the scrape. With a token configured, only `Authorization: Bearer <token>` may read.
async fn scrape(State(source): State<Source>, headers: HeaderMap) -> Response {
    if let Some(token) = &source.token {
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        if aws_lc_rs::constant_time::verify_slices_are_equal(given.as_bytes(), token.expose_secret().as_bytes()).is_err() {
            return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "the metrics need the bearer token given by --metrics-token\n").into_response();
        }
    }
    refresh(&source).await;
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], global().encode()).into_response()
}

/// Sets what is read at scrape time: the queue (shared by all workers), the pool, and the lake's
/// tables (at most every 30 s: each look reads the tables' logs).
async fn refresh(state: &Source) {
    let m = global();
    match crate::services::jobs::stats(&state.pool).await {
        Ok(stats) => {
            for kind in JobKind::ALL {
                for status in [JobStatus::Queued, JobStatus::Running] {
                    let n = stats.iter().find(|s| s.kind == *kind && s.status == status).map_or(0, |s| s.jobs);
                    m.jobs.get_or_create(&QueueLabels { kind: kind.to_string(), state: status.to_string() }).set(n);
                }
                let age = stats.iter().find(|s| s.kind == *kind && s.status == JobStatus::Queued).and_then(|s| s.oldest_due_secs).unwrap_or(0.0);
                m.oldest_queued_seconds.get_or_create(&KindLabels { kind: kind.to_string() }).set(age.max(0.0));
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: reading the job queue failed"),
    }
    let idle = state.pool.num_idle() as i64;
    m.pool_connections.get_or_create(&PoolLabels { state: "idle".into() }).set(idle);
    m.pool_connections.get_or_create(&PoolLabels { state: "in_use".into() }).set(state.pool.size() as i64 - idle);
    m.pool_max.set(state.pool.options().get_max_connections() as i64);

    static LAKE_READ: Mutex<Option<Instant>> = Mutex::new(None);
    let due = {
        let mut last = LAKE_READ.lock().expect("metrics lock");
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(30));
        if due {
            *last = Some(Instant::now());
        }
        due
    };
    if due {
        for table in lake::LakeTable::ALL {
            match tokio::time::timeout(Duration::from_secs(5), state.lake.info(table)).await {
                Ok(Ok(Some(info))) => {
                    let labels = TableLabels { table: table.name().to_string() };
                    m.lake_rows.get_or_create(&labels).set(info.rows as i64);
                    m.lake_version.get_or_create(&labels).set(info.version as i64);
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::warn!(table = table.name(), error = %e, "metrics: reading the lake table failed"),
                Err(_) => tracing::warn!(table = table.name(), "metrics: reading the lake table took over 5 s"),
            }
        }
    }
}
