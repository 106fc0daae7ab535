//! `bb sql-server`: serves the lake and backtest results over the PostgreSQL wire protocol.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::global::GlobalArgs;
use crate::sqlwire::{Limits, SqlServer};

#[derive(Debug, Args)]
#[command(after_help = "Connect with: psql \"host=127.0.0.1 port=5433 dbname=blockbuilders user=YOUR_EMAIL\" and give an API token \
(bb token --email YOUR_EMAIL) as the password. The password travels in clear text: listen on a loopback address, or put \
TLS in front. Tables: candles, backtest_runs, backtest_metrics, backtest_trades, backtest_equity (yours only, unless admin).")]
pub struct SqlServerArgs {
    /// Address to listen on.
    #[arg(long, env = "BB_SQL_ADDR", default_value = "127.0.0.1:5433")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(flatten)]
    pub tokens: super::db::TokenArgs,
    /// Most rows one query may return; more is an error.
    #[arg(long, env = "BB_SQL_MAX_ROWS", default_value_t = 1_000_000)]
    pub max_rows: usize,
    /// Seconds one query may run.
    #[arg(long, env = "BB_SQL_QUERY_TIMEOUT", default_value_t = 60.0)]
    pub query_timeout: f64,
    /// Logins one client address may attempt a minute (0: no limit).
    #[arg(long, env = "BB_SQL_LOGINS_PER_MINUTE", default_value_t = 60)]
    pub logins_per_minute: u32,
}

pub async fn run(global: &GlobalArgs, args: SqlServerArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.query_timeout.is_finite() && args.query_timeout > 0.0, "--query-timeout must be a positive number of seconds");
    anyhow::ensure!(args.max_rows > 0, "--max-rows must be at least 1");
    let verifier = args.tokens.verifier();
    let lake = global.open_lake()?;
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    let limits = Limits { max_rows: args.max_rows, timeout: Duration::from_secs_f64(args.query_timeout) };
    let server = SqlServer::new(pool.clone(), Arc::new(lake), Arc::new(verifier), limits, args.logins_per_minute);
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    let addr = listener.local_addr()?;
    eprintln!(
        "serving SQL on postgres://{addr}/{} (user: your email, password: an API token; at most {} rows and {:.0} s per query)",
        crate::sqlwire::session::DATABASE,
        limits.max_rows,
        limits.timeout.as_secs_f64()
    );
    server.serve(listener, crate::shutdown::signal()).await?;
    pool.close().await;
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
