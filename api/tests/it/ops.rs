//! Operations: `/metrics`, request limits (body, JSON depth, graph and sweep size), the cost of an
//! authenticated request, and traces over OTLP that continue from a request into its job, with
//! JSON logs — against a `bb serve` process and an OTLP receiver on loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::auth::jwt::Verifier;
use api::config::ApiConfig;
use api::http::router;
use axum::http::{Method, StatusCode};
use axum::Router;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::http::{app, call, error_code, graph, scratch_lake, state, token, SECRET};

/// The value of the sample `name{labels}` in a scrape (labels as written, e.g. `kind="notify",state="queued"`).
pub fn sample(scrape: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() { name.to_string() } else { format!("{name}{{{labels}}}") };
    scrape.lines().find_map(|l| l.strip_prefix(&key).and_then(|rest| rest.strip_prefix(' ')).map(|v| v.trim().parse().unwrap()))
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn metrics_count_requests_by_route_and_read_the_queue_and_pool(pool: PgPool) {
    let app = app(pool.clone()).await;
    let tok = token("metrics@example.com", "builder", None);
    for _ in 0..3 {
        let r = call(&app, Method::GET, &format!("/api/v1/strategies/{}", uuid::Uuid::new_v4()), Some(&tok), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    assert_eq!(call(&app, Method::GET, "/api/v1/health", None, None).await.status, StatusCode::OK);
    assert_eq!(call(&app, Method::GET, "/nowhere", None, None).await.status, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        sqlx::query("INSERT INTO jobs (kind, payload, run_after) VALUES ('notify', '{\"digest\": true}', now() - interval '90 seconds')").execute(&pool).await.unwrap();
    }

    let r = call(&app, Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().expect("the scrape is text").to_string();
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
    // each route once, under its template, not the id
    assert_eq!(sample(&text, "bb_http_requests_total", r#"method="GET",route="/api/v1/strategies/{id}",status="404""#), Some(3.0), "{text}");
    assert_eq!(sample(&text, "bb_http_requests_total", r#"method="GET",route="/api/v1/health",status="200""#), Some(1.0));
    assert_eq!(sample(&text, "bb_http_requests_total", r#"method="GET",route="unmatched",status="404""#), Some(1.0));
    assert_eq!(sample(&text, "bb_http_request_duration_seconds_count", r#"method="GET",route="/api/v1/strategies/{id}",status="404""#), Some(3.0));
    assert!(text.contains(r#"bb_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/v1/health",status="200"} 1"#) || text.contains(r#"bb_http_request_duration_seconds_bucket{method="GET",route="/api/v1/health",status="200",le="+Inf"} 1"#), "{text}");
    // the queue, read from Postgres at scrape time
    assert_eq!(sample(&text, "bb_jobs", r#"kind="notify",state="queued""#), Some(2.0));
    assert_eq!(sample(&text, "bb_jobs", r#"kind="backtest",state="queued""#), Some(0.0));
    let age = sample(&text, "bb_jobs_oldest_queued_age_seconds", r#"kind="notify""#).unwrap();
    assert!((89.0..200.0).contains(&age), "the oldest due notify job waited about 90 s: {age}");
    assert_eq!(sample(&text, "bb_db_pool_max_connections", ""), Some(pool.options().get_max_connections() as f64));
    assert!(sample(&text, "bb_db_pool_connections", r#"state="idle""#).is_some());

    // a token guards it when configured; --no-metrics removes it
    let guarded = ApiConfig { metrics_token: Some(SecretString::from("scrape-me")), ..ApiConfig::default() };
    let app = router(state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), scratch_lake()).await, &guarded);
    assert_eq!(call(&app, Method::GET, "/metrics", None, None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, Method::GET, "/metrics", Some("wrong"), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&app, Method::GET, "/metrics", Some("scrape-me"), None).await.status, StatusCode::OK);
    let off = ApiConfig { metrics: false, ..ApiConfig::default() };
    let app = router(state(pool, Verifier::new(Some(SecretString::from(SECRET)), None), scratch_lake()).await, &off);
    assert_eq!(call(&app, Method::GET, "/metrics", None, None).await.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn oversized_bodies_deep_json_large_graphs_and_sweeps_are_refused_and_change_nothing(pool: PgPool) {
    let config = ApiConfig { body_limit: 64 * 1024, ..ApiConfig::default() };
    let app = router(state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), scratch_lake()).await, &config);
    let tok = token("limits@example.com", "builder", Some("premium"));
    let strategies = || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM strategies").fetch_one(&pool).await.unwrap() };

    // JSON nested deeper than the limit: 422 naming the body and both depths
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    let r = call(&app, Method::POST, "/api/v1/strategies", Some(&tok), Some(json!({"title": "deep", "graphJson": deep}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["details"], json!({"field": "body", "depth": 41, "maxDepth": 32}), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("41 levels deep; at most 32"));

    // a body over --body-limit: 413
    let big = "x".repeat(70 * 1024);
    let r = call(&app, Method::POST, "/api/v1/strategies", Some(&tok), Some(json!({"title": big, "graphJson": graph()}))).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);

    // a graph over the block limit: 422 with one issue that names the limit
    let nodes: Vec<Value> = (0..=pipelines::graph::MAX_NODES).map(|i| json!({"id": format!("p{i}"), "type": "price", "params": {"field": "close"}})).collect();
    let r = call(&app, Method::POST, "/api/v1/strategies", Some(&tok), Some(json!({"title": "huge", "graphJson": {"version": 1, "nodes": nodes, "edges": []}}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let issues = r.body["error"]["details"]["issues"].as_array().unwrap();
    assert_eq!((issues.len(), issues[0]["code"].as_str()), (1, Some("graph_too_large")), "{}", r.body);
    assert_eq!(strategies().await, 0, "nothing was stored");

    // a sweep over the combination limit: 422 naming params
    let s = call(&app, Method::POST, "/api/v1/strategies", Some(&tok), Some(json!({"title": "sweepy", "graphJson": graph()}))).await;
    assert_eq!(s.status, StatusCode::CREATED, "{}", s.body);
    let versions = call(&app, Method::GET, &format!("/api/v1/strategies/{}/versions", s.body["id"].as_str().unwrap()), Some(&tok), None).await;
    let many: Vec<i64> = (2..60).collect();
    let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(json!({"strategyVersionId": versions.body["items"][0]["id"],
        "exchange": "binance", "symbol": "ETHUSDT", "timeframe": "1h", "from": "2022-03-17T03:00:00Z", "to": "2022-07-20T03:00:00Z",
        "params": {"fast": many, "slow": many}}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("3364 combinations; at most 1000"), "{}", r.body);
    assert_eq!(error_code(&r), "validation_failed");
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(runs, 0);

    // axum's own refusals come in the error format too: a path id that does not parse, a wrong method
    let r = call(&app, Method::GET, "/api/v1/strategies/not-a-uuid", Some(&tok), None).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::BAD_REQUEST, "bad_request"), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("not-a-uuid"), "{}", r.body);
    let r = call(&app, Method::PUT, "/api/v1/strategies", Some(&tok), None).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"), "{}", r.body);
    assert!(r.headers.contains_key("allow"));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn an_authenticated_request_that_changes_nothing_writes_nothing(pool: PgPool) {
    let app = app(pool.clone()).await;
    let tok = token("quiet@example.com", "builder", Some("educator"));
    assert_eq!(call(&app, Method::GET, "/api/v1/me", Some(&tok), None).await.status, StatusCode::OK);
    let row_version = || async { sqlx::query_scalar::<_, String>("SELECT xmin::text FROM users WHERE email = 'quiet@example.com'").fetch_one(&pool).await.unwrap() };
    let before = row_version().await;
    let calls = (0..40).map(|_| call(&app, Method::GET, "/api/v1/me", Some(&tok), None));
    for r in futures::future::join_all(calls).await {
        assert_eq!((r.status, r.body["planTier"].as_str()), (StatusCode::OK, Some("educator")));
    }
    assert_eq!(row_version().await, before, "forty reads of an unchanged user rewrote its row");
    // a token that claims something new is still recorded at once
    let upgraded = token("quiet@example.com", "builder", Some("premium"));
    let r = call(&app, Method::GET, "/api/v1/me", Some(&upgraded), None).await;
    assert_eq!(r.body["planTier"], "premium");
    assert_ne!(row_version().await, before);
    // and an activity older than a minute is refreshed
    sqlx::query("UPDATE users SET last_active_at = now() - interval '2 minutes' WHERE email = 'quiet@example.com'").execute(&pool).await.unwrap();
    let r = call(&app, Method::GET, "/api/v1/me", Some(&upgraded), None).await;
    let seen = chrono::DateTime::parse_from_rfc3339(r.body["lastActiveAt"].as_str().unwrap()).unwrap();
    assert!((chrono::Utc::now() - seen.to_utc()).num_seconds() < 30, "{}", r.body);
}

/// An OTLP/HTTP receiver on loopback: decodes each `POST /v1/traces` (protobuf) and keeps its spans.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[derive(Debug, Clone)]
struct Span {
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    attributes: Vec<(String, String)>,
}

impl Span {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl Collector {
    async fn start() -> (Collector, String) {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
        use prost::Message;
        let c = Collector::default();
        let spans = c.spans.clone();
        let app = Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let spans = spans.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let req = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
                    let mut kept = spans.lock().unwrap();
                    for span in req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                        let attributes = span
                            .attributes
                            .iter()
                            .map(|kv| {
                                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                    Some(Any::StringValue(s)) => s.clone(),
                                    Some(Any::IntValue(i)) => i.to_string(),
                                    Some(other) => format!("{other:?}"),
                                    None => String::new(),
                                };
                                (kv.key.clone(), v)
                            })
                            .collect();
                        kept.push(Span { name: span.name.clone(), trace: span.trace_id.clone(), id: span.span_id.clone(), parent: span.parent_span_id.clone(), attributes });
                    }
                    StatusCode::OK
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (c, url)
    }

    fn spans(&self) -> Vec<Span> {
        self.spans.lock().unwrap().clone()
    }
}

#[test]
fn bb_serve_exports_traces_from_a_request_into_its_job_logs_json_and_counts_the_job() {
    let db = crate::FreshDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let sample_file = crate::crate_dir().join("../sample/ETH_USDT-1h.json.gz");
    assert!(crate::bb(dir.path(), &["ingest", sample_file.to_str().unwrap()]).status.success());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (collector, otlp) = rt.block_on(Collector::start());
    let mut served = crate::Served::start(
        dir.path(),
        &["--metrics-token", "scrape-token"],
        &[
            ("DATABASE_URL", &db.url),
            ("BB_JWT_SECRET", SECRET),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "bb-under-test"),
            ("BB_LOG_FORMAT", "json"),
        ],
        &["BB_LOG"],
    );
    assert!(served.announced.iter().any(|l| l.contains("metrics at /metrics (bearer token)")) || served.base.contains("127.0.0.1"));
    let base = format!("http://{}", served.host());
    let tok = token("traced@example.com", "builder", Some("premium"));
    let client = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder, body: Option<Value>| crate::send(&rt, &tok, req, body);
    let graph: Value = serde_json::from_str(include_str!("../../../sample/sma_cross.json")).unwrap();
    let (status, s) = send(client.post(format!("{base}/api/v1/strategies")), Some(json!({"title": "traced", "graphJson": graph})));
    assert_eq!(status, 201, "{s}");
    let (_, versions) = send(client.get(format!("{base}/api/v1/strategies/{}/versions", s["id"].as_str().unwrap())), None);
    let body = json!({"strategyVersionId": versions["items"][0]["id"], "exchange": "binance", "symbol": "ETHUSDT",
        "timeframe": "1h", "from": "2022-03-17T03:00:00Z", "to": "2022-07-20T03:00:00Z"});
    let request_id = "trace-me-0001";
    let (status, run) = send(client.post(format!("{base}/api/v1/backtests")).header("x-request-id", request_id), Some(body));
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, r) = send(client.get(format!("{base}/api/v1/backtests/{run_id}")), None);
        if r["status"] == "succeeded" {
            break;
        }
        assert!(r["status"] != "failed" && Instant::now() < deadline, "{r}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // the spans: the POST's request span, and the job's span in the same trace under it
    let deadline = Instant::now() + Duration::from_secs(30);
    let (request, job, spans) = loop {
        let spans = collector.spans();
        let request = spans.iter().find(|s| s.name == "request" && s.attr("request_id") == Some(request_id) && s.attr("method") == Some("POST")).cloned();
        let job = spans.iter().find(|s| s.name == "job" && s.attr("request_id") == Some(request_id)).cloned();
        if let (Some(r), Some(j)) = (&request, &job) {
            if spans.iter().any(|s| s.name == "backtest.plan" && s.trace == j.trace) {
                break (r.clone(), j.clone(), spans);
            }
        }
        assert!(Instant::now() < deadline, "no request and job spans of {request_id}: {:?}", spans.iter().map(|s| (&s.name, &s.attributes)).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(request.attr("path"), Some("/api/v1/backtests"));
    assert_eq!(job.trace, request.trace, "the job continues the request's trace");
    assert!(!job.parent.is_empty(), "the job span has a parent");
    assert!(spans.iter().any(|s| s.trace == request.trace && s.id == job.parent), "the job's parent is a span of the request's trace");
    let plan = spans.iter().find(|s| s.name == "backtest.plan" && s.trace == job.trace).unwrap();
    assert_eq!(plan.parent, job.id, "the plan runs inside the job");
    assert_eq!(plan.attr("run"), Some(run_id.as_str()));
    assert_eq!(job.attr("kind"), Some("backtest"));
    let in_postgres: Option<String> = rt.block_on(async {
        let pool = PgPool::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT request_id FROM jobs WHERE run_id = $1::uuid").bind(&run_id).fetch_one(&pool).await.unwrap()
    });
    assert_eq!(in_postgres.as_deref(), Some(request_id));

    // metrics: the job, its bars, the lake
    let scrape = rt.block_on(async { client.get(format!("{base}/metrics")).bearer_auth("scrape-token").send().await.unwrap().text().await.unwrap() });
    assert_eq!(sample(&scrape, "bb_job_duration_seconds_count", r#"kind="backtest",outcome="succeeded""#), Some(1.0), "{scrape}");
    let bars = sample(&scrape, "bb_backtest_bars_total", "").unwrap();
    assert!(bars > 2_000.0, "the run's bars were counted: {bars}");
    assert_eq!(sample(&scrape, "bb_lake_rows", r#"table="candles""#), Some(3000.0), "the sample's 3,000 candles: {scrape}");
    assert_eq!(sample(&scrape, "bb_lake_version", r#"table="backtest_metrics""#), Some(1.0));
    assert_eq!(sample(&scrape, "bb_http_requests_total", r#"method="POST",route="/api/v1/backtests",status="202""#), Some(1.0));
    let unauthorized = rt.block_on(async { client.get(format!("{base}/metrics")).send().await.unwrap().status().as_u16() });
    assert_eq!(unauthorized, 401);

    // logs: JSON lines, the job's carrying the request id
    let _ = served.child.kill();
    let rest: Vec<String> = served.stderr.take().unwrap().map_while(Result::ok).collect();
    let logs: Vec<Value> = rest.iter().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(logs.len() >= 3, "{rest:?}");
    assert!(logs.iter().all(|l| l["timestamp"].is_string() && l["level"].is_string() && l["fields"].is_object()), "{logs:?}");
    assert!(
        logs.iter().any(|l| l["fields"]["message"] == "job succeeded" && l["span"]["request_id"] == request_id),
        "the job's log line names the request: {logs:?}"
    );
}

#[test]
fn postgres_connections_can_require_tls() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("pg");
    let mut cluster = api::pg::PrivateCluster::start(&data).unwrap();
    cluster.stop();
    // a server that has a certificate and refuses every connection without TLS
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(data.join("server.key"))
        .arg("-out")
        .arg(data.join("server.crt"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let conf = data.join("postgresql.conf");
    std::fs::write(&conf, format!("{}\nssl = on\n", std::fs::read_to_string(&conf).unwrap())).unwrap();
    let hba = data.join("pg_hba.conf");
    std::fs::write(&hba, format!("hostnossl all all 0.0.0.0/0 reject\n{}", std::fs::read_to_string(&hba).unwrap())).unwrap();
    let cluster = api::pg::PrivateCluster::start(&data).unwrap();
    let url = cluster.url("postgres");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let pool = api::db::connect(&format!("{url}?sslmode=require")).await.unwrap();
        let tls: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetch_one(&pool).await.unwrap();
        assert!(tls, "the connection is encrypted");
        let refused = api::db::connect(&format!("{url}?sslmode=disable")).await.unwrap_err().to_string();
        assert!(refused.contains("pg_hba.conf") || refused.contains("reject"), "{refused}");
    });
    // and the binary: migrations over TLS
    let work = tempfile::tempdir().unwrap();
    let o = crate::bb_with(work.path(), &["migrate"], &[("DATABASE_URL", &format!("{url}?sslmode=require"))]);
    assert!(o.status.success(), "{}", crate::text(&o));
}
