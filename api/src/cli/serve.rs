//! `bb serve`: the REST API on `--addr` (with the WebSocket at `/api/v1/ws` and `/metrics`) and an
//! embedded job worker (unless `--no-worker`) that also delivers notifications, migrating the
//! database first unless told not to; its rate limits, and Stripe and Supabase configured from the environment.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use secrecy::SecretString;

use super::global::GlobalArgs;
use crate::config::ApiConfig;
use crate::http::router;
use crate::state::AppState;
use crate::jobs::Worker;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BB_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(flatten)]
    pub tokens: super::db::TokenArgs,
    /// Allowed CORS origins, comma-separated.
    #[arg(long, env = "BB_CORS_ORIGINS", value_delimiter = ',', default_value = "http://localhost:3000")]
    pub cors_origins: Vec<String>,
    /// Largest request body, bytes.
    #[arg(long, env = "BB_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Mutating requests (POST, PUT, PATCH, DELETE) one user may make a minute (0: no limit).
    #[arg(long, env = "BB_RATE_LIMIT_PER_MINUTE", default_value_t = 120)]
    pub rate_limit_per_minute: u32,
    /// Mutating requests one client address may make a minute (0: no limit).
    #[arg(long, env = "BB_RATE_LIMIT_IP_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_ip_per_minute: u32,
    /// Behind a proxy: the header it puts the client's address in (e.g. x-forwarded-for); its last
    /// entry, the one the proxy appended, is believed. Unset: the connection's peer address.
    #[arg(long, env = "BB_TRUSTED_IP_HEADER")]
    pub trusted_ip_header: Option<String>,
    /// Do not serve `GET /metrics` (Prometheus; served by default at the root path of --addr).
    #[arg(long)]
    pub no_metrics: bool,
    /// Bearer token `GET /metrics` requires (unset: anyone who reaches the port may scrape).
    #[arg(long, env = "BB_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Do not run jobs in this process (run `bb worker` processes instead).
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub worker: super::worker::WorkerArgs,
    #[command(flatten)]
    pub notify: super::worker::NotifyArgs,
    #[command(flatten)]
    pub billing: BillingArgs,
}

/// Billing through Stripe. Secrets come from the environment (or a file it names), never a flag.
#[derive(Debug, Clone, clap::Args)]
pub struct BillingArgs {
    /// Stripe's API (point it at a test double in development).
    #[arg(long, env = "BB_STRIPE_API_BASE", default_value = "https://api.stripe.com")]
    pub stripe_api_base: url::Url,
    /// The Stripe price id of the premium plan (price_…).
    #[arg(long, env = "BB_STRIPE_PRICE_PREMIUM")]
    pub stripe_price_premium: Option<String>,
    /// The Stripe price id of the educator plan (price_…).
    #[arg(long, env = "BB_STRIPE_PRICE_EDUCATOR")]
    pub stripe_price_educator: Option<String>,
}

/// A secret from `NAME`, or from the file `NAME_FILE` names (trimmed); neither: `None`.
pub fn secret_from_env(name: &str) -> anyhow::Result<Option<SecretString>> {
    if let Ok(v) = std::env::var(name) {
        if !v.trim().is_empty() {
            return Ok(Some(SecretString::from(v.trim().to_string())));
        }
    }
    match std::env::var(format!("{name}_FILE")) {
        Ok(path) => {
            let v = std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{name}_FILE: cannot read {path}: {e}"))?;
            anyhow::ensure!(!v.trim().is_empty(), "{name}_FILE: {path} is empty");
            Ok(Some(SecretString::from(v.trim().to_string())))
        }
        Err(_) => Ok(None),
    }
}

impl BillingArgs {
    /// The billing configuration: these options, the secrets `BB_STRIPE_SECRET_KEY` and
    /// `BB_STRIPE_WEBHOOK_SECRET` (or their `_FILE`s), and the app's public URL.
    pub fn config(&self, public_url: &url::Url) -> anyhow::Result<crate::config::BillingConfig> {
        Ok(crate::config::BillingConfig {
            stripe_secret_key: secret_from_env("BB_STRIPE_SECRET_KEY")?,
            stripe_api_base: self.stripe_api_base.clone(),
            stripe_webhook_secret: secret_from_env("BB_STRIPE_WEBHOOK_SECRET")?,
            price_premium: self.stripe_price_premium.clone(),
            price_educator: self.stripe_price_educator.clone(),
            public_url: public_url.clone(),
        })
    }
}

impl ServeArgs {
    pub fn config(&self) -> ApiConfig {
        ApiConfig {
            addr: self.addr,
            cors_origins: self.cors_origins.clone(),
            body_limit: self.body_limit,
            jwt_secret: self.tokens.jwt_secret.clone().map(SecretString::from),
            jwks_url: self.tokens.jwks_url.clone(),
            hsts: self.notify.public_url.scheme() == "https",
            rate_limits: crate::rate_limit::Limits {
                per_user_per_minute: self.rate_limit_per_minute,
                per_ip_per_minute: self.rate_limit_ip_per_minute,
                trusted_ip_header: self.trusted_ip_header.clone().map(|h| h.to_ascii_lowercase()),
            },
            metrics: !self.no_metrics,
            metrics_token: super::worker::secret_arg(&self.metrics_token),
        }
    }
}

pub async fn run(global: &GlobalArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config();
    let verifier = args.tokens.verifier();
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    let worker_config = args.worker.config()?;
    let notifier = std::sync::Arc::new(args.notify.notifier()?);
    let lake = global.open_lake()?;
    let billing = args.billing.config(&args.notify.public_url)?;
    let mut state = AppState::new(pool.clone(), verifier, lake).await?;
    state.notifier = notifier;
    eprintln!(
        "billing: {}",
        match (&billing.stripe_secret_key, &billing.stripe_webhook_secret) {
            (Some(_), Some(_)) => format!("Stripe at {} (checkout, portal, webhooks)", billing.stripe_api_base),
            (Some(_), None) => format!("Stripe at {} (checkout, portal; BB_STRIPE_WEBHOOK_SECRET unset: webhooks refused)", billing.stripe_api_base),
            (None, _) => "off (BB_STRIPE_SECRET_KEY unset)".to_string(),
        }
    );
    state.stripe = std::sync::Arc::new(crate::services::billing::Stripe::new(billing));
    let supabase = crate::services::supabase::Supabase::new(args.tokens.supabase_url.clone(), secret_from_env("BB_SUPABASE_SERVICE_ROLE_KEY")?);
    if args.tokens.supabase_url.is_some() {
        eprintln!("supabase: {}", if supabase.configured() { "tokens from the project's JWKS; roles and invitations through its admin API" } else { "tokens from the project's JWKS (BB_SUPABASE_SERVICE_ROLE_KEY unset: roles stay local)" });
    }
    state.supabase = std::sync::Arc::new(supabase);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = (!args.no_worker).then(|| {
        let w = Worker { pool: pool.clone(), lake: state.lake.clone(), config: worker_config, paper: state.paper.clone(), notifier: state.notifier.clone() };
        eprintln!("embedded worker {} takes backtest, paper-trading and notification jobs (--no-worker to leave them to bb worker); {}", w.config.id, w.notifier.describe());
        let mut stop = stop_rx.clone();
        tokio::spawn(w.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    });
    if args.no_worker {
        eprintln!("notifications: {} (delivered by the bb worker processes)", state.notifier.describe());
    }
    let app = router(state, &config);
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let metrics = match (config.metrics, config.metrics_token.is_some()) {
        (false, _) => "",
        (true, false) => ", metrics at /metrics",
        (true, true) => ", metrics at /metrics (bearer token)",
    };
    eprintln!("serving http://{}/api/v1 (OpenAPI at /api/v1/openapi.json{metrics})", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(crate::shutdown::signal()).await?;
    let _ = stop_tx.send(true);
    if let Some(w) = worker {
        let _ = w.await;
    }
    pool.close().await;
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
