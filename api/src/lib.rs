//! The API crate: the REST API under `/api/v1` over a service layer (one module per concept:
//! strategies, backtests, quotas, notifications, users, subscriptions — its rules and its SQL),
//! the job worker, the Postgres-wire SQL endpoint, the private Postgres cluster used when no
//! `DATABASE_URL` is set, and the `bb` binary's subcommands. `bb --help` lists them.
//!
//! Layers, each using only those below it: `cli` → `http` (routes, extractors, paging), `jobs`
//! (the worker), `sqlwire` → `state`, `auth` → `services` → `model`, `error` (`tests/it/layers.rs`
//! fails on any loop between modules). `docs/ARCHITECTURE.md` says where a new concept goes.
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
pub mod context;
pub mod db;
pub mod error;
pub mod events;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod pg;
pub mod rate_limit;
pub mod services;
pub mod shutdown;
pub mod sqlwire;
pub mod state;
pub mod svg;
pub mod telemetry;
