//! `bb serve`: the REST API on `--addr` (with the WebSocket at `/api/v1/ws`) and an embedded job
//! worker (unless `--no-worker`) that also delivers notifications, migrating the database first
//! unless told not to.

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
    /// Do not run jobs in this process (run `bb worker` processes instead).
    #[arg(long)]
    pub no_worker: bool,
    #[command(flatten)]
    pub worker: super::worker::WorkerArgs,
    #[command(flatten)]
    pub notify: super::worker::NotifyArgs,
}

impl ServeArgs {
    pub fn config(&self) -> ApiConfig {
        ApiConfig {
            addr: self.addr,
            cors_origins: self.cors_origins.clone(),
            body_limit: self.body_limit,
            jwt_secret: self.tokens.jwt_secret.clone().map(SecretString::from),
            jwks_url: self.tokens.jwks_url.clone(),
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
    let mut state = AppState::new(pool.clone(), verifier, lake).await?;
    state.notifier = notifier;
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
    eprintln!("serving http://{}/api/v1 (OpenAPI at /api/v1/openapi.json)", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(crate::shutdown::signal()).await?;
    let _ = stop_tx.send(true);
    if let Some(w) = worker {
        let _ = w.await;
    }
    pool.close().await;
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
