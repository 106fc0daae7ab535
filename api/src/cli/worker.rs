//! `bb worker`: runs queued jobs (backtests, paper-trading ticks, notification deliveries) from the
//! Postgres queue until stopped, optionally serving its metrics; and the notification options it
//! shares with `bb serve`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::global::GlobalArgs;
use crate::jobs::{Worker, WorkerConfig};

/// Worker options, shared by `bb worker` and the worker `bb serve` embeds.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Seconds a taken job stays this worker's without a heartbeat (renewed every third of it);
    /// after a crash another worker takes the job over once it expires.
    #[arg(long, env = "BB_JOB_LEASE_SECS", default_value_t = 30.0)]
    pub lease_secs: f64,
    /// Seconds between looks at the queue when no wake-up arrives.
    #[arg(long, env = "BB_JOB_POLL_SECS", default_value_t = 2.0)]
    pub poll_secs: f64,
    /// Seconds before a failed job's second attempt (×4 for each further one, at most 300).
    #[arg(long, env = "BB_JOB_BACKOFF_SECS", default_value_t = 5.0)]
    pub backoff_secs: f64,
    /// Worker id recorded on the jobs it takes (default: host:pid:random).
    #[arg(long, env = "BB_WORKER_ID")]
    pub worker_id: Option<String>,
}

impl WorkerArgs {
    pub fn config(&self) -> anyhow::Result<WorkerConfig> {
        let secs = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(Duration::from_secs_f64(v)) } else { Err(anyhow::anyhow!("--{name} must be a positive number of seconds, got {v}")) }
        };
        let mut c = WorkerConfig { lease: secs("lease-secs", self.lease_secs)?, poll: secs("poll-secs", self.poll_secs)?, backoff: secs("backoff-secs", self.backoff_secs)?, ..WorkerConfig::default() };
        if let Some(id) = &self.worker_id {
            c.id = id.clone();
        }
        Ok(c)
    }
}

/// How notifications leave by e-mail and webhook (shared by `bb worker` and `bb serve`).
#[derive(Debug, Clone, Args)]
pub struct NotifyArgs {
    /// SMTP server for e-mail notifications: smtp://[user:pass@]host[:port] (STARTTLS when the
    /// server offers it) or smtps://… (TLS from the start). Unset: e-mail is off.
    #[arg(long, env = "BB_SMTP_URL")]
    pub smtp_url: Option<url::Url>,
    /// PEM file of certificates to trust for the SMTP server's TLS besides the system's (a private CA).
    #[arg(long, env = "BB_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<std::path::PathBuf>,
    /// The From of notification e-mails.
    #[arg(long, env = "BB_MAIL_FROM", default_value = "Blockbuilders <notifications@localhost>")]
    pub mail_from: String,
    /// Where users reach the app: the base of the links in e-mails (app pages, unsubscribe).
    #[arg(long, env = "BB_PUBLIC_URL", default_value = "http://127.0.0.1:8000")]
    pub public_url: url::Url,
    /// Accept webhook endpoints on loopback and private addresses (tests, local stacks only: it
    /// turns the SSRF guard off).
    #[arg(long, env = "BB_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private: bool,
    /// Seconds one webhook POST may take before it counts as a timeout (and is retried).
    #[arg(long, env = "BB_WEBHOOK_TIMEOUT_SECS", default_value_t = 10.0)]
    pub webhook_timeout_secs: f64,
    /// Attempts per e-mail or webhook delivery before it is marked failed.
    #[arg(long, env = "BB_NOTIFY_MAX_ATTEMPTS", default_value_t = 8)]
    pub notify_max_attempts: i32,
    /// Seconds before a failed delivery's first retry (doubling after, ±20 % jitter, at most an hour;
    /// a 429 or 503's Retry-After wins).
    #[arg(long, env = "BB_NOTIFY_RETRY_SECS", default_value_t = 5.0)]
    pub notify_retry_secs: f64,
    /// Failed deliveries in a row after which a webhook endpoint is disabled (its owner is told in-app).
    #[arg(long, env = "BB_WEBHOOK_DISABLE_AFTER", default_value_t = 5)]
    pub webhook_disable_after: i32,
    /// Deliveries one worker makes at once.
    #[arg(long, env = "BB_NOTIFY_CONCURRENCY", default_value_t = 16)]
    pub notify_concurrency: usize,
}

impl NotifyArgs {
    /// The notifier these options describe (its SMTP URL and sender checked).
    pub fn notifier(&self) -> anyhow::Result<crate::services::notifications::Notifier> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(Duration::from_secs_f64(v)) } else { Err(anyhow::anyhow!("--{name} must be a positive number of seconds, got {v}")) }
        };
        anyhow::ensure!(self.notify_max_attempts >= 1, "--notify-max-attempts must be at least 1, got {}", self.notify_max_attempts);
        anyhow::ensure!(self.webhook_disable_after >= 1, "--webhook-disable-after must be at least 1, got {}", self.webhook_disable_after);
        anyhow::ensure!(self.notify_concurrency >= 1, "--notify-concurrency must be at least 1");
        anyhow::ensure!(matches!(self.public_url.scheme(), "http" | "https"), "--public-url must be http(s), got {}", self.public_url);
        let config = crate::config::NotifyConfig {
            smtp_url: self.smtp_url.clone(),
            smtp_ca_file: self.smtp_ca_file.clone(),
            mail_from: self.mail_from.clone(),
            public_url: self.public_url.clone(),
            allow_private: self.webhook_allow_private,
            webhook_timeout: positive("webhook-timeout-secs", self.webhook_timeout_secs)?,
            max_attempts: self.notify_max_attempts,
            retry_base: positive("notify-retry-secs", self.notify_retry_secs)?,
            disable_after: self.webhook_disable_after,
            concurrency: self.notify_concurrency,
        };
        crate::services::notifications::Notifier::new(config).map_err(|e| anyhow::anyhow!(e))
    }
}

/// A secret given as a flag or its variable (blank: none); `bb serve` uses it too.
pub fn secret_arg(value: &Option<String>) -> Option<secrecy::SecretString> {
    value.clone().filter(|v| !v.trim().is_empty()).map(secrecy::SecretString::from)
}

#[derive(Debug, Args)]
pub struct WorkerCmd {
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Serve this worker's Prometheus metrics (job durations, deliveries, backtest speed, the
    /// queue) at http://ADDR/metrics. Unset: no metrics port.
    #[arg(long, env = "BB_METRICS_ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Bearer token the metrics require.
    #[arg(long, env = "BB_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
}

pub async fn run(global: &GlobalArgs, args: WorkerCmd) -> anyhow::Result<ExitCode> {
    let config = args.worker.config()?;
    let notifier = Arc::new(args.notify.notifier()?);
    let lake = global.open_lake()?;
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    eprintln!("worker {} taking jobs (lease {:?}, lake {}); {}", config.id, config.lease, lake.root(), notifier.describe());
    let lake = Arc::new(lake);
    let metrics = match args.metrics_addr {
        Some(addr) => {
            let source = crate::http::metrics::Source { pool: pool.clone(), lake: lake.clone(), token: secret_arg(&args.metrics_token) };
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("--metrics-addr {addr}: {e}"))?;
            eprintln!("metrics at http://{}/metrics", listener.local_addr()?);
            Some(tokio::spawn(async move { axum::serve(listener, crate::http::metrics::routes::<()>(source)).await }))
        }
        None => None,
    };
    let worker = Worker::new(pool.clone(), lake, config).with_notifier(notifier);
    worker.run(crate::shutdown::signal()).await?;
    if let Some(m) = metrics {
        m.abort();
    }
    pool.close().await;
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
