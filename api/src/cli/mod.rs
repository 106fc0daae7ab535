//! The `bb` subcommands: one file each, all sharing the global lake options.

mod audit;
mod backtest;
mod db;
mod demo;
mod export;
mod global;
mod ingest;
mod lake_cmd;
mod migrate;
pub mod output;
mod paper;
mod postgres;
mod resample;
mod results;
mod serve;
mod sql;
mod sql_server;
mod token;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use global::GlobalArgs;

/// Blockbuilders: market data lake, backtests and strategy API.
#[derive(Debug, Parser)]
#[command(name = "bb", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest exchange files (freqtrade JSON/Feather, Binance kline CSV, CSV, Parquet, trades) into the lake.
    Ingest(ingest::IngestArgs),
    /// Derive a higher timeframe (e.g. 5m, 1h) of a market from a lower one already in the lake.
    Resample(resample::ResampleArgs),
    /// Inspect and maintain the lake's Delta tables (ls, compact, vacuum).
    Lake(lake_cmd::LakeArgs),
    /// Backtest a strategy graph over the lake's candles (or sweep its parameters); store and print the results.
    Backtest(backtest::BacktestArgs),
    /// Print a stored run's trades or equity curve from the lake (table, csv or json).
    Results(results::ResultsArgs),
    /// Run SQL over the lake tables and print the result (table, csv or json).
    Sql(sql::SqlArgs),
    /// Serve the lake and backtest results over the PostgreSQL wire protocol (psql, psycopg, BI tools); read-only, token auth.
    SqlServer(sql_server::SqlServerArgs),
    /// Serve the REST API (/api/v1) and Prometheus metrics (/metrics) with an embedded job worker, migrating Postgres first; a private cluster when DATABASE_URL is unset.
    Serve(serve::ServeArgs),
    /// Run queued jobs (backtests, paper-trading ticks, notification deliveries) from the Postgres queue; start as many as you like.
    Worker(worker::WorkerCmd),
    /// Exports for educators: `cohort ID` writes a cohort's analytics as CSV, JSON or Parquet.
    Export(export::ExportArgs),
    /// The audit trail of compliance decisions: `verify` checks its hash chain, `export` writes a period's package.
    Audit(audit::AuditArgs),
    /// Paper trading from the shell: start, ls, show, pause, resume, stop, replay candles through a run.
    Paper(paper::PaperArgs),
    /// Apply pending Postgres migrations.
    Migrate(migrate::MigrateArgs),
    /// Sign an API token with BB_JWT_SECRET (prints only the token).
    Token(token::TokenArgs),
    /// Start or stop the private PostgreSQL cluster.
    Postgres(postgres::PostgresArgs),
    /// Run the main job on embedded defaults: sample data into a local lake, a backtest and a sweep, then a backtest through the API, its queue and worker, and a paper trade fed a replayed day.
    Demo(demo::DemoArgs),
}

impl Command {
    /// Whether the command runs until stopped (serve, worker, sql-server).
    pub fn is_service(&self) -> bool {
        matches!(self, Command::Serve(_) | Command::Worker(_) | Command::SqlServer(_))
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(args) => ingest::run(&cli.global, args).await,
        Command::Resample(args) => resample::run(&cli.global, args).await,
        Command::Lake(args) => lake_cmd::run(&cli.global, args).await,
        Command::Backtest(args) => backtest::run(&cli.global, args).await,
        Command::Results(args) => results::run(&cli.global, args).await,
        Command::Sql(args) => sql::run(&cli.global, args).await,
        Command::SqlServer(args) => sql_server::run(&cli.global, args).await,
        Command::Demo(args) => demo::run(&cli.global, args).await,
        Command::Serve(args) => serve::run(&cli.global, args).await,
        Command::Migrate(args) => migrate::run(&cli.global, args).await,
        Command::Worker(args) => worker::run(&cli.global, args).await,
        Command::Paper(args) => paper::run(&cli.global, args).await,
        Command::Audit(args) => audit::run(&cli.global, args).await,
        Command::Export(args) => export::run(&cli.global, args).await,
        Command::Token(args) => token::run(args).await,
        Command::Postgres(args) => postgres::run(&cli.global, args).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_subcommand_is_well_formed() {
        // clap's own checks (unique flags, valid defaults, ...) over every subcommand
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
