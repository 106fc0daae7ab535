//! The REST API against a real Postgres (a fresh database per test, migrated): every endpoint's
//! success and failure paths, JWT attacks, isolation between users, concurrency, error format.

use std::sync::Arc;
use std::time::Duration;

use api::auth::jwt::{claims_for, sign_hs256, user_id_for_email, Verifier};
use api::config::ApiConfig;
use api::http::{router, AppState};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// A lake folder for tests that do not read it (left in the system's temp folder, empty).
pub fn scratch_lake() -> lake::Lake {
    lake::Lake::new(lake::LakeConfig::new(std::env::temp_dir().join("bb-api-tests-lake").display().to_string())).unwrap()
}

pub async fn state(pool: PgPool, verifier: Verifier, lake: lake::Lake) -> AppState {
    AppState::new(pool, verifier, lake).await.unwrap()
}

pub async fn app(pool: PgPool) -> Router {
    app_with_lake(pool, scratch_lake()).await
}

pub async fn app_with_lake(pool: PgPool, lake: lake::Lake) -> Router {
    let config = ApiConfig { body_limit: 64 * 1024, ..ApiConfig::default() };
    router(state(pool, Verifier::new(Some(SecretString::from(SECRET)), None), lake).await, &config)
}

pub fn token(email: &str, role: &str, plan: Option<&str>) -> String {
    let claims = claims_for(&user_id_for_email(email).to_string(), Some(email), &[role], plan, Duration::from_secs(600));
    sign_hs256(&SecretString::from(SECRET), &claims).unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

pub async fn call(app: &Router, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())) };
    Reply { status, headers, body }
}

/// GET `uri` as `token`: the content type and the raw body.
pub async fn call_raw(app: &Router, uri: &str, token: &str) -> (String, Vec<u8>) {
    let req = Request::builder().uri(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (ct, axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec())
}

pub fn graph() -> Value {
    serde_json::from_str(include_str!("../../../sample/sma_cross.json")).unwrap()
}

/// Checks the seed's error format and returns the code.
pub fn error_code(r: &Reply) -> String {
    let e = &r.body["error"];
    for k in ["code", "message", "details", "timestamp", "requestId"] {
        assert!(e.get(k).is_some(), "error body lacks {k}: {}", r.body);
    }
    assert_eq!(e["requestId"].as_str().unwrap(), r.headers["x-request-id"].to_str().unwrap());
    e["code"].as_str().unwrap().to_string()
}

async fn create(app: &Router, tok: &str, title: &str, visibility: &str) -> Value {
    let r = call(app, Method::POST, "/api/v1/strategies", Some(tok), Some(json!({"title": title, "visibility": visibility, "tags": ["SMA", "trend"], "graphJson": graph()}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn health_ready_and_request_ids(pool: PgPool) {
    let app = app(pool).await;
    let r = call(&app, Method::GET, "/api/v1/health", None, None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert!(!r.headers["x-request-id"].is_empty(), "generated");
    let r = call(&app, Method::GET, "/api/v1/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let req = Request::builder().uri("/api/v1/health").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123", "taken from the request");
    let r = call(&app, Method::GET, "/api/v1/nowhere", None, None).await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::NOT_FOUND, "not_found".into()));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn me_creates_the_user_once_with_roles_and_plan(pool: PgPool) {
    let app = app(pool.clone()).await;
    let t = token("ada@example.com", "educator", Some("premium"));
    let r = call(&app, Method::GET, "/api/v1/me", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], user_id_for_email("ada@example.com").to_string());
    assert_eq!((r.body["email"].as_str(), r.body["planTier"].as_str()), (Some("ada@example.com"), Some("premium")));
    assert_eq!(r.body["roles"], json!(["educator"]));
    // concurrent first requests of a new subject never fail
    let t2 = token("new@example.com", "builder", None);
    let replies = futures::future::join_all((0..20).map(|_| call(&app, Method::GET, "/api/v1/me", Some(&t2), None))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::OK));
    assert_eq!(replies[0].body["planTier"], "free", "no plan_tier claim: free");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 2);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn bad_tokens_are_401_in_the_error_format(pool: PgPool) {
    use base64::Engine;
    let app = app(pool.clone()).await;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let good = claims_for(&user_id_for_email("x@y.z").to_string(), Some("x@y.z"), &["builder"], None, Duration::from_secs(600));
    let none = format!("{}.{}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#), b64.encode(serde_json::to_vec(&good).unwrap()));
    let mut aud = good.clone();
    aud.aud = "anon".into();
    let mut expired = good.clone();
    expired.exp = chrono::Utc::now().timestamp() - 5;
    let secret = SecretString::from(SECRET);
    let other = SecretString::from("someone-elses-secret-someone-elses-secret");
    for (what, t) in [
        ("no token", None),
        ("garbage", Some("not.a.jwt".to_string())),
        ("alg none", Some(none)),
        ("wrong audience", Some(sign_hs256(&secret, &aud).unwrap())),
        ("expired", Some(sign_hs256(&secret, &expired).unwrap())),
        ("another key", Some(sign_hs256(&other, &good).unwrap())),
    ] {
        let r = call(&app, Method::GET, "/api/v1/me", t.as_deref(), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.body);
        assert_eq!(error_code(&r), "unauthorized", "{what}");
    }
    // an HS256 token when only a JWKS is configured
    let jwks_only = router(
        state(pool.clone(), Verifier::new(None, Some("http://127.0.0.1:9/jwks.json".parse().unwrap())), scratch_lake()).await,
        &ApiConfig::default(),
    );
    let r = call(&jwks_only, Method::GET, "/api/v1/me", Some(&sign_hs256(&secret, &good).unwrap()), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&pool).await.unwrap();
    assert_eq!(users, 0, "no refused token created a user");
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn strategy_lifecycle(pool: PgPool) {
    let app = app(pool).await;
    let t = token("ada@example.com", "builder", None);
    let s = create(&app, &t, "My SMA Cross!", "private").await;
    assert_eq!((s["slug"].as_str(), s["status"].as_str(), s["latestVersion"].as_i64()), (Some("my-sma-cross"), Some("draft"), Some(1)));
    assert_eq!(s["tags"], json!(["sma", "trend"]));
    let id = s["id"].as_str().unwrap();
    let again = create(&app, &t, "My SMA Cross", "private").await;
    assert_eq!(again["slug"], "my-sma-cross-2", "slugs are unique");
    let r = call(&app, Method::GET, &format!("/api/v1/strategies/{id}"), Some(&t), None).await;
    assert_eq!((r.status, &r.body["id"]), (StatusCode::OK, &s["id"]));
    let r = call(&app, Method::PATCH, &format!("/api/v1/strategies/{id}"), Some(&t), Some(json!({"title": "Renamed", "status": "active", "visibility": "public"}))).await;
    assert_eq!((r.status, r.body["title"].as_str(), r.body["status"].as_str()), (StatusCode::OK, Some("Renamed"), Some("active")));
    let r = call(&app, Method::PATCH, &format!("/api/v1/strategies/{id}"), Some(&t), Some(json!({"status": "deleted"}))).await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed".into()));
    // versions
    let r = call(&app, Method::POST, &format!("/api/v1/strategies/{id}/versions"), Some(&t), Some(json!({"graphJson": graph(), "notes": "v2"}))).await;
    assert_eq!((r.status, r.body["version"].as_i64(), r.body["notes"].as_str()), (StatusCode::CREATED, Some(2), Some("v2")));
    assert_eq!(r.body["strategyId"], s["id"]);
    let r = call(&app, Method::GET, &format!("/api/v1/strategies/{id}/versions"), Some(&t), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect::<Vec<_>>(), vec![2, 1]);
    assert!(r.body["nextCursor"].is_null());
    let r = call(&app, Method::GET, &format!("/api/v1/strategies/{id}/versions/1"), Some(&t), None).await;
    assert_eq!((r.status, &r.body["graphJson"]), (StatusCode::OK, &graph()), "the graph is kept as sent");
    let r = call(&app, Method::GET, &format!("/api/v1/strategies/{id}/versions/9"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // delete archives
    let r = call(&app, Method::DELETE, &format!("/api/v1/strategies/{id}"), Some(&t), None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("archived")));
    let r = call(&app, Method::GET, "/api/v1/strategies?status=archived", Some(&t), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn broken_graphs_are_422_with_every_issue_and_bad_json_is_400(pool: PgPool) {
    let app = app(pool.clone()).await;
    let t = token("ada@example.com", "builder", None);
    let bad = json!({"version": 1, "nodes": [{"id": "x", "type": "oracle"}, {"id": "e", "type": "entry", "params": {"side": "long"}}], "edges": [{"from": "x", "to": "nowhere", "port": "when"}]});
    let r = call(&app, Method::POST, "/api/v1/strategies", Some(&t), Some(json!({"title": "Bad", "graphJson": bad}))).await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed".into()));
    let issues = r.body["error"]["details"]["issues"].as_array().unwrap();
    let codes: Vec<&str> = issues.iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"unknown_block_type") && codes.contains(&"missing_node") && codes.contains(&"missing_input"), "{codes:?}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM strategies").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 0, "nothing stored");
    let r = call(&app, Method::POST, "/api/v1/strategies/validate", Some(&t), Some(bad)).await;
    assert_eq!((r.status, r.body["valid"].as_bool()), (StatusCode::OK, Some(false)));
    let r = call(&app, Method::POST, "/api/v1/strategies/validate", Some(&t), Some(json!({"graphJson": graph()}))).await;
    assert_eq!(r.body, json!({"valid": true, "issues": []}));
    // malformed JSON
    let req = Request::builder().method(Method::POST).uri("/api/v1/strategies").header("authorization", format!("Bearer {t}")).header("content-type", "application/json").body(Body::from("{\"title\": ")).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // too large
    let big = json!({"title": "Big", "graphJson": graph(), "notes": "x".repeat(100_000)});
    let r = call(&app, Method::POST, "/api/v1/strategies", Some(&t), Some(big)).await;
    assert_eq!((r.status, error_code(&r)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into()));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn other_users_private_strategies_are_404_and_admins_read_all(pool: PgPool) {
    let app = app(pool).await;
    let (a, b, admin) = (token("a@x.io", "builder", None), token("b@x.io", "builder", None), token("root@x.io", "admin", None));
    let private = create(&app, &a, "Secret sauce", "private").await;
    let public = create(&app, &a, "Open book", "public").await;
    let pid = private["id"].as_str().unwrap();
    for (m, uri, body) in [
        (Method::GET, format!("/api/v1/strategies/{pid}"), None),
        (Method::PATCH, format!("/api/v1/strategies/{pid}"), Some(json!({"title": "mine now"}))),
        (Method::DELETE, format!("/api/v1/strategies/{pid}"), None),
        (Method::GET, format!("/api/v1/strategies/{pid}/versions"), None),
        (Method::GET, format!("/api/v1/strategies/{pid}/versions/1"), None),
        (Method::POST, format!("/api/v1/strategies/{pid}/versions"), Some(json!({"graphJson": graph()}))),
    ] {
        let r = call(&app, m.clone(), &uri, Some(&b), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{m} {uri}: {}", r.body);
        assert!(!r.body.to_string().contains("Secret sauce"), "no data leaks");
    }
    let pubid = public["id"].as_str().unwrap();
    let r = call(&app, Method::GET, &format!("/api/v1/strategies/{pubid}"), Some(&b), None).await;
    assert_eq!(r.status, StatusCode::OK, "public strategies are readable");
    let r = call(&app, Method::PATCH, &format!("/api/v1/strategies/{pubid}"), Some(&b), Some(json!({"title": "hijack"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "but not writable");
    let r = call(&app, Method::GET, "/api/v1/strategies", Some(&b), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "b owns nothing");
    let r = call(&app, Method::GET, "/api/v1/strategies?visibility=public", Some(&b), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = call(&app, Method::GET, &format!("/api/v1/strategies/{pid}"), Some(&admin), None).await;
    assert_eq!(r.status, StatusCode::OK, "admins read all");
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn lists_page_with_a_cursor_and_filter(pool: PgPool) {
    let app = app(pool).await;
    let t = token("ada@example.com", "builder", None);
    for i in 0..5 {
        create(&app, &t, &format!("Strategy {i}"), "private").await;
    }
    let mut seen = Vec::new();
    let mut uri = "/api/v1/strategies?limit=2".to_string();
    loop {
        let r = call(&app, Method::GET, &uri, Some(&t), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        seen.extend(r.body["items"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap().to_string()));
        match r.body["nextCursor"].as_str() {
            Some(c) => uri = format!("/api/v1/strategies?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec!["Strategy 4", "Strategy 3", "Strategy 2", "Strategy 1", "Strategy 0"]);
    let r = call(&app, Method::GET, "/api/v1/strategies?q=y%203", Some(&t), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = call(&app, Method::GET, "/api/v1/strategies?tag=sma", Some(&t), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 5);
    let r = call(&app, Method::GET, "/api/v1/strategies?cursor=bogus", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn fifty_concurrent_versions_get_distinct_numbers(pool: PgPool) {
    let app = app(pool).await;
    let t = token("ada@example.com", "builder", None);
    let s = create(&app, &t, "Busy", "private").await;
    let uri = format!("/api/v1/strategies/{}/versions", s["id"].as_str().unwrap());
    let replies = futures::future::join_all((0..50).map(|i| call(&app, Method::POST, &uri, Some(&t), Some(json!({"graphJson": graph(), "notes": format!("n{i}")}))))).await;
    let mut numbers: Vec<i64> = replies.iter().map(|r| {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["version"].as_i64().unwrap()
    }).collect();
    numbers.sort();
    assert_eq!(numbers, (2..=51).collect::<Vec<_>>());
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn the_openapi_document_lists_every_route(pool: PgPool) {
    let app = app(pool).await;
    let r = call(&app, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = r.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/health", "get"),
        ("/api/v1/ready", "get"),
        ("/api/v1/me", "get"),
        ("/api/v1/strategies", "get"),
        ("/api/v1/strategies", "post"),
        ("/api/v1/strategies/validate", "post"),
        ("/api/v1/strategies/{id}", "get"),
        ("/api/v1/strategies/{id}", "patch"),
        ("/api/v1/strategies/{id}", "delete"),
        ("/api/v1/strategies/{id}/versions", "get"),
        ("/api/v1/strategies/{id}/versions", "post"),
        ("/api/v1/strategies/{id}/versions/{n}", "get"),
        ("/api/v1/backtests", "get"),
        ("/api/v1/backtests", "post"),
        ("/api/v1/backtests/{id}", "get"),
        ("/api/v1/backtests/{id}/trades", "get"),
        ("/api/v1/backtests/{id}/equity", "get"),
        ("/api/v1/backtests/{id}/equity.svg", "get"),
        ("/api/v1/backtests/{id}/events", "get"),
        ("/api/v1/backtests/compare", "get"),
        ("/api/v1/plan-usage", "get"),
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/unread-count", "get"),
        ("/api/v1/notifications/{id}/read", "post"),
        ("/api/v1/notifications/read-all", "post"),
        ("/api/v1/notifications/stream", "get"),
        ("/api/v1/paper-trades", "get"),
        ("/api/v1/paper-trades", "post"),
        ("/api/v1/paper-trades/{id}", "get"),
        ("/api/v1/paper-trades/{id}", "patch"),
        ("/api/v1/paper-trades/{id}/fills", "get"),
        ("/api/v1/paper-trades/{id}/equity", "get"),
        ("/api/v1/paper-trades/{id}/events", "get"),
        ("/api/v1/cohorts", "get"),
        ("/api/v1/cohorts", "post"),
        ("/api/v1/cohorts/{id}", "get"),
        ("/api/v1/cohorts/{id}", "patch"),
        ("/api/v1/cohorts/{id}", "delete"),
        ("/api/v1/cohorts/{id}/members", "get"),
        ("/api/v1/cohorts/{id}/members", "post"),
        ("/api/v1/cohorts/{id}/members/{user_id}", "delete"),
        ("/api/v1/cohorts/{id}/analytics", "get"),
        ("/api/v1/templates", "get"),
        ("/api/v1/templates", "post"),
        ("/api/v1/templates/{id}", "get"),
        ("/api/v1/templates/{id}", "patch"),
        ("/api/v1/templates/{id}/clone", "post"),
        ("/api/v1/admin/compliance/events", "get"),
        ("/api/v1/admin/compliance/events/{id}", "get"),
        ("/api/v1/admin/compliance/events/{id}", "patch"),
        ("/api/v1/admin/templates/{id}/takedown", "post"),
        ("/api/v1/admin/users/{id}/roles", "patch"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the OpenAPI document");
    }
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
    let schemas = &r.body["components"]["schemas"];
    for name in ["PaperRun", "CreatePaperTrade", "Schedule", "AlertConfig", "PerformanceSnapshot", "FillRow", "PaperEquityPoint"] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
    assert_eq!(schemas["PaperStatus"]["enum"], json!(["scheduled", "active", "paused", "stopped"]));
}

/// A JWKS endpoint on a real local HTTP server whose key set can be swapped (key rotation).
async fn jwks_server(keys: Arc<std::sync::Mutex<Value>>) -> String {
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let keys = keys.clone();
            async move { axum::Json(keys.lock().unwrap().clone()) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

/// A fresh P-256 key: its PKCS#8 DER (for signing) and its public JWK.
pub fn es256_key(kid: &str) -> (Vec<u8>, Value) {
    use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use base64::Engine;
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &aws_lc_rs::rand::SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref(); // 0x04 || X || Y
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64.encode(&point[1..33]), "y": b64.encode(&point[33..65]), "kid": kid, "alg": "ES256", "use": "sig"});
    (pkcs8.as_ref().to_vec(), jwk)
}

pub fn sign_es256(der: &[u8], kid: &str, email: &str) -> String {
    let claims = claims_for(&user_id_for_email(email).to_string(), Some(email), &["builder"], None, Duration::from_secs(600));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(der)).unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn es256_tokens_verify_against_a_jwks_that_rotates(pool: PgPool) {
    let (der1, jwk1) = es256_key("k1");
    let (der2, jwk2) = es256_key("k2");
    let keys = Arc::new(std::sync::Mutex::new(json!({"keys": [jwk1]})));
    let url = jwks_server(keys.clone()).await;
    let verifier = Verifier::new(None, Some(url.parse().unwrap())).with_min_refresh(Duration::ZERO);
    let app = router(state(pool, verifier, scratch_lake()).await, &ApiConfig::default());
    let r = call(&app, Method::GET, "/api/v1/me", Some(&sign_es256(&der1, "k1", "es@x.io")), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // the provider rotates in k2: a token with the unknown kid makes the verifier refetch
    *keys.lock().unwrap() = json!({"keys": [jwk2.clone()]});
    let r = call(&app, Method::GET, "/api/v1/me", Some(&sign_es256(&der2, "k2", "es@x.io")), None).await;
    assert_eq!(r.status, StatusCode::OK, "unknown kid refetches the JWKS: {}", r.body);
    // the retired key is gone after the refetch
    let r = call(&app, Method::GET, "/api/v1/me", Some(&sign_es256(&der1, "k1", "es@x.io")), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // a token signed with a key the JWKS does not hold, under a known kid, is refused
    let (der3, _) = es256_key("k2");
    let r = call(&app, Method::GET, "/api/v1/me", Some(&sign_es256(&der3, "k2", "es@x.io")), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn raw(app: &Router, req: Request<Body>) -> axum::http::Response<Body> {
    app.clone().oneshot(req).await.unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn cors_preflights_name_the_allowed_origin_only_and_every_answer_has_security_headers(pool: PgPool) {
    let config = ApiConfig { cors_origins: vec!["https://app.blockbuilders.io".into()], hsts: true, ..ApiConfig::default() };
    let app = router(state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), scratch_lake()).await, &config);
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/strategies")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .body(Body::empty())
            .unwrap()
    };
    let ok = raw(&app, preflight("https://app.blockbuilders.io")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.blockbuilders.io");
    let methods = h["access-control-allow-methods"].to_str().unwrap().to_ascii_uppercase();
    assert!(["GET", "POST", "PATCH", "DELETE"].iter().all(|m| methods.contains(m)), "{methods}");
    let headers = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
    let refused = raw(&app, preflight("https://evil.example")).await;
    assert!(refused.headers().get("access-control-allow-origin").is_none(), "a refused origin is not named: {:?}", refused.headers());
    // a simple request from a refused origin gets its answer without the CORS grant, so browsers hide it
    let r = raw(&app, Request::builder().uri("/api/v1/health").header("origin", "https://evil.example").body(Body::empty()).unwrap()).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // security headers: JSON answers, errors, and the HTML page
    for req in [
        Request::builder().uri("/api/v1/health").body(Body::empty()).unwrap(),
        Request::builder().uri("/api/v1/strategies").body(Body::empty()).unwrap(),
        Request::builder().uri("/api/v1/notifications/unsubscribe?token=nope").body(Body::empty()).unwrap(),
    ] {
        let uri = req.uri().to_string();
        let r = raw(&app, req).await;
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{uri}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{uri}");
        assert_eq!(h["x-frame-options"], "DENY", "{uri}");
        assert_eq!(h["strict-transport-security"], "max-age=31536000; includeSubDomains", "{uri}");
        let html = h["content-type"].to_str().unwrap().starts_with("text/html");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert_eq!(csp.contains("style-src 'unsafe-inline'"), html, "{uri}: only HTML pages may style themselves: {csp}");
    }
    // without TLS there is no HSTS
    let plain = app_with_lake(pool, scratch_lake()).await;
    let r = raw(&plain, Request::builder().uri("/api/v1/health").body(Body::empty()).unwrap()).await;
    assert!(r.headers().get("strict-transport-security").is_none());
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn mutations_over_the_limit_are_429_with_retry_after_per_user_and_per_address(pool: PgPool) {
    use api::rate_limit::Limits;
    let limits = Limits { per_user_per_minute: 3, per_ip_per_minute: 5, trusted_ip_header: Some("x-forwarded-for".into()) };
    let app = router(state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), scratch_lake()).await, &ApiConfig { rate_limits: limits, ..ApiConfig::default() });
    let (ana, bob) = (token("ana@example.com", "builder", None), token("bob@example.com", "builder", None));
    let req = |method: Method, uri: &str, tok: &str, ip: &str| {
        Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {tok}")).header("x-forwarded-for", format!("198.51.100.{}, {ip}", uuid::Uuid::new_v4().as_u128() as u8)).body(Body::empty()).unwrap()
    };
    for _ in 0..3 {
        assert_eq!(raw(&app, req(Method::POST, "/api/v1/notifications/read-all", &ana, "203.0.113.1")).await.status(), StatusCode::OK);
    }
    let r = raw(&app, req(Method::POST, "/api/v1/notifications/read-all", &ana, "203.0.113.1")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((19..=20).contains(&after), "{after}");
    let body: Value = serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["details"]["retryAfterSeconds"], after);
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 3 a minute"), "{body}");
    // reads are not limited
    assert_eq!(raw(&app, req(Method::GET, "/api/v1/notifications", &ana, "203.0.113.1")).await.status(), StatusCode::OK);
    // another user has their own bucket, but the address's is shared: 5 a minute from it
    assert_eq!(raw(&app, req(Method::POST, "/api/v1/notifications/read-all", &bob, "203.0.113.1")).await.status(), StatusCode::OK);
    let r = raw(&app, req(Method::POST, "/api/v1/notifications/read-all", &bob, "203.0.113.1")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("from your address"), "{body}");
    assert_eq!(raw(&app, req(Method::POST, "/api/v1/notifications/read-all", &bob, "198.51.100.7")).await.status(), StatusCode::OK);
    // Stripe's webhook is not limited (here: billing is off, so 503, never 429)
    for _ in 0..3 {
        let r = raw(&app, Request::builder().method(Method::POST).uri("/api/v1/billing/webhooks/stripe").header("x-forwarded-for", "203.0.113.1").body(Body::from("{}")).unwrap()).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    // without a trusted header, X-Forwarded-For is the client's word and not believed: the peer address counts
    let strict = Limits { per_user_per_minute: 100, per_ip_per_minute: 1, trusted_ip_header: None };
    let app = router(state(pool, Verifier::new(Some(SecretString::from(SECRET)), None), scratch_lake()).await, &ApiConfig { rate_limits: strict, ..ApiConfig::default() });
    let from_peer = |ip: &str| {
        let mut r = req(Method::POST, "/api/v1/notifications/read-all", &ana, ip);
        r.extensions_mut().insert(axum::extract::ConnectInfo(std::net::SocketAddr::from(([192, 0, 2, 1], 50_000))));
        r
    };
    assert_eq!(raw(&app, from_peer("198.51.100.1")).await.status(), StatusCode::OK);
    assert_eq!(raw(&app, from_peer("198.51.100.2")).await.status(), StatusCode::TOO_MANY_REQUESTS, "a different X-Forwarded-For does not escape the limit");
}
