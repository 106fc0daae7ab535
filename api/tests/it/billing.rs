//! Billing against a fake Stripe on loopback that speaks Stripe's wire format (form-encoded
//! requests with a bearer key and an Idempotency-Key, JSON answers, `{"error": {…}}` bodies), and
//! webhook events shaped like Stripe's documented examples, signed here with Stripe's scheme
//! (hex HMAC-SHA256 of `t.payload`), written from its documentation rather than the platform's code.

use std::sync::{Arc, Mutex};

use api::auth::jwt::{user_id_for_email, Verifier};
use api::config::{ApiConfig, BillingConfig};
use api::http::{router, AppState};
use api::model::QuotaMetric;
use api::services::billing::Stripe;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::http::{call, token, SECRET};

const KEY: &str = "sk_test_51Blockbuilders";
const WEBHOOK_SECRET: &str = "whsec_test_blockbuilders_endpoint";
const PREMIUM: &str = "price_1PremiumMonthly";
const EDUCATOR: &str = "price_1EducatorMonthly";

/// One request the fake Stripe got.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: String,
    idempotency_key: String,
    content_type: String,
    form: Vec<(String, String)>,
}

/// A fake of Stripe's API: answers each request from a script of (status, body), then the default.
#[derive(Clone)]
struct FakeStripe {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<Vec<(u16, Value)>>>,
}

impl FakeStripe {
    async fn start() -> FakeStripe {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Vec<(u16, Value)>>> = Arc::new(Mutex::new(Vec::new()));
        let (s, sc) = (seen.clone(), script.clone());
        let app = Router::new().fallback(move |req: Request<Body>| {
            let (s, sc) = (s.clone(), sc.clone());
            async move {
                let (authorization, idempotency_key, content_type, path) = {
                    let h = |k: &str| req.headers().get(k).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    (h("authorization"), h("idempotency-key"), h("content-type"), req.uri().path().to_string())
                };
                let bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.unwrap();
                let form: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
                s.lock().unwrap().push(Seen { path: path.clone(), authorization, idempotency_key, content_type, form });
                let scripted = {
                    let mut sc = sc.lock().unwrap();
                    (!sc.is_empty()).then(|| sc.remove(0))
                };
                let (status, body) = scripted.unwrap_or_else(|| match path.as_str() {
                    "/v1/checkout/sessions" => (200, json!({"id": "cs_test_a1b2c3", "object": "checkout.session", "mode": "subscription",
                        "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"})),
                    "/v1/billing_portal/sessions" => (200, json!({"id": "bps_1MrSjz", "object": "billing_portal.session",
                        "url": "https://billing.stripe.com/p/session/test_YWNjdF8x"})),
                    _ => (404, json!({"error": {"type": "invalid_request_error", "message": format!("Unrecognized request URL (POST: {path})")}})),
                });
                (StatusCode::from_u16(status).unwrap(), axum::Json(body))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeStripe { url, seen, script }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn field<'a>(s: &'a Seen, k: &str) -> Option<&'a str> {
    s.form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

async fn app(pool: &PgPool, stripe: Option<&FakeStripe>) -> Router {
    let mut state = AppState::new(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), crate::http::scratch_lake()).await.unwrap();
    if let Some(f) = stripe {
        state.stripe = Arc::new(Stripe::new(BillingConfig {
            stripe_secret_key: Some(SecretString::from(KEY)),
            stripe_api_base: url::Url::parse(&f.url).unwrap(),
            stripe_webhook_secret: Some(SecretString::from(WEBHOOK_SECRET)),
            price_premium: Some(PREMIUM.into()),
            price_educator: Some(EDUCATOR.into()),
            public_url: url::Url::parse("https://app.blockbuilders.test").unwrap(),
        }));
    }
    router(state, &ApiConfig::default())
}

/// Stripe's signature scheme, from its documentation: `t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`.
fn stripe_signature(secret: &str, t: i64, payload: &str) -> String {
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes()), format!("{t}.{payload}").as_bytes());
    format!("t={t},v1={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// POSTs an event to the webhook endpoint with `signature` (None: unsigned).
async fn deliver(app: &Router, event: &Value, signature: Option<String>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(Method::POST).uri("/api/v1/billing/webhooks/stripe").header("content-type", "application/json");
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    let res = app.clone().oneshot(req.body(Body::from(event.to_string())).unwrap()).await.unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn signed(app: &Router, event: &Value) -> Value {
    let (status, body) = deliver(app, event, Some(stripe_signature(WEBHOOK_SECRET, chrono::Utc::now().timestamp(), &event.to_string()))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// An event envelope as Stripe sends it.
fn event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": created, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": kind, "data": {"object": object}})
}

fn subscription(user: Uuid, status: &str, price: &str, period_end: i64) -> Value {
    json!({"id": "sub_1MowQVLkdIwHu7ixeRlqHVzs", "object": "subscription", "customer": "cus_NffrFeUfNV2Hib", "status": status,
        "cancel_at_period_end": false, "current_period_start": period_end - 2_592_000, "current_period_end": period_end,
        "items": {"object": "list", "data": [{"id": "si_NcLYdDxLHxlFo7", "object": "subscription_item", "quantity": 1,
            "price": {"id": price, "object": "price", "currency": "usd", "unit_amount": 2900, "recurring": {"interval": "month"}}}]},
        "metadata": {"user_id": user.to_string(), "plan": "premium"}})
}

fn invoice(kind_paid: bool, period_end: i64) -> Value {
    json!({"id": "in_1MtHbELkdIwHu7ixl4OzzPMv", "object": "invoice", "customer": "cus_NffrFeUfNV2Hib",
        "subscription": "sub_1MowQVLkdIwHu7ixeRlqHVzs", "status": if kind_paid { "paid" } else { "open" }, "amount_due": 2900,
        "lines": {"object": "list", "data": [{"id": "il_1", "object": "line_item", "period": {"start": period_end - 2_592_000, "end": period_end}}]}})
}

async fn billing(app: &Router, tok: &str) -> Value {
    let r = call(app, Method::GET, "/api/v1/billing", Some(tok), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn plan_limit(pool: &PgPool, user: Uuid) -> Option<i32> {
    sqlx::query_scalar("SELECT plan_limit FROM plan_usage WHERE user_id = $1 AND metric = 'backtests' AND window_end > now()").bind(user).fetch_one(pool).await.unwrap()
}

async fn system_events(pool: &PgPool, user: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT payload ->> 'event' FROM notifications WHERE user_id = $1 AND type = 'system' ORDER BY created_at, id").bind(user).fetch_all(pool).await.unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn checkout_and_portal_call_stripe_as_documented(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = app(&pool, Some(&stripe)).await;
    let tok = token("buyer@example.com", "builder", Some("free"));
    let uid = user_id_for_email("buyer@example.com");
    call(&app, Method::GET, "/api/v1/me", Some(&tok), None).await;
    // Stripe fails once: the retry carries the same Idempotency-Key
    stripe.script.lock().unwrap().push((500, json!({"error": {"type": "api_error", "message": "An unknown error occurred"}})));
    let r = call(&app, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": "premium"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3", "id": "cs_test_a1b2c3"}));
    let seen = stripe.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].idempotency_key, seen[1].idempotency_key);
    assert!(Uuid::parse_str(&seen[0].idempotency_key).is_ok(), "{}", seen[0].idempotency_key);
    let s = &seen[1];
    assert_eq!((s.path.as_str(), s.authorization.as_str(), s.content_type.as_str()), ("/v1/checkout/sessions", "Bearer sk_test_51Blockbuilders", "application/x-www-form-urlencoded"));
    for (k, v) in [("mode", "subscription"), ("line_items[0][price]", PREMIUM), ("line_items[0][quantity]", "1"), ("client_reference_id", uid.to_string().as_str()),
        ("customer_email", "buyer@example.com"), ("metadata[plan]", "premium"), ("subscription_data[metadata][user_id]", uid.to_string().as_str()),
        ("cancel_url", "https://app.blockbuilders.test/billing?checkout=canceled")] {
        assert_eq!(field(s, k), Some(v), "{k} in {:?}", s.form);
    }
    assert_eq!(field(s, "success_url"), Some("https://app.blockbuilders.test/billing?checkout=success&session_id={CHECKOUT_SESSION_ID}"));
    assert_eq!(field(s, "customer"), None);
    // a second click is a new attempt: a new key
    let r = call(&app, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": "educator"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let third = &stripe.seen()[2];
    assert_ne!(third.idempotency_key, seen[0].idempotency_key);
    assert_eq!(field(third, "line_items[0][price]"), Some(EDUCATOR));

    for (plan, says) in [("gold", "plan: 'gold' is not one of free, premium, educator"), ("free", "the free plan needs no checkout")] {
        let r = call(&app, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": plan}))).await;
        assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("plan")), "{}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().starts_with(says), "{}", r.body);
    }
    // no customer yet: no portal
    let r = call(&app, Method::POST, "/api/v1/billing/portal-session", Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // Stripe's own refusal is passed on as a 502 with its message
    stripe.script.lock().unwrap().push((400, json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "param": "line_items[0][price]",
        "message": "No such price: 'price_1PremiumMonthly'"}})));
    let r = call(&app, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": "premium"}))).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "upstream_error");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("No such price: 'price_1PremiumMonthly'"), "{}", r.body);
    let n = stripe.seen().len();

    // once Stripe made a customer, it is reused, and the portal opens for it
    let now = chrono::Utc::now().timestamp();
    signed(&app, &event("evt_1", "checkout.session.completed", now, json!({"id": "cs_test_a1b2c3", "object": "checkout.session",
        "client_reference_id": uid.to_string(), "customer": "cus_NffrFeUfNV2Hib", "subscription": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
        "mode": "subscription", "payment_status": "paid", "status": "complete", "metadata": {"user_id": uid.to_string(), "plan": "premium"}}))).await;
    let r = call(&app, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": "educator"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "an active subscription changes in the portal: {}", r.body);
    assert_eq!(stripe.seen().len(), n, "Stripe was not called");
    let r = call(&app, Method::POST, "/api/v1/billing/portal-session", Some(&tok), None).await;
    assert_eq!((r.status, r.body["url"].as_str()), (StatusCode::OK, Some("https://billing.stripe.com/p/session/test_YWNjdF8x")), "{}", r.body);
    let p = stripe.seen().pop().unwrap();
    assert_eq!(p.path, "/v1/billing_portal/sessions");
    assert_eq!((field(&p, "customer"), field(&p, "return_url")), (Some("cus_NffrFeUfNV2Hib"), Some("https://app.blockbuilders.test/billing")));
    sqlx::query("UPDATE subscriptions SET status = 'canceled' WHERE user_id = $1").bind(uid).execute(&pool).await.unwrap();
    let r = call(&app, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": "premium"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let again = stripe.seen().pop().unwrap();
    assert_eq!((field(&again, "customer"), field(&again, "customer_email")), (Some("cus_NffrFeUfNV2Hib"), None));

    // a server without Stripe says so
    let off = self::app(&pool, None).await;
    let r = call(&off, Method::POST, "/api/v1/billing/checkout-session", Some(&tok), Some(json!({"plan": "premium"}))).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("not_configured")), "{}", r.body);
    assert_eq!(billing(&off, &tok).await["billingConfigured"], false);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn stripe_events_move_the_subscription_tier_and_quotas_once_and_in_order(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = app(&pool, Some(&stripe)).await;
    let tok = token("sub@example.com", "builder", Some("free"));
    let uid = user_id_for_email("sub@example.com");
    call(&app, Method::GET, "/api/v1/me", Some(&tok), None).await;
    let strategy = call(&app, Method::POST, "/api/v1/strategies", Some(&tok), Some(json!({"title": "kept", "graphJson": crate::http::graph()}))).await;
    assert_eq!(strategy.status, StatusCode::CREATED);
    // a backtest's worth of today's quota, on the free plan's cap
    let mut tx = pool.begin().await.unwrap();
    api::services::quotas::consume(&mut tx, uid, QuotaMetric::Backtests).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(plan_limit(&pool, uid).await, Some(3));
    let t0 = chrono::Utc::now().timestamp() - 3600;
    let completed = event("evt_1NG8Du2eZvKYlo2CUI79vXWy", "checkout.session.completed", t0, json!({"id": "cs_test_a1b2c3", "object": "checkout.session",
        "client_reference_id": uid.to_string(), "customer": "cus_NffrFeUfNV2Hib", "subscription": "sub_1MowQVLkdIwHu7ixeRlqHVzs", "mode": "subscription",
        "payment_status": "paid", "status": "complete", "metadata": {"user_id": uid.to_string(), "plan": "premium"}}));
    let body = completed.to_string();
    let now = chrono::Utc::now().timestamp();

    // refused, and nothing stored: no header, a wrong secret, a changed body, an old timestamp
    let stored = || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM stripe_events").fetch_one(&pool).await.unwrap() };
    for (sig, says) in [
        (None, "missing"),
        (Some(stripe_signature("whsec_someone_else", now, &body)), "no signature"),
        (Some(stripe_signature(WEBHOOK_SECRET, now, &body.replace("premium", "educator"))), "no signature"),
        (Some(stripe_signature(WEBHOOK_SECRET, now - 301, &body)), "tolerated"),
    ] {
        let (status, r) = deliver(&app, &completed, sig).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
        assert!(r["error"]["message"].as_str().unwrap().contains(says), "{r}");
    }
    assert_eq!(stored().await, 0);
    assert_eq!(billing(&app, &tok).await["tier"], "free");

    // checkout completed: premium now, quotas follow at once, the user is told
    assert_eq!(signed(&app, &completed).await, json!({"received": true, "duplicate": false, "outcome": "applied"}));
    let b = billing(&app, &tok).await;
    assert_eq!((b["tier"].as_str(), b["subscription"]["status"].as_str(), b["subscription"]["stripeCustomerId"].as_str()), (Some("premium"), Some("active"), Some("cus_NffrFeUfNV2Hib")));
    assert_eq!(plan_limit(&pool, uid).await, Some(200));
    let backtests = b["usage"].as_array().unwrap().iter().find(|u| u["metric"] == "backtests").unwrap().clone();
    assert_eq!((backtests["used"].as_i64(), backtests["limit"].as_i64()), (Some(1), Some(200)));
    assert_eq!(system_events(&pool, uid).await, ["plan_changed"]);
    // a replay changes nothing and answers 200
    assert_eq!(signed(&app, &completed).await, json!({"received": true, "duplicate": true, "outcome": "applied"}));
    assert_eq!(system_events(&pool, uid).await, ["plan_changed"]);

    // the subscription's period; then an older update arriving late is kept but not applied
    let period_end = t0 + 30 * 86_400;
    let r = signed(&app, &event("evt_sub_updated_2", "customer.subscription.updated", t0 + 20, subscription(uid, "active", PREMIUM, period_end))).await;
    assert_eq!(r["outcome"], "applied");
    let renewal = chrono::DateTime::from_timestamp(period_end, 0).unwrap();
    assert_eq!(billing(&app, &tok).await["renewalAt"], json!(renewal));
    let r = signed(&app, &event("evt_sub_updated_1", "customer.subscription.updated", t0 + 10, subscription(uid, "past_due", PREMIUM, period_end - 86_400))).await;
    assert_eq!(r["outcome"], "stale");
    let b = billing(&app, &tok).await;
    assert_eq!((b["subscription"]["status"].as_str(), &b["renewalAt"]), (Some("active"), &json!(renewal)), "not rolled back");

    // a failed payment: past due, still premium, told; then paid: active, renewed
    assert_eq!(signed(&app, &event("evt_inv_failed", "invoice.payment_failed", t0 + 30, invoice(false, period_end))).await["outcome"], "applied");
    let b = billing(&app, &tok).await;
    assert_eq!((b["tier"].as_str(), b["subscription"]["status"].as_str()), (Some("premium"), Some("past_due")));
    assert_eq!(system_events(&pool, uid).await, ["plan_changed", "payment_failed"]);
    let next_end = period_end + 30 * 86_400;
    assert_eq!(signed(&app, &event("evt_inv_paid", "invoice.paid", t0 + 40, invoice(true, next_end))).await["outcome"], "applied");
    let b = billing(&app, &tok).await;
    assert_eq!((b["subscription"]["status"].as_str(), &b["renewalAt"]), (Some("active"), &json!(chrono::DateTime::from_timestamp(next_end, 0).unwrap())));

    // moved to the educator price in the portal
    assert_eq!(signed(&app, &event("evt_sub_updated_3", "customer.subscription.updated", t0 + 50, subscription(uid, "active", EDUCATOR, next_end))).await["outcome"], "applied");
    assert_eq!(billing(&app, &tok).await["tier"], "educator");
    assert_eq!(plan_limit(&pool, uid).await, Some(500));

    // canceled: free again, caps lowered, nothing deleted
    assert_eq!(signed(&app, &event("evt_sub_deleted", "customer.subscription.deleted", t0 + 60, subscription(uid, "canceled", EDUCATOR, next_end))).await["outcome"], "applied");
    let b = billing(&app, &tok).await;
    assert_eq!((b["tier"].as_str(), b["subscription"]["status"].as_str()), (Some("free"), Some("canceled")));
    assert_eq!(plan_limit(&pool, uid).await, Some(3));
    assert_eq!(system_events(&pool, uid).await, ["plan_changed", "payment_failed", "plan_changed", "plan_changed"]);
    let kept = call(&app, Method::GET, &format!("/api/v1/strategies/{}", strategy.body["id"].as_str().unwrap()), Some(&tok), None).await;
    assert_eq!(kept.status, StatusCode::OK, "a downgrade deletes nothing");
    let last: String = sqlx::query_scalar("SELECT payload ->> 'message' FROM notifications WHERE user_id = $1 AND type = 'system' ORDER BY created_at DESC, id DESC LIMIT 1").bind(uid).fetch_one(&pool).await.unwrap();
    assert!(last.contains("you are on the free plan now") && last.contains("kept"), "{last}");

    // any other type is stored and answered 200; a customer nobody has is unmatched
    assert_eq!(signed(&app, &event("evt_cust", "customer.created", t0 + 70, json!({"id": "cus_X", "object": "customer"}))).await["outcome"], "ignored");
    let mut stranger = invoice(true, next_end);
    stranger["customer"] = json!("cus_Unknown");
    stranger["subscription"] = json!("sub_Unknown");
    assert_eq!(signed(&app, &event("evt_stranger", "invoice.paid", t0 + 80, stranger)).await["outcome"], "unmatched");
    let outcomes: Vec<(String, String)> = sqlx::query_as("SELECT id, outcome FROM stripe_events ORDER BY received_at, id").fetch_all(&pool).await.unwrap();
    assert_eq!(outcomes.len(), 9, "{outcomes:?}");
}

#[test]
fn bb_serve_reads_stripe_secrets_from_a_file_and_never_logs_them() {
    let db = crate::FreshDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stripe = rt.block_on(FakeStripe::start());
    // Stripe fails for good: the failure is logged, the key must not be
    stripe.script.lock().unwrap().extend([(500, json!({"error": {"type": "api_error", "message": "boom"}})), (500, json!({})), (500, json!({}))]);
    let key_file = dir.path().join("stripe.key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let key_path = key_file.display().to_string();
    let mut served = crate::Served::start(
        dir.path(),
        &["--no-worker"],
        &[
            ("DATABASE_URL", &db.url),
            ("BB_JWT_SECRET", SECRET),
            ("BB_STRIPE_SECRET_KEY_FILE", &key_path),
            ("BB_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("BB_STRIPE_API_BASE", &stripe.url),
            ("BB_STRIPE_PRICE_PREMIUM", PREMIUM),
            ("BB_LOG", "debug"),
        ],
        &[],
    );
    // the rest of the log, read as it comes
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let rest = served.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in rest.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = served.announced.join("\n");
    let base = served.base.clone();
    assert!(log.contains("billing: Stripe at"), "{log}");
    let tok = token("secret-keeper@example.com", "builder", Some("free"));
    let client = reqwest::Client::new();
    let post = |path: &str, body: String, header: (&str, String)| {
        rt.block_on(client.post(format!("{base}{path}")).header(header.0, header.1).header("content-type", "application/json").body(body).send()).unwrap().status().as_u16()
    };
    assert_eq!(post("/billing/checkout-session", json!({"plan": "premium"}).to_string(), ("authorization", format!("Bearer {tok}"))), 502);
    assert_eq!(stripe.seen()[0].authorization, format!("Bearer {KEY}"), "the key came from the file");
    // a webhook with a bad signature is refused and logged
    assert_eq!(post("/billing/webhooks/stripe", "{}".into(), ("stripe-signature", "t=1,v1=00".into())), 400);
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(served);
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        log.push('\n');
        log.push_str(&line);
    }
    assert!(log.contains("Stripe call failed"), "the failure is logged: {log}");
    for secret in [KEY, WEBHOOK_SECRET, SECRET] {
        assert!(!log.contains(secret), "a secret was logged: {secret}");
    }
}
