//! Notifications on every channel against real servers on loopback, started by the tests: an SMTP
//! server (`aiosmtpd`, scripts/smtp_sink.py, which parses each message with Python's own e-mail
//! package), a webhook receiver (axum) that checks signatures with its own HMAC and can fail or
//! hang, and a WebSocket client (tokio-tungstenite). The API, the worker and `bb` processes are
//! the real ones.

use std::collections::VecDeque;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::auth::jwt::{user_id_for_email, Verifier};
use api::config::{ApiConfig, NotifyConfig};
use api::http::{router, AppState};
use api::jobs::{Worker, WorkerConfig};
use api::model::NotificationType;
use api::services::notifications::{self, Notifier};
use axum::http::{Method, StatusCode};
use axum::Router;
use base64::Engine;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::{call, token, SECRET};

// ---------------------------------------------------------------- harness

/// One POST the receiver got.
#[derive(Debug, Clone)]
struct Got {
    id: String,
    timestamp: i64,
    signature: String,
    body: Vec<u8>,
    at: Instant,
}

/// What the receiver answers: a status (with `Retry-After`), or 0 to hold the request open forever.
type Answer = (u16, Option<&'static str>);

#[derive(Default)]
struct ReceiverState {
    script: VecDeque<Answer>,
    got: Vec<Got>,
}

/// A webhook receiver on loopback: answers from its script, then 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start(script: Vec<Answer>) -> Receiver {
        use axum::body::Bytes;
        use axum::http::HeaderMap;
        let state = Arc::new(Mutex::new(ReceiverState { script: script.into(), got: vec![] }));
        let s = state.clone();
        let app = Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let s = s.clone();
                async move {
                    let h = |k: &str| headers.get(k).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    let answer = {
                        let mut st = s.lock().unwrap();
                        st.got.push(Got { id: h("webhook-id"), timestamp: h("webhook-timestamp").parse().unwrap_or(0), signature: h("webhook-signature"), body: body.to_vec(), at: Instant::now() });
                        st.script.pop_front().unwrap_or((200, None))
                    };
                    if answer.0 == 0 {
                        std::future::pending::<()>().await;
                    }
                    let mut r = axum::response::Response::builder().status(answer.0);
                    if let Some(after) = answer.1 {
                        r = r.header("retry-after", after);
                    }
                    r.body(axum::body::Body::from("ok")).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state }
    }

    fn got(&self) -> Vec<Got> {
        self.state.lock().unwrap().got.clone()
    }
}

/// The Standard Webhooks check, written here from the specification (not the platform's code):
/// base64 HMAC-SHA256 of `id.timestamp.body` under the secret's decoded key.
fn signed_by(secret: &str, g: &Got) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut msg = format!("{}.{}.", g.id, g.timestamp).into_bytes();
    msg.extend_from_slice(&g.body);
    let tag = aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key), &msg);
    let want = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()));
    g.signature.split(' ').any(|s| s == want)
}

/// An SMTP server on loopback (scripts/smtp_sink.py over aiosmtpd).
struct SmtpSink {
    child: Child,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
    url: String,
}

impl SmtpSink {
    fn start(fail_first: u32) -> SmtpSink {
        Self::start_with(fail_first, None)
    }

    /// A sink that offers STARTTLS with `cert`/`key` and requires it before MAIL.
    fn start_with(fail_first: u32, tls: Option<(&std::path::Path, &std::path::Path)>) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("messages.jsonl");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let script = crate::crate_dir().join("../scripts/smtp_sink.py");
        let mut args = vec![script.display().to_string(), "--port".into(), port.to_string(), "--out".into(), out.display().to_string(), "--fail-first".into(), fail_first.to_string()];
        if let Some((cert, key)) = tls {
            args.extend(["--tls-cert".into(), cert.display().to_string(), "--tls-key".into(), key.display().to_string()]);
        }
        let mut child = Command::new(crate::python())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the SMTP sink starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("listening"), "smtp sink: {line:?}");
        SmtpSink { child, out, _dir: dir, url: format!("smtp://127.0.0.1:{port}") }
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings that make retries quick and accept loopback endpoints.
fn quick(smtp: Option<&SmtpSink>) -> NotifyConfig {
    NotifyConfig {
        smtp_url: smtp.map(|s| url::Url::parse(&s.url).unwrap()),
        mail_from: "Blockbuilders <alerts@blockbuilders.test>".into(),
        public_url: url::Url::parse("http://app.test/").unwrap(),
        allow_private: true,
        retry_base: Duration::from_millis(200),
        max_attempts: 5,
        ..NotifyConfig::default()
    }
}

/// The API and a worker in this process over the test's database.
struct Stack {
    app: Router,
    stop: tokio::sync::watch::Sender<bool>,
    worker: tokio::task::JoinHandle<anyhow::Result<()>>,
    _lake: tempfile::TempDir,
}

async fn stack(pool: &PgPool, config: NotifyConfig) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().display().to_string())).unwrap();
    let mut state = AppState::new(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), lake).await.unwrap();
    state.notifier = Arc::new(Notifier::new(config).unwrap());
    let app = router(state.clone(), &ApiConfig::default());
    let config = WorkerConfig { poll: Duration::from_millis(50), paper_scan: Duration::from_secs(3600), ..WorkerConfig::default() };
    let worker = Worker::new(pool.clone(), state.lake.clone(), config).with_notifier(state.notifier.clone());
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker.run(async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    Stack { app, stop, worker, _lake: dir }
}

impl Stack {
    async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.worker.await.unwrap().unwrap();
    }
}

/// Signs a user in (creating them) and returns their token and id.
async fn user(app: &Router, email: &str) -> (String, Uuid) {
    let tok = token(email, "builder", Some("premium"));
    let r = call(app, Method::GET, "/api/v1/me", Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (tok, user_id_for_email(email))
}

async fn notify(pool: &PgPool, user: Uuid, kind: NotificationType, payload: Value) -> Uuid {
    let mut c = pool.acquire().await.unwrap();
    notifications::insert(&mut c, user, kind, &payload).await.unwrap()
}

/// Polls `f` until it gives `Some`, failing after `secs`.
async fn until<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn deliveries(app: &Router, tok: &str, id: Uuid) -> Vec<Value> {
    let r = call(app, Method::GET, &format!("/api/v1/notifications/{id}/deliveries"), Some(tok), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body.as_array().unwrap().clone()
}

/// The delivery log once its last row is final.
async fn settled(app: &Router, tok: &str, id: Uuid, rows: usize) -> Vec<Value> {
    until("the delivery log", 30, || async {
        let d = deliveries(app, tok, id).await;
        (d.len() >= rows && d.last().is_some_and(|r| r["status"] != "retrying")).then_some(d)
    })
    .await
}

async fn jobs_for(pool: &PgPool, id: Uuid) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM jobs WHERE notification_id = $1").bind(id).fetch_one(pool).await.unwrap()
}

fn column<'a>(rows: &'a [Value], key: &str) -> Vec<&'a Value> {
    rows.iter().map(|r| &r[key]).collect()
}

// ---------------------------------------------------------------- webhooks

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn webhook_deliveries_are_signed_retried_under_one_id_and_logged(pool: PgPool) {
    let hook = Receiver::start(vec![(503, None), (429, Some("1"))]).await;
    let s = stack(&pool, quick(None)).await;
    let (tok, uid) = user(&s.app, "hooks@example.com").await;
    let r = call(&s.app, Method::POST, "/api/v1/webhooks", Some(&tok), Some(json!({"url": hook.url, "types": ["backtest_complete", "paper_trade_alert"]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&secret[6..]).unwrap().len(), 32);
    let listed = call(&s.app, Method::GET, "/api/v1/webhooks", Some(&tok), None).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(listed[0].get("secret").is_none(), "the secret is shown once: {listed}");
    assert_eq!(listed[0]["types"], json!(["backtest_complete", "paper_trade_alert"]));

    let run = Uuid::new_v4();
    let id = notify(&pool, uid, NotificationType::BacktestComplete, json!({"runId": run, "symbol": "BTCUSDT", "totalReturnPct": 4.2})).await;
    let got = until("three attempts", 30, || async {
        let g = hook.got();
        (g.len() >= 3).then_some(g)
    })
    .await;
    let log = settled(&s.app, &tok, id, 3).await;
    let now = chrono::Utc::now().timestamp();
    for g in &got {
        assert_eq!(g.id, format!("msg_{}", id.simple()), "every retry carries the same Webhook-Id");
        assert!(signed_by(&secret, g), "signature {} does not verify", g.signature);
        assert!((now - g.timestamp).abs() < 60, "timestamp {} is the attempt's", g.timestamp);
        let body: Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(body["type"], "backtest_complete");
        assert_eq!(body["data"]["id"], json!(id));
        assert_eq!(body["data"]["runId"], json!(run));
        assert_eq!(body["data"]["totalReturnPct"], 4.2);
    }
    assert!(got[2].at - got[1].at >= Duration::from_millis(950), "Retry-After: 1 was honoured ({:?})", got[2].at - got[1].at);
    assert_eq!(column(&log, "status"), [&json!("retrying"), &json!("retrying"), &json!("delivered")]);
    assert_eq!(column(&log, "responseCode"), [&json!(503), &json!(429), &json!(200)]);
    assert_eq!(column(&log, "attempt"), [&json!(1), &json!(2), &json!(3)]);
    assert!(log[0]["nextAttemptAt"].is_string() && log[2]["nextAttemptAt"].is_null(), "{log:?}");
    assert_eq!(log[0]["target"], json!(hook.url));
    assert_eq!(hook.got().len(), 3, "nothing more after the delivery");

    // a type the endpoint does not list queues nothing for it
    let other = notify(&pool, uid, NotificationType::BacktestFailed, json!({"runId": run, "error": "x"})).await;
    assert_eq!(jobs_for(&pool, other).await, 0);
    // someone else cannot read the log
    let (stranger, _) = user(&s.app, "stranger@example.com").await;
    let r = call(&s.app, Method::GET, &format!("/api/v1/notifications/{id}/deliveries"), Some(&stranger), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    s.shutdown().await;
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_webhook_that_does_not_answer_in_time_is_retried(pool: PgPool) {
    // the first POST never gets an answer
    let hook = Receiver::start(vec![(0, None)]).await;
    let s = stack(&pool, NotifyConfig { webhook_timeout: Duration::from_secs(1), ..quick(None) }).await;
    let (tok, uid) = user(&s.app, "slow@example.com").await;
    let r = call(&s.app, Method::POST, "/api/v1/webhooks", Some(&tok), Some(json!({"url": hook.url, "types": ["system"]}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = notify(&pool, uid, NotificationType::System, json!({"message": "are you there"})).await;
    let log = settled(&s.app, &tok, id, 2).await;
    assert_eq!(column(&log, "status"), [&json!("retrying"), &json!("delivered")], "{log:?}");
    assert_eq!(log[0]["error"], "timed out after 1.0 s");
    assert!(log[0]["responseCode"].is_null());
    let got = hook.got();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id);
    s.shutdown().await;
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn an_endpoint_that_keeps_failing_is_disabled_and_its_owner_told(pool: PgPool) {
    let broken = Receiver::start(vec![(500, None); 20]).await;
    let refusing = Receiver::start(vec![(400, None); 20]).await;
    let config = NotifyConfig { max_attempts: 2, disable_after: 2, retry_base: Duration::from_millis(100), ..quick(None) };
    let s = stack(&pool, config).await;
    let (tok, uid) = user(&s.app, "ops@example.com").await;
    let mut ids = vec![];
    for url in [&broken.url, &refusing.url] {
        let r = call(&s.app, Method::POST, "/api/v1/webhooks", Some(&tok), Some(json!({"url": url, "types": ["backtest_failed"]}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let first = notify(&pool, uid, NotificationType::BacktestFailed, json!({"error": "boom"})).await;
    let log = settled(&s.app, &tok, first, 3).await;
    let of = |url: &str| log.iter().filter(|r| r["target"] == url).map(|r| (r["attempt"].as_i64().unwrap(), r["status"].as_str().unwrap().to_string(), r["responseCode"].as_i64())).collect::<Vec<_>>();
    assert_eq!(of(&broken.url), [(1, "retrying".into(), Some(500)), (2, "failed".into(), Some(500))], "a 5xx is retried up to the limit");
    assert_eq!(of(&refusing.url), [(1, "failed".into(), Some(400))], "a 4xx other than 408/429 is not retried");
    let second = notify(&pool, uid, NotificationType::BacktestFailed, json!({"error": "boom again"})).await;
    settled(&s.app, &tok, second, 3).await;
    let hooks = until("both endpoints disabled", 30, || async {
        let l = call(&s.app, Method::GET, "/api/v1/webhooks", Some(&tok), None).await.body;
        l.as_array().unwrap().iter().all(|w| w["enabled"] == false).then_some(l)
    })
    .await;
    for w in hooks.as_array().unwrap() {
        assert_eq!(w["consecutiveFailures"], 2, "{w}");
        assert!(w["disabledReason"].as_str().unwrap().contains("2 deliveries in a row failed"), "{w}");
    }
    // the owner is told in-app, once per endpoint
    let mine = call(&s.app, Method::GET, "/api/v1/notifications?limit=100", Some(&tok), None).await.body;
    let told: Vec<&Value> = mine["items"].as_array().unwrap().iter().filter(|n| n["type"] == "system").collect();
    assert_eq!(told.len(), 2, "{mine}");
    assert!(told.iter().all(|n| n["payload"]["event"] == "webhook_disabled"));
    let mut urls: Vec<&str> = told.iter().map(|n| n["payload"]["url"].as_str().unwrap()).collect();
    urls.sort();
    let mut want = vec![broken.url.as_str(), refusing.url.as_str()];
    want.sort();
    assert_eq!(urls, want);
    assert_eq!((broken.got().len(), refusing.got().len()), (4, 2));
    // disabled endpoints get nothing more; turned back on, they do
    let third = notify(&pool, uid, NotificationType::BacktestFailed, json!({"error": "third"})).await;
    assert_eq!(jobs_for(&pool, third).await, 0);
    let r = call(&s.app, Method::PATCH, &format!("/api/v1/webhooks/{}", ids[0]), Some(&tok), Some(json!({"enabled": true}))).await;
    assert_eq!((r.status, &r.body["enabled"], &r.body["consecutiveFailures"]), (StatusCode::OK, &json!(true), &json!(0)), "{}", r.body);
    let fourth = notify(&pool, uid, NotificationType::BacktestFailed, json!({"error": "fourth"})).await;
    assert_eq!(jobs_for(&pool, fourth).await, 1);
    let r = call(&s.app, Method::DELETE, &format!("/api/v1/webhooks/{}", ids[1]), Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(&s.app, Method::DELETE, &format!("/api/v1/webhooks/{}", ids[1]), Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    s.shutdown().await;
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn webhook_urls_on_private_addresses_are_refused_at_registration_and_at_delivery(pool: PgPool) {
    let hook = Receiver::start(vec![]).await;
    let s = stack(&pool, NotifyConfig { retry_base: Duration::from_millis(100), ..NotifyConfig::default() }).await;
    let (tok, uid) = user(&s.app, "ssrf@example.com").await;
    for (url, types, field, says) in [
        (hook.url.as_str(), json!(["system"]), "url", "loopback"),
        ("http://10.0.0.5/hook", json!(["system"]), "url", "private"),
        ("http://169.254.169.254/latest/meta-data", json!(["system"]), "url", "link-local"),
        ("http://[fd00::1]/hook", json!(["system"]), "url", "unique local"),
        ("http://localhost:9/hook", json!(["system"]), "url", "loopback"),
        ("ftp://example.com/hook", json!(["system"]), "url", "http or https"),
        ("not a url", json!(["system"]), "url", "not a URL"),
        ("https://93.184.216.34/hook", json!([]), "types", "at least one"),
        ("https://93.184.216.34/hook", json!(["system", "nope"]), "types", "types[1]"),
    ] {
        let r = call(&s.app, Method::POST, "/api/v1/webhooks", Some(&tok), Some(json!({"url": url, "types": types}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], field, "{url}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(says), "{url}: {}", r.body);
    }
    assert_eq!(call(&s.app, Method::GET, "/api/v1/webhooks", Some(&tok), None).await.body, json!([]), "nothing stored");
    // an endpoint stored while private addresses were allowed is refused when delivering
    sqlx::query("INSERT INTO webhooks (user_id, url, types, secret) VALUES ($1, $2, '{system}', $3)")
        .bind(uid)
        .bind(&hook.url)
        .bind(notifications::signing::new_secret())
        .execute(&pool)
        .await
        .unwrap();
    let id = notify(&pool, uid, NotificationType::System, json!({"message": "hello"})).await;
    let log = settled(&s.app, &tok, id, 1).await;
    assert_eq!(log.len(), 1, "a refusal is not retried: {log:?}");
    assert_eq!(log[0]["status"], "failed");
    assert!(log[0]["error"].as_str().unwrap().starts_with("refused: loopback"), "{log:?}");
    assert!(hook.got().is_empty(), "nothing reached the loopback receiver");
    s.shutdown().await;
}

// ---------------------------------------------------------------- e-mail

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn alerts_are_e_mailed_with_both_bodies_and_an_unsubscribe_link_that_works_signed_out(pool: PgPool) {
    // the server refuses the first message with a 451: the worker retries it
    let smtp = SmtpSink::start(1);
    let s = stack(&pool, quick(Some(&smtp))).await;
    let (tok, uid) = user(&s.app, "trader@example.com").await;
    let prefs = call(&s.app, Method::GET, "/api/v1/notification-preferences", Some(&tok), None).await.body;
    assert_eq!(prefs["emailAvailable"], true);
    assert_eq!(prefs["email"], "trader@example.com");
    let run = Uuid::new_v4();
    let message = "Drawdown 12.5 % passed the 10 % threshold";
    let id = notify(&pool, uid, NotificationType::PaperTradeAlert, json!({"runId": run, "rule": "max_drawdown", "threshold": 10.0, "message": message})).await;
    let log = settled(&s.app, &tok, id, 2).await;
    assert_eq!(column(&log, "status"), [&json!("retrying"), &json!("delivered")], "{log:?}");
    assert_eq!(column(&log, "responseCode"), [&json!(451), &json!(250)]);
    assert_eq!(log[1]["channel"], "email");
    assert_eq!(log[1]["target"], "trader@example.com");
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    let m = &mail[0];
    assert_eq!(m["rcptTos"], json!(["trader@example.com"]));
    assert_eq!(m["mailFrom"], "alerts@blockbuilders.test");
    let h = &m["headers"];
    assert_eq!(h["From"], "Blockbuilders <alerts@blockbuilders.test>");
    assert_eq!(h["To"], "trader@example.com");
    assert_eq!(h["Subject"], format!("Paper-trading alert: {message}"));
    assert_eq!(h["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    assert_eq!(m["contentType"], "multipart/alternative");
    let link = format!("http://app.test/paper-trades/{run}");
    let text = m["text"].as_str().unwrap();
    let html = m["html"].as_str().unwrap();
    assert!(text.contains(message) && text.contains(&link) && text.contains("Rule: max_drawdown (threshold 10.0)"), "{text}");
    assert!(html.contains(message) && html.contains(&format!("href=\"{link}\"")), "{html}");
    let unsubscribe = h["List-Unsubscribe"].as_str().unwrap().trim_matches(|c| c == '<' || c == '>').to_string();
    assert!(unsubscribe.starts_with("http://app.test/api/v1/notifications/unsubscribe?token="), "{unsubscribe}");
    assert!(text.contains(&unsubscribe) && html.contains(&format!("href=\"{unsubscribe}\"")), "both bodies carry the link");

    // the link works without signing in, and only with its own signature
    let path = unsubscribe.strip_prefix("http://app.test").unwrap();
    let forged = path.replace("paper_trade_alert", "system");
    let r = call(&s.app, Method::GET, &forged, None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = call(&s.app, Method::GET, path, None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.as_str().unwrap().contains("You will no longer get e-mails about 'paper_trade_alert' notifications"), "{}", r.body);
    let prefs = call(&s.app, Method::GET, "/api/v1/notification-preferences", Some(&tok), None).await.body;
    assert_eq!(prefs["types"]["paper_trade_alert"], json!({"inApp": true, "email": false, "webhook": true}));
    assert_eq!(prefs["types"]["governance_task"]["email"], true, "other types keep their e-mail");
    // the one-click POST of RFC 8058 does the same
    let r = call(&s.app, Method::POST, path, None, None).await;
    assert_eq!((r.status, &r.body["unsubscribed"]), (StatusCode::OK, &json!(true)));
    let again = notify(&pool, uid, NotificationType::PaperTradeAlert, json!({"runId": run, "message": "another"})).await;
    assert_eq!(jobs_for(&pool, again).await, 0, "no e-mail once unsubscribed");
    // backtest results are not e-mailed by default
    let quiet = notify(&pool, uid, NotificationType::BacktestComplete, json!({"runId": run})).await;
    assert_eq!(jobs_for(&pool, quiet).await, 0);
    s.shutdown().await;
    assert_eq!(smtp.messages().len(), 1);
}

/// A private CA and a certificate for 127.0.0.1 signed by it (the system's openssl): (ca, cert, key).
fn certificates(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Blockbuilders test CA"]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "smtp.key", "-out", "smtp.csr", "-subj", "/CN=127.0.0.1"]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    run(&["x509", "-req", "-in", "smtp.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "smtp.pem", "-days", "2", "-extfile", "ext.cnf"]);
    (dir.join("ca.pem"), dir.join("smtp.pem"), dir.join("smtp.key"))
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn e_mail_goes_over_starttls_when_the_server_offers_it(pool: PgPool) {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(certs.path());
    let smtp = SmtpSink::start_with(0, Some((&cert, &key)));
    // without trusting the server's CA the handshake fails, and the log says so
    let s = stack(&pool, NotifyConfig { max_attempts: 1, ..quick(Some(&smtp)) }).await;
    let (tok, uid) = user(&s.app, "tls@example.com").await;
    let id = notify(&pool, uid, NotificationType::PaperTradeAlert, json!({"message": "untrusted"})).await;
    let log = settled(&s.app, &tok, id, 1).await;
    assert_eq!(log[0]["status"], "failed", "{log:?}");
    s.shutdown().await;
    assert!(smtp.messages().is_empty());
    // trusting it (BB_SMTP_CA_FILE), the message goes over TLS
    let s = stack(&pool, NotifyConfig { smtp_ca_file: Some(ca), ..quick(Some(&smtp)) }).await;
    let id = notify(&pool, uid, NotificationType::PaperTradeAlert, json!({"message": "over tls"})).await;
    let log = settled(&s.app, &tok, id, 1).await;
    assert_eq!(log.last().unwrap()["status"], "delivered", "{log:?}");
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["tls"], true, "the session was upgraded with STARTTLS");
    assert_eq!(mail[0]["headers"]["Subject"], "Paper-trading alert: over tls");
    s.shutdown().await;
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn preferences_choose_the_channels_and_say_what_is_wrong(pool: PgPool) {
    let hook = Receiver::start(vec![]).await;
    let s = stack(&pool, quick(None)).await;
    let (tok, uid) = user(&s.app, "prefs@example.com").await;
    let p = call(&s.app, Method::GET, "/api/v1/notification-preferences", Some(&tok), None).await.body;
    assert_eq!(p["emailDigest"], false);
    assert_eq!(p["emailAvailable"], false, "no SMTP server configured");
    for (kind, email) in [("backtest_complete", false), ("backtest_failed", false), ("paper_trade_alert", true), ("governance_task", true), ("system", false)] {
        assert_eq!(p["types"][kind], json!({"inApp": true, "email": email, "webhook": true}), "{kind}");
    }
    let r = call(&s.app, Method::PUT, "/api/v1/notification-preferences", Some(&tok), Some(json!({"types": {"backtest_complete": {"email": true, "webhook": false}}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["types"]["backtest_complete"], json!({"inApp": true, "email": true, "webhook": false}));
    assert_eq!(r.body["types"]["paper_trade_alert"]["email"], true, "types left out stay");
    for (body, field) in [
        (json!({"types": {"nope": {"email": true}}}), "types.nope"),
        (json!({"types": {"system": {"inApp": false}}}), "types.system.inApp"),
    ] {
        let r = call(&s.app, Method::PUT, "/api/v1/notification-preferences", Some(&tok), Some(body)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["error"]["details"]["field"], field);
    }
    let r = call(&s.app, Method::PUT, "/api/v1/notification-preferences", Some(&tok), Some(json!({"colour": "red"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // what the preferences queue: e-mail on, webhook off for backtest results
    let r = call(&s.app, Method::POST, "/api/v1/webhooks", Some(&tok), Some(json!({"url": hook.url, "types": ["backtest_complete", "system"]}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let channels = |id: Uuid| {
        let pool = pool.clone();
        async move {
            let c: Vec<String> = sqlx::query_scalar("SELECT payload ->> 'channel' FROM jobs WHERE notification_id = $1 ORDER BY 1").bind(id).fetch_all(&pool).await.unwrap();
            c
        }
    };
    let a = notify(&pool, uid, NotificationType::BacktestComplete, json!({})).await;
    assert_eq!(channels(a).await, ["email"]);
    let b = notify(&pool, uid, NotificationType::System, json!({"message": "m"})).await;
    assert_eq!(channels(b).await, ["webhook"]);
    let c = notify(&pool, uid, NotificationType::GovernanceTask, json!({"task": "takedown", "message": "m"})).await;
    assert_eq!(channels(c).await, ["email"]);
    // e-mail is off on this server: the attempt says so
    let log = settled(&s.app, &tok, c, 1).await;
    assert_eq!((log[0]["status"].as_str(), log[0]["error"].as_str()), (Some("skipped"), Some("e-mail is off on this server (BB_SMTP_URL is not set)")));
    s.shutdown().await;
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn the_daily_digest_gathers_a_days_e_mails_into_one(pool: PgPool) {
    let smtp = SmtpSink::start(0);
    let s = stack(&pool, quick(Some(&smtp))).await;
    let (tok, uid) = user(&s.app, "digest@example.com").await;
    let r = call(&s.app, Method::PUT, "/api/v1/notification-preferences", Some(&tok), Some(json!({"emailDigest": true}))).await;
    assert_eq!(r.body["emailDigest"], true, "{}", r.body);
    let run = Uuid::new_v4();
    let a = notify(&pool, uid, NotificationType::PaperTradeAlert, json!({"runId": run, "message": "first alert"})).await;
    let b = notify(&pool, uid, NotificationType::PaperTradeAlert, json!({"runId": run, "message": "second alert"})).await;
    let quiet = notify(&pool, uid, NotificationType::BacktestComplete, json!({"runId": run})).await;
    for id in [a, b, quiet] {
        assert_eq!(jobs_for(&pool, id).await, 0, "with the digest on nothing is e-mailed at once");
    }
    assert_eq!(notifications::digest::enqueue_due(&pool).await.unwrap(), 0, "the digest's day started when it was turned on");
    sqlx::query("UPDATE users SET digest_sent_at = now() - interval '25 hours' WHERE id = $1").bind(uid).execute(&pool).await.unwrap();
    sqlx::query("UPDATE notifications SET created_at = now() - interval '1 hour' WHERE user_id = $1").bind(uid).execute(&pool).await.unwrap();
    // the worker's housekeeping looks for due digests too: whoever queues it, there is one
    notifications::digest::enqueue_due(&pool).await.unwrap();
    notifications::digest::enqueue_due(&pool).await.unwrap();
    let digests: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'notify' AND payload ? 'digest'").fetch_one(&pool).await.unwrap();
    assert_eq!(digests, 1, "one digest per user");
    let mail = until("the digest", 30, || async {
        let m = smtp.messages();
        (!m.is_empty()).then_some(m)
    })
    .await;
    assert_eq!(mail[0]["headers"]["Subject"], "Your Blockbuilders digest: 2 notifications");
    let text = mail[0]["text"].as_str().unwrap();
    assert!(text.contains("Paper-trading alert: first alert") && text.contains("Paper-trading alert: second alert"), "{text}");
    assert!(!text.contains("Backtest finished"), "types without e-mail stay out: {text}");
    for id in [a, b] {
        let log = settled(&s.app, &tok, id, 1).await;
        assert_eq!((log[0]["status"].as_str(), log[0]["channel"].as_str()), (Some("delivered"), Some("email")));
    }
    assert!(deliveries(&s.app, &tok, quiet).await.is_empty());
    until("the digest mark", 10, || async {
        let since: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT digest_sent_at FROM users WHERE id = $1").bind(uid).fetch_one(&pool).await.unwrap();
        (since > chrono::Utc::now() - chrono::Duration::hours(2)).then_some(())
    })
    .await;
    assert_eq!(notifications::digest::enqueue_due(&pool).await.unwrap(), 0, "sent: the next is due in a day");
    s.shutdown().await;
}

// ---------------------------------------------------------------- live push

/// The next JSON text message, within a second.
async fn next_json<S>(ws: &mut S) -> Value
where
    S: futures::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(1), ws.next()).await.expect("a message within a second").unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn the_websocket_pushes_a_new_notification_within_a_second(pool: PgPool) {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let s = stack(&pool, quick(None)).await;
    let (tok, uid) = user(&s.app, "live@example.com").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = s.app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let next = next_json;
    // no token: refused before the upgrade
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/ws"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v1/ws?access_token={tok}")).await.unwrap();
    assert_eq!(next(&mut ws).await, json!({"type": "ready", "unread": 0}));
    // the bearer header works too
    let mut req = format!("ws://{addr}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {tok}").parse().unwrap());
    let (mut other, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(next(&mut other).await["type"], "ready");

    let id = notify(&pool, uid, NotificationType::System, json!({"message": "hello"})).await;
    let m = next(&mut ws).await;
    assert_eq!((m["type"].as_str(), m["unread"].as_i64()), (Some("notification"), Some(1)), "{m}");
    assert_eq!(m["notification"]["id"], json!(id));
    assert_eq!(m["notification"]["payload"]["message"], "hello");
    assert_eq!(next(&mut other).await["notification"]["id"], json!(id));
    // someone else's notification is not pushed here
    let (_, stranger) = user(&s.app, "someone@example.com").await;
    notify(&pool, stranger, NotificationType::System, json!({"message": "not yours"})).await;
    ws.send(Message::Text("ping".into())).await.unwrap();
    assert_eq!(next(&mut ws).await, json!({"type": "pong"}), "the next message is the pong, not the stranger's notification");
    // reading them (here: another client) updates the count
    let r = call(&s.app, Method::POST, "/api/v1/notifications/read-all", Some(&tok), None).await;
    assert_eq!(r.body["marked"], 1);
    assert_eq!(next(&mut ws).await, json!({"type": "unread", "unread": 0}));
    ws.close(None).await.unwrap();
    s.shutdown().await;
}

// ---------------------------------------------------------------- processes

/// The URL of the test's own database.
async fn url_of(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.unwrap();
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(&format!("/{db}"));
    url.to_string()
}

fn spawn_worker(url: &str, lake: &std::path::Path, id: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bb"))
        .args(["worker", "--lease-secs", "1", "--poll-secs", "0.1", "--worker-id", id])
        .env("DATABASE_URL", url)
        .env("BB_LAKE_URI", lake)
        .env("BB_WEBHOOK_ALLOW_PRIVATE", "1")
        .env("BB_NOTIFY_RETRY_SECS", "0.2")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_worker_killed_mid_delivery_loses_nothing_and_the_retry_keeps_the_webhook_id(pool: PgPool) {
    // the first POST is held open until the worker making it is killed
    let hook = Receiver::start(vec![(0, None)]).await;
    let dir = tempfile::tempdir().unwrap();
    let state_lake = lake::Lake::new(lake::LakeConfig::new(dir.path().display().to_string())).unwrap();
    let state = AppState::new(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), state_lake).await.unwrap();
    let app = router(state, &ApiConfig::default());
    let (tok, uid) = user(&app, "crash@example.com").await;
    let mut c = pool.acquire().await.unwrap();
    let url = url::Url::parse(&hook.url).unwrap();
    let secret = notifications::webhooks::insert(&mut c, uid, &url, &[NotificationType::BacktestComplete]).await.unwrap().unwrap().secret;
    drop(c);
    let id = notify(&pool, uid, NotificationType::BacktestComplete, json!({"runId": Uuid::new_v4()})).await;
    let db = url_of(&pool).await;

    let mut doomed = spawn_worker(&db, dir.path(), "doomed");
    until("the first POST", 60, || async { (!hook.got().is_empty()).then_some(()) }).await;
    doomed.kill().unwrap(); // SIGKILL, mid-request
    doomed.wait().unwrap();
    assert!(deliveries(&app, &tok, id).await.is_empty(), "the killed attempt logged nothing");
    let mut heir = spawn_worker(&db, dir.path(), "heir");
    let log = settled(&app, &tok, id, 1).await;
    // give a duplicate the time to show up, were there one
    tokio::time::sleep(Duration::from_millis(1500)).await;
    heir.kill().unwrap();
    heir.wait().unwrap();
    let got = hook.got();
    assert_eq!(got.len(), 2, "at least once: the taken-over job sent again, once");
    assert_eq!(got[0].id, got[1].id, "the receiver can de-duplicate by Webhook-Id");
    assert!(got.iter().all(|g| signed_by(&secret, g)));
    assert_eq!(column(&log, "status"), [&json!("delivered")]);
    assert_eq!(log[0]["attempt"], 2);
    let (status, worker): (String, String) = sqlx::query_as("SELECT status, worker FROM jobs WHERE notification_id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), worker.as_str()), ("succeeded", "heir"));
}

#[test]
fn bb_serve_delivers_a_finished_backtest_by_webhook_e_mail_and_websocket() {
    use futures::StreamExt;
    let db = crate::FreshDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let sample = crate::crate_dir().join("../sample/ETH_USDT-1h.json.gz");
    assert!(crate::bb(dir.path(), &["ingest", sample.to_str().unwrap()]).status.success());
    let smtp = SmtpSink::start(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hook = rt.block_on(Receiver::start(vec![]));
    let served = crate::Served::start(
        dir.path(),
        &[],
        &[
            ("DATABASE_URL", &db.url),
            ("BB_JWT_SECRET", SECRET),
            ("BB_SMTP_URL", &smtp.url),
            ("BB_MAIL_FROM", "Blockbuilders <notify@blockbuilders.test>"),
            ("BB_PUBLIC_URL", "https://app.blockbuilders.test"),
            ("BB_WEBHOOK_ALLOW_PRIVATE", "1"),
            ("BB_LOG", "warn"),
        ],
        &[],
    );
    let announced = &served.announced;
    assert!(announced.iter().any(|l| l.contains(&format!("e-mail via SMTP {}", smtp.url.trim_start_matches("smtp://")))), "{announced:?}");
    let host = served.host().to_string();
    let base = format!("http://{host}");
    let tok = token("e2e-notify@example.com", "builder", Some("premium"));
    let client = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder, body: Option<Value>| crate::send(&rt, &tok, req, body);
    let (status, _) = send(client.get(format!("{base}/api/v1/me")), None);
    assert_eq!(status, 200);
    let (status, w) = send(client.post(format!("{base}/api/v1/webhooks")), Some(json!({"url": hook.url, "types": ["backtest_complete"]})));
    assert_eq!(status, 201, "{w}");
    let secret = w["secret"].as_str().unwrap().to_string();
    let (status, p) = send(client.put(format!("{base}/api/v1/notification-preferences")), Some(json!({"types": {"backtest_complete": {"email": true}}})));
    assert_eq!((status, &p["emailAvailable"]), (200, &json!(true)), "{p}");
    let (mut ws, _) = rt.block_on(tokio_tungstenite::connect_async(format!("ws://{host}/api/v1/ws?access_token={tok}"))).unwrap();

    let graph: Value = serde_json::from_str(include_str!("../../../sample/sma_cross.json")).unwrap();
    let (status, s) = send(client.post(format!("{base}/api/v1/strategies")), Some(json!({"title": "notify e2e", "graphJson": graph})));
    assert_eq!(status, 201, "{s}");
    let (_, versions) = send(client.get(format!("{base}/api/v1/strategies/{}/versions", s["id"].as_str().unwrap())), None);
    let body = json!({"strategyVersionId": versions["items"][0]["id"], "exchange": "binance", "symbol": "ETHUSDT",
        "timeframe": "1h", "from": "2022-03-17T03:00:00Z", "to": "2022-07-20T03:00:00Z"});
    let (status, run) = send(client.post(format!("{base}/api/v1/backtests")), Some(body));
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();

    // over the WebSocket: the run's progress, then its notification
    let seen = rt.block_on(async {
        let mut seen = vec![];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, ws.next()).await {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                let done = v["type"] == "notification";
                seen.push(v);
                if done {
                    break;
                }
            }
        }
        seen
    });
    let last = seen.last().unwrap_or_else(|| panic!("no events: {seen:?}"));
    assert_eq!((last["type"].as_str(), last["notification"]["type"].as_str()), (Some("notification"), Some("backtest_complete")), "{seen:?}");
    assert_eq!(last["notification"]["payload"]["runId"], json!(run_id));
    assert!(seen.iter().any(|v| v["type"] == "run" && v["run"]["runId"] == json!(run_id) && v["run"]["status"] == "succeeded"), "{seen:?}");
    let notification = last["notification"]["id"].as_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    while (hook.got().is_empty() || smtp.messages().is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = hook.got();
    assert_eq!(got.len(), 1, "one webhook delivery");
    assert!(signed_by(&secret, &got[0]));
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["runId"].as_str()), (Some("backtest_complete"), Some(run_id.as_str())));
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "one e-mail");
    assert_eq!(mail[0]["rcptTos"], json!(["e2e-notify@example.com"]));
    assert!(mail[0]["headers"]["Subject"].as_str().unwrap().starts_with("Backtest finished: ETHUSDT 1h"), "{}", mail[0]["headers"]);
    assert!(mail[0]["text"].as_str().unwrap().contains(&format!("https://app.blockbuilders.test/backtests/{run_id}")));
    let log = rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = client.get(format!("{base}/api/v1/notifications/{notification}/deliveries")).bearer_auth(&tok).send().await.unwrap();
            let log: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            if log.as_array().unwrap().len() >= 2 || Instant::now() > deadline {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut channels: Vec<(&str, &str)> = log.as_array().unwrap().iter().map(|r| (r["channel"].as_str().unwrap(), r["status"].as_str().unwrap())).collect();
    channels.sort();
    assert_eq!(channels, [("email", "delivered"), ("webhook", "delivered")]);
}
