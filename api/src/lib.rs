//! The API crate: the axum REST API under `/api/v1` (auth, strategies, versions, backtest runs,
//! quotas, notifications, ...), its Postgres access and job queue worker, the private Postgres
//! cluster used when no `DATABASE_URL` is set, and the `bb` binary's subcommands. `bb --help` lists them.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use clap::Parser;
//! let cli = api::cli::Cli::parse_from(["bb", "lake", "ls"]);
//! api::cli::run(cli).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod jobs;
pub mod pg;
pub mod routes;
pub mod sqlwire;
pub mod svg;
