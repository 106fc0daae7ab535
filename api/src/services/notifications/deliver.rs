//! Delivering notifications: the `Notifier` (HTTP client behind the SSRF guard, SMTP client, e-mail
//! templates) and the work of one `notify` job: a webhook POST signed the Standard Webhooks way
//! (the same `Webhook-Id` on every retry), an e-mail, or a user's daily digest. Each attempt is
//! logged; a failed one says when it is retried (exponential backoff with jitter, or the server's
//! `Retry-After`), and a delivery out of attempts counts against its endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::deliveries::{self, Attempt};
use super::email::{Frame, Mailer, Templates};
use super::inbox::Notification;
use super::signing::{self, Unsubscribe};
use super::{ssrf, webhooks};
use crate::config::NotifyConfig;
use crate::model::{Channel, DeliveryStatus, NotificationType};

/// What delivers notifications: configuration and clients, built once per process.
pub struct Notifier {
    pub config: NotifyConfig,
    http: reqwest::Client,
    mailer: Option<Mailer>,
    templates: Templates,
    unsubscribe_key: tokio::sync::OnceCell<Vec<u8>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("config", &self.config).field("mailer", &self.mailer).finish()
    }
}

impl Default for Notifier {
    /// E-mail off, private webhook addresses refused.
    fn default() -> Self {
        Notifier::new(NotifyConfig::default()).expect("the default notifier builds")
    }
}

impl Notifier {
    pub fn new(config: NotifyConfig) -> Result<Notifier, String> {
        let mailer = config.smtp_url.as_ref().map(|u| Mailer::new(u, &config.mail_from, config.smtp_ca_file.as_deref())).transpose()?;
        let mut http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .connect_timeout(config.webhook_timeout.min(Duration::from_secs(5)))
            // a redirect could lead anywhere, a private address included: not followed
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Blockbuilders-Webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(config.concurrency.max(1));
        if !config.allow_private {
            http = http.dns_resolver(Arc::new(ssrf::PublicOnly));
        }
        let http = http.build().map_err(|e| format!("the webhook HTTP client: {e}"))?;
        Ok(Notifier { config, http, mailer, templates: Templates::default(), unsubscribe_key: Default::default() })
    }

    /// Whether e-mail is sent at all (an SMTP server is configured).
    pub fn email_available(&self) -> bool {
        self.mailer.is_some()
    }

    /// Where e-mail goes out, for the start-up message.
    pub fn describe(&self) -> String {
        match &self.mailer {
            Some(m) => format!("e-mail via SMTP {} from {}", m.server, self.config.mail_from),
            None => "e-mail is off (set BB_SMTP_URL to send it)".into(),
        }
    }

    async fn unsubscribe_key(&self, pool: &PgPool) -> sqlx::Result<&[u8]> {
        self.unsubscribe_key
            .get_or_try_init(|| async {
                let mut c = pool.acquire().await?;
                signing::app_key(&mut c, signing::UNSUBSCRIBE_KEY).await
            })
            .await
            .map(|k| k.as_slice())
    }

    /// The unsubscribe link of `u`.
    pub async fn unsubscribe_url(&self, pool: &PgPool, u: Unsubscribe) -> sqlx::Result<String> {
        let token = signing::unsubscribe_token(self.unsubscribe_key(pool).await?, u);
        Ok(self.url(&format!("api/v1/notifications/unsubscribe?token={token}")))
    }

    /// An address under the public URL.
    pub fn url(&self, path: &str) -> String {
        let base = self.config.public_url.as_str().trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }

    /// The page in the app a notification is about.
    pub fn app_link(&self, kind: NotificationType, payload: &Value) -> String {
        let id = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
        let path = match kind {
            NotificationType::BacktestComplete | NotificationType::BacktestFailed => id("runId").map(|r| format!("backtests/{r}")),
            NotificationType::PaperTradeAlert => id("runId").map(|r| format!("paper-trades/{r}")),
            NotificationType::GovernanceTask if id("task").as_deref() == Some("risk_review") => Some("admin/review".into()),
            NotificationType::GovernanceTask | NotificationType::TemplateShared => id("templateId").map(|t| format!("templates/{t}")),
            NotificationType::System => None,
        };
        self.url(&path.unwrap_or_else(|| "notifications".into()))
    }

    /// The backoff before attempt `attempt + 1`: `retry_base` × 2^(attempt − 1), ±20 % jitter, at most an hour.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exp = self.config.retry_base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).clamp(0, 20) as u32));
        let mut r = [0u8; 2];
        let _ = aws_lc_rs::rand::fill(&mut r);
        let jitter = 0.8 + 0.4 * (u16::from_le_bytes(r) as f64 / u16::MAX as f64);
        exp.min(Duration::from_secs(3600)).mul_f64(jitter)
    }
}

/// What a job's attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Delivered, failed for good, or skipped: the job is done.
    Done,
    /// Try again after this long.
    RetryIn(Duration, String),
}

/// The JSON a webhook receives: Standard Webhooks' `{type, timestamp, data}`.
pub fn webhook_body(note: &Notification) -> Value {
    let mut data = json!({"id": note.id});
    if let (Some(d), Some(p)) = (data.as_object_mut(), note.payload.as_object()) {
        for (k, v) in p {
            d.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    json!({"type": note.kind, "timestamp": note.created_at, "data": data})
}

/// The `Webhook-Id` of a notification: the same on every attempt and every endpoint.
pub fn message_id(note: Uuid) -> String {
    format!("msg_{}", note.simple())
}

/// How an attempt ended, before it is logged.
struct Tried {
    /// `None`: delivered. `Some((error, retryable, retry_after))` otherwise.
    failure: Option<(String, bool, Option<Duration>)>,
    code: Option<i32>,
    ms: i32,
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    Some((at.with_timezone(&chrono::Utc) - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

async fn post(n: &Notifier, url: &str, id: &str, secret: &str, body: Vec<u8>) -> Tried {
    let start = Instant::now();
    let ms = |s: Instant| s.elapsed().as_millis().min(i32::MAX as u128) as i32;
    if let Err(e) = ssrf::check_url(url, n.config.allow_private) {
        return Tried { failure: Some((format!("refused: {e}"), false, None)), code: None, ms: 0 };
    }
    let ts = chrono::Utc::now().timestamp();
    let sig = match signing::sign(secret, id, ts, &body) {
        Ok(s) => s,
        Err(e) => return Tried { failure: Some((e, false, None)), code: None, ms: 0 },
    };
    let sent = n
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(mut r) => {
            let status = r.status();
            let code = Some(status.as_u16() as i32);
            if status.is_success() {
                return Tried { failure: None, code, ms: ms(start) };
            }
            let after = retry_after(r.headers());
            let retryable = status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408;
            let mut text = String::new();
            if let Ok(Some(chunk)) = r.chunk().await {
                text = String::from_utf8_lossy(&chunk[..chunk.len().min(200)]).trim().to_string();
            }
            let error = if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") };
            Tried { failure: Some((error, retryable, if status.as_u16() == 429 || status.as_u16() == 503 { after } else { None })), code, ms: ms(start) }
        }
        Err(e) => {
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(s) = source {
                if let Some(refused) = s.downcast_ref::<ssrf::Refused>() {
                    return Tried { failure: Some((format!("refused: {refused}"), false, None)), code: None, ms: ms(start) };
                }
                source = s.source();
            }
            let error = if e.is_timeout() {
                format!("timed out after {:.1} s", n.config.webhook_timeout.as_secs_f64())
            } else {
                let mut m = e.to_string();
                let mut s = std::error::Error::source(&e);
                while let Some(inner) = s {
                    m = format!("{m}: {inner}");
                    s = inner.source();
                }
                m
            };
            Tried { failure: Some((error, true, None)), code: None, ms: ms(start) }
        }
    }
}

pub(super) async fn webhook(pool: &PgPool, n: &Notifier, user: Uuid, note: &Notification, hook: Uuid, attempt: i32) -> anyhow::Result<Next> {
    let mut log = Attempt { notification: note.id, channel: Channel::Webhook, webhook: Some(hook), target: "", attempt, status: DeliveryStatus::Skipped,
        response_code: None, error: None, duration_ms: None, retry_in: None };
    let ep = match webhooks::endpoint(pool, hook).await? {
        Some(ep) if ep.user_id == user => ep,
        _ => {
            log.webhook = None;
            log.target = "(deleted webhook)";
            log.error = Some("the webhook was deleted before delivery".into());
            deliveries::record(pool, &log).await?;
            return Ok(Next::Done);
        }
    };
    log.target = &ep.url;
    if !ep.enabled {
        log.error = Some("the endpoint is disabled".into());
        deliveries::record(pool, &log).await?;
        return Ok(Next::Done);
    }
    let body = serde_json::to_vec(&webhook_body(note))?;
    let tried = post(n, &ep.url, &message_id(note.id), &ep.secret, body).await;
    log.response_code = tried.code;
    log.duration_ms = Some(tried.ms);
    match tried.failure {
        None => {
            log.status = DeliveryStatus::Delivered;
            let mut tx = pool.begin().await?;
            deliveries::record(&mut *tx, &log).await?;
            webhooks::succeeded(&mut *tx, hook).await?;
            tx.commit().await?;
            Ok(Next::Done)
        }
        Some((error, true, after)) if attempt < n.config.max_attempts => {
            let wait = after.unwrap_or_else(|| n.backoff(attempt)).min(Duration::from_secs(6 * 3600));
            log.status = DeliveryStatus::Retrying;
            log.error = Some(error.clone());
            log.retry_in = Some(wait);
            deliveries::record(pool, &log).await?;
            Ok(Next::RetryIn(wait, error))
        }
        Some((error, retryable, _)) => {
            let error = if retryable { format!("{error} (attempt {attempt} of {}, giving up)", n.config.max_attempts) } else { error };
            log.status = DeliveryStatus::Failed;
            log.error = Some(error.clone());
            let mut tx = pool.begin().await?;
            deliveries::record(&mut *tx, &log).await?;
            webhooks::failed(&mut tx, hook, n.config.disable_after, &error).await?;
            tx.commit().await?;
            Ok(Next::Done)
        }
    }
}

/// The frame of an e-mail to `user` about `kind` (None: a digest).
pub async fn frame(pool: &PgPool, n: &Notifier, user: Uuid, name: &str, kind: Option<NotificationType>, link: String) -> sqlx::Result<Frame> {
    let reason = match kind {
        Some(k) => format!("e-mail is on for your '{k}' notifications"),
        None => "you chose a daily digest of your notifications".into(),
    };
    Ok(Frame { name: name.to_string(), link, unsubscribe_url: n.unsubscribe_url(pool, Unsubscribe { user, kind }).await?, settings_url: n.url("settings/notifications"), reason })
}

pub(super) async fn email(pool: &PgPool, n: &Notifier, user: Uuid, note: &Notification, attempt: i32) -> anyhow::Result<Next> {
    let (address, name): (Option<String>, String) = sqlx::query_as("SELECT email, display_name FROM users WHERE id = $1").bind(user).fetch_one(pool).await?;
    let address = address.filter(|a| !a.trim().is_empty());
    let mut log = Attempt { notification: note.id, channel: Channel::Email, webhook: None, target: address.as_deref().unwrap_or("(no address)"), attempt,
        status: DeliveryStatus::Skipped, response_code: None, error: None, duration_ms: None, retry_in: None };
    let (Some(mailer), Some(to)) = (&n.mailer, address.as_deref()) else {
        log.error = Some(if n.mailer.is_none() { "e-mail is off on this server (BB_SMTP_URL is not set)" } else { "the account has no e-mail address" }.into());
        deliveries::record(pool, &log).await?;
        return Ok(Next::Done);
    };
    let f = frame(pool, n, user, &name, Some(note.kind), n.app_link(note.kind, &note.payload)).await?;
    let message = n.templates.render(note.kind.as_str(), &json!({"n": note.payload}), &f)?;
    let start = Instant::now();
    let sent = mailer.send(to, &message, &f.unsubscribe_url).await;
    log.duration_ms = Some(start.elapsed().as_millis().min(i32::MAX as u128) as i32);
    settle_email(pool, n, &mut log, sent, attempt).await
}

/// Logs an e-mail attempt's outcome and says what comes next.
async fn settle_email(pool: &PgPool, n: &Notifier, log: &mut Attempt<'_>, sent: Result<i32, super::email::SendError>, attempt: i32) -> anyhow::Result<Next> {
    match sent {
        Ok(code) => {
            log.status = DeliveryStatus::Delivered;
            log.response_code = Some(code);
            deliveries::record(pool, log).await?;
            Ok(Next::Done)
        }
        Err(e) if e.transient && attempt < n.config.max_attempts => {
            let wait = n.backoff(attempt);
            log.status = DeliveryStatus::Retrying;
            log.response_code = e.code;
            log.error = Some(e.message.clone());
            log.retry_in = Some(wait);
            deliveries::record(pool, log).await?;
            Ok(Next::RetryIn(wait, e.message))
        }
        Err(e) => {
            log.status = DeliveryStatus::Failed;
            log.response_code = e.code;
            log.error = Some(e.message);
            deliveries::record(pool, log).await?;
            Ok(Next::Done)
        }
    }
}

/// The subject a notification's e-mail would have (for digests).
pub fn subject(n: &Notifier, note: &Notification) -> String {
    let f = Frame { name: String::new(), link: String::new(), unsubscribe_url: String::new(), settings_url: String::new(), reason: String::new() };
    n.templates.render(note.kind.as_str(), &json!({"n": note.payload}), &f).map(|r| r.subject).unwrap_or_else(|_| note.kind.to_string())
}

/// Renders the digest of `items` for a user.
pub(super) fn render_digest(n: &Notifier, items: &[Notification], f: &Frame) -> anyhow::Result<super::email::Rendered> {
    let items: Vec<Value> = items.iter().map(|i| json!({"subject": subject(n, i), "link": n.app_link(i.kind, &i.payload), "created_at": i.created_at.format("%Y-%m-%d %H:%M UTC").to_string()})).collect();
    Ok(n.templates.render("digest", &json!({"items": items}), f)?)
}

/// The mailer, when e-mail is on.
pub(super) fn mailer(n: &Notifier) -> Option<&Mailer> {
    n.mailer.as_ref()
}
