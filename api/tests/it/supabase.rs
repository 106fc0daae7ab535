//! Supabase Auth's admin API against a fake on loopback that speaks its wire format: the
//! service-role key as `apikey` and bearer (anything else is a 401 as Supabase answers it),
//! `PUT /auth/v1/admin/users/{id}` and `POST /auth/v1/admin/users` with JSON bodies, GoTrue's
//! error bodies (`{"code", "error_code", "msg"}`), and the project's JWKS.

use std::sync::{Arc, Mutex};

use api::auth::jwt::{user_id_for_email, Verifier};
use api::config::ApiConfig;
use api::http::{router, AppState};
use api::services::supabase::Supabase;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::{call, token, SECRET};

const SERVICE_KEY: &str = "eyJhbGciOiJIUzI1NiJ9.service-role-test-key";

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
}

#[derive(Clone)]
struct FakeSupabase {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// answers to the next admin calls, before the defaults
    script: Arc<Mutex<Vec<(u16, Value)>>>,
    /// accounts the fake has, by e-mail
    accounts: Arc<Mutex<Vec<String>>>,
}

impl FakeSupabase {
    async fn start(jwks: Value) -> FakeSupabase {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Vec<(u16, Value)>>> = Arc::new(Mutex::new(Vec::new()));
        let accounts = Arc::new(Mutex::new(vec!["known@example.com".to_string()]));
        let (s, sc, acc) = (seen.clone(), script.clone(), accounts.clone());
        let app = Router::new().fallback(move |req: Request<Body>| {
            let (s, sc, acc, jwks) = (s.clone(), sc.clone(), acc.clone(), jwks.clone());
            async move {
                let (method, path, apikey, auth) = {
                    let h = |k: &str| req.headers().get(k).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    (req.method().to_string(), req.uri().path().to_string(), h("apikey"), h("authorization"))
                };
                if path == "/auth/v1/.well-known/jwks.json" {
                    return (StatusCode::OK, axum::Json(jwks));
                }
                if apikey != SERVICE_KEY || auth != format!("Bearer {SERVICE_KEY}") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Invalid API key", "hint": "Double check your Supabase `anon` or `service_role` API key."})));
                }
                let bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                s.lock().unwrap().push(Seen { method: method.clone(), path: path.clone(), body: body.clone() });
                if let Some((status, b)) = {
                    let mut sc = sc.lock().unwrap();
                    (!sc.is_empty()).then(|| sc.remove(0))
                } {
                    return (StatusCode::from_u16(status).unwrap(), axum::Json(b));
                }
                let user = |id: &str, email: &str, roles: &Value| {
                    json!({"id": id, "aud": "authenticated", "role": "authenticated", "email": email, "email_confirmed_at": "2026-12-08T00:00:00Z",
                        "app_metadata": {"provider": "email", "providers": ["email"], "roles": roles}, "user_metadata": {},
                        "created_at": "2026-12-08T00:00:00Z", "updated_at": "2026-12-08T00:00:00Z"})
                };
                match (method.as_str(), path.strip_prefix("/auth/v1/admin/users")) {
                    ("POST", Some("")) => {
                        let email = body["email"].as_str().unwrap_or_default().to_string();
                        if acc.lock().unwrap().contains(&email) {
                            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"code": 422, "error_code": "email_exists",
                                "msg": "A user with this email address has already been registered"})));
                        }
                        acc.lock().unwrap().push(email.clone());
                        (StatusCode::OK, axum::Json(user(&Uuid::new_v4().to_string(), &email, &body["app_metadata"]["roles"])))
                    }
                    ("PUT", Some(id)) => (StatusCode::OK, axum::Json(user(id.trim_start_matches('/'), "x@example.com", &body["app_metadata"]["roles"]))),
                    _ => (StatusCode::NOT_FOUND, axum::Json(json!({"code": 404, "error_code": "not_found", "msg": "not found"}))),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeSupabase { url, seen, script, accounts }
    }
}

async fn app(pool: &PgPool, supabase: Option<&FakeSupabase>) -> Router {
    let mut state = AppState::new(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), crate::http::scratch_lake()).await.unwrap();
    if let Some(f) = supabase {
        state.supabase = Arc::new(Supabase::new(Some(url::Url::parse(&f.url).unwrap()), Some(SecretString::from(SERVICE_KEY))));
    }
    router(state, &ApiConfig::default())
}

async fn roles_of(pool: &PgPool, id: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT roles FROM users WHERE id = $1").bind(id).fetch_one(pool).await.unwrap()
}

async fn audits(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1").bind(action).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn role_changes_and_invitations_go_through_supabase_first(pool: PgPool) {
    let fake = FakeSupabase::start(json!({"keys": []})).await;
    let app = app(&pool, Some(&fake)).await;
    let admin = token("root@example.com", "admin", None);
    call(&app, Method::GET, "/api/v1/me", Some(&admin), None).await;
    let member = token("member@example.com", "builder", None);
    call(&app, Method::GET, "/api/v1/me", Some(&member), None).await;
    let id = user_id_for_email("member@example.com");

    // Supabase has a hiccup (503), the retry goes through: both places hold the new roles
    fake.script.lock().unwrap().push((503, json!({"message": "upstream connect error"})));
    let r = call(&app, Method::PATCH, &format!("/api/v1/admin/users/{id}/roles"), Some(&admin), Some(json!({"roles": ["educator", "builder"]}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|s| s.method == "PUT" && s.path == format!("/auth/v1/admin/users/{id}")), "{seen:?}");
    assert_eq!(seen[1].body, json!({"app_metadata": {"roles": ["builder", "educator"]}}));
    assert_eq!(roles_of(&pool, id).await, ["builder", "educator"]);
    assert_eq!(audits(&pool, "user.roles_changed").await, 1);

    // Supabase refuses: nothing changes here, and the answer says why
    fake.script.lock().unwrap().push((400, json!({"code": 400, "error_code": "validation_failed", "msg": "Unable to validate request"})));
    let r = call(&app, Method::PATCH, &format!("/api/v1/admin/users/{id}/roles"), Some(&admin), Some(json!({"roles": ["admin"]}))).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("upstream_error")), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().ends_with("400 Bad Request (validation_failed): Unable to validate request"), "{}", r.body);
    assert_eq!(roles_of(&pool, id).await, ["builder", "educator"], "the local row changes only when Supabase accepted");
    assert_eq!(audits(&pool, "user.roles_changed").await, 1);

    // an invitation provisions the account there, then the row here
    let r = call(&app, Method::POST, "/api/v1/admin/users/invite", Some(&admin), Some(json!({"email": "New.Teacher@Example.com", "roles": ["educator"]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let post = fake.seen.lock().unwrap().last().unwrap().clone();
    assert_eq!((post.method.as_str(), post.path.as_str()), ("POST", "/auth/v1/admin/users"));
    assert_eq!(post.body, json!({"email": "new.teacher@example.com", "email_confirm": true, "app_metadata": {"roles": ["educator"]}}));
    let new_id = Uuid::parse_str(r.body["id"].as_str().unwrap()).unwrap();
    assert_eq!((r.body["email"].as_str(), roles_of(&pool, new_id).await), (Some("new.teacher@example.com"), vec!["educator".to_string()]));
    assert!(fake.accounts.lock().unwrap().contains(&"new.teacher@example.com".to_string()));
    assert_eq!(audits(&pool, "user.invited").await, 1);
    // an address Supabase knows is a 409, and nothing is written here
    let r = call(&app, Method::POST, "/api/v1/admin/users/invite", Some(&admin), Some(json!({"email": "known@example.com", "roles": ["builder"]}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("email_exists"), "{}", r.body);
    let r = call(&app, Method::POST, "/api/v1/admin/users/invite", Some(&admin), Some(json!({"email": "member@example.com", "roles": ["builder"]}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "an address with a row here: {}", r.body);
    for (body, field) in [(json!({"email": "not-an-address", "roles": ["builder"]}), "email"), (json!({"email": "a@b.co", "roles": ["wizard"]}), "roles")] {
        let r = call(&app, Method::POST, "/api/v1/admin/users/invite", Some(&admin), Some(body)).await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{}", r.body);
    }
    let r = call(&app, Method::POST, "/api/v1/admin/users/invite", Some(&member), Some(json!({"email": "x@y.co", "roles": ["builder"]}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(audits(&pool, "user.invited").await, 1);

    // without Supabase: roles stay local, invitations are not possible
    let local = self::app(&pool, None).await;
    let r = call(&local, Method::PATCH, &format!("/api/v1/admin/users/{id}/roles"), Some(&admin), Some(json!({"roles": ["admin"]}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(&local, Method::POST, "/api/v1/admin/users/invite", Some(&admin), Some(json!({"email": "x@y.co", "roles": ["builder"]}))).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("not_configured")));
}

#[test]
fn bb_serve_verifies_tokens_from_the_supabase_projects_jwks() {
    let db = crate::FreshDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (der, jwk) = crate::http::es256_key("supabase-key-1");
    let fake = rt.block_on(FakeSupabase::start(json!({"keys": [jwk]})));
    let key_file = dir.path().join("service-role.key");
    std::fs::write(&key_file, SERVICE_KEY).unwrap();
    let key_path = key_file.display().to_string();
    let served = crate::Served::start(
        dir.path(),
        &["--no-worker"],
        &[("DATABASE_URL", &db.url), ("BB_SUPABASE_URL", &fake.url), ("BB_SUPABASE_SERVICE_ROLE_KEY_FILE", &key_path), ("BB_LOG", "warn")],
        &["BB_JWT_SECRET", "BB_JWKS_URL"],
    );
    let (base, lines) = (&served.base, &served.announced);
    assert!(lines.iter().any(|l| l.contains("roles and invitations through its admin API")), "{lines:?}");
    let tok = crate::http::sign_es256(&der, "supabase-key-1", "jwks-user@example.com");
    let status = |t: &str| rt.block_on(reqwest::Client::new().get(format!("{base}/me")).bearer_auth(t).send()).unwrap().status().as_u16();
    assert_eq!(status(&tok), 200, "an ES256 token checks out against {}/auth/v1/.well-known/jwks.json", fake.url);
    let (other, _) = crate::http::es256_key("supabase-key-1");
    assert_eq!(status(&crate::http::sign_es256(&other, "supabase-key-1", "jwks-user@example.com")), 401, "a key the project does not publish");
}
