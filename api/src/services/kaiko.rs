//! Kaiko's trade history API, as `bb ingest kaiko` pages through it:
//! `GET {base}/v2/data/trades.v1/exchanges/{exchange}/{class}/{instrument}/trades` with
//! `start_time`/`end_time` (ISO 8601), `page_size`, `sort=asc` and, after the first page, the
//! `continuation_token` of the last answer; the key in `X-Api-Key`. Answers are
//! `{result, data: [{timestamp (ms), trade_id, price, amount (strings), taker_side_sell}],
//! continuation_token, next_url}`. Requests are spaced to stay within the documented rate (200 a
//! minute by default), and 429s (after `Retry-After`), 5xx and network errors are retried with backoff.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use ingest::RawTrade;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// Where and how to reach Kaiko.
#[derive(Clone)]
pub struct KaikoConfig {
    /// `https://us.market-api.kaiko.io` unless pointed elsewhere (`BB_KAIKO_BASE`).
    pub base: url::Url,
    pub api_key: Option<SecretString>,
    /// Requests a minute the client allows itself.
    pub per_minute: u32,
    /// Attempts per page before giving up.
    pub attempts: u32,
    /// The first retry's delay (doubling after).
    pub backoff: Duration,
}

impl std::fmt::Debug for KaikoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KaikoConfig").field("base", &self.base.as_str()).field("api_key", &self.api_key.as_ref().map(|_| "[set]")).field("per_minute", &self.per_minute).finish()
    }
}

impl Default for KaikoConfig {
    fn default() -> Self {
        KaikoConfig { base: url::Url::parse("https://us.market-api.kaiko.io").expect("valid URL"), api_key: None, per_minute: 200, attempts: 6, backoff: Duration::from_millis(500) }
    }
}

/// Which trades to page through.
#[derive(Debug, Clone)]
pub struct Query {
    /// Kaiko's exchange code (`cbse`, `bnce`, …).
    pub exchange: String,
    /// `spot`, `perpetual-future`, …
    pub class: String,
    /// Kaiko's instrument code (`btc-usd`).
    pub instrument: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub page_size: u32,
}

/// One page of trades.
#[derive(Debug, Clone)]
pub struct Page {
    pub trades: Vec<RawTrade>,
    /// Where the next page starts; none on the last.
    pub continuation_token: Option<String>,
}

/// A Kaiko client.
pub struct Kaiko {
    config: KaikoConfig,
    http: reqwest::Client,
    last: tokio::sync::Mutex<Option<Instant>>,
    /// Requests made (retries included), 429s and 5xx seen: for the report.
    pub requests: std::sync::atomic::AtomicU64,
    pub retries: std::sync::atomic::AtomicU64,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Kaiko {
    pub fn new(config: KaikoConfig) -> Kaiko {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("the HTTP client builds");
        Kaiko { config, http, last: Default::default(), requests: Default::default(), retries: Default::default() }
    }

    fn url(&self, q: &Query, token: Option<&str>) -> String {
        let base = self.config.base.as_str().trim_end_matches('/');
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        params.append_pair("start_time", &iso(q.from)).append_pair("end_time", &iso(q.to)).append_pair("page_size", &q.page_size.to_string()).append_pair("sort", "asc");
        if let Some(t) = token {
            params.append_pair("continuation_token", t);
        }
        format!("{base}/v2/data/trades.v1/exchanges/{}/{}/{}/trades?{}", q.exchange, q.class, q.instrument, params.finish())
    }

    /// Waits until the next request keeps within `per_minute`.
    async fn pace(&self) {
        let gap = Duration::from_secs_f64(60.0 / self.config.per_minute.max(1) as f64);
        let mut last = self.last.lock().await;
        if let Some(t) = *last {
            let due = t + gap;
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
        *last = Some(Instant::now());
    }

    /// The page after `token` (the first when none); rows are numbered from `row`.
    pub async fn page(&self, q: &Query, token: Option<&str>, row: u64) -> anyhow::Result<Page> {
        use std::sync::atomic::Ordering::Relaxed;
        let key = self.config.api_key.as_ref().ok_or_else(|| anyhow::anyhow!("BB_KAIKO_API_KEY is not set (or BB_KAIKO_API_KEY_FILE)"))?;
        let url = self.url(q, token);
        let mut last_error = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            self.pace().await;
            self.requests.fetch_add(1, Relaxed);
            let wait = self.config.backoff.saturating_mul(2u32.saturating_pow(attempt - 1)).min(Duration::from_secs(60));
            let r = match self.http.get(&url).header("X-Api-Key", key.expose_secret()).header("Accept", "application/json").send().await {
                Ok(r) => r,
                Err(e) => {
                    last_error = format!("Kaiko could not be reached: {e}");
                    self.retries.fetch_add(1, Relaxed);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            let status = r.status();
            let after = r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
            let body: Value = serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or(Value::Null);
            if status.is_success() && body["result"] == "success" {
                return parse(&body, row);
            }
            let message = body["message"].as_str().or(body["error"].as_str()).unwrap_or("no message").to_string();
            last_error = format!("Kaiko answered {status}: {message}");
            if status.as_u16() == 429 || status.is_server_error() {
                self.retries.fetch_add(1, Relaxed);
                tracing::warn!(status = status.as_u16(), attempt, "Kaiko asked to retry");
                tokio::time::sleep(after.unwrap_or(wait).min(Duration::from_secs(120))).await;
                continue;
            }
            break;
        }
        anyhow::bail!("{last_error} (GET {})", url.split('?').next().unwrap_or_default())
    }
}

/// A page's trades: Kaiko's strings become numbers (a value that is not one is kept as NaN, and
/// validation quarantines its row with the raw JSON).
fn parse(body: &Value, row: u64) -> anyhow::Result<Page> {
    let data = body["data"].as_array().ok_or_else(|| anyhow::anyhow!("Kaiko's answer has no data array"))?;
    let num = |v: &Value| v.as_str().and_then(|s| s.parse::<f64>().ok()).or_else(|| v.as_f64()).unwrap_or(f64::NAN);
    let trades = data
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let ms = t["timestamp"].as_i64().ok_or_else(|| anyhow::anyhow!("Kaiko's trade {} of the page has no timestamp: {t}", i + 1))?;
            Ok(RawTrade {
            row: row + i as u64 + 1,
            time_us: ms * 1_000,
            id: t["trade_id"].as_str().map(str::to_string).or_else(|| t["trade_id"].as_i64().map(|n| n.to_string())),
            price: num(&t["price"]),
            qty: num(&t["amount"]),
            side: t["taker_side_sell"].as_bool().map(|sell| if sell { "sell" } else { "buy" }.to_string()),
            line: Some(t.to_string().into_boxed_str()),
        })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let continuation_token = body["continuation_token"].as_str().filter(|s| !s.is_empty()).map(str::to_string);
    Ok(Page { trades, continuation_token })
}
