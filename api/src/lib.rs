//! The API crate: the `bb` binary's subcommands (and, as later issues land, the axum REST API,
//! auth, quotas and the job worker). `bb --help` lists what is there.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use clap::Parser;
//! let cli = api::cli::Cli::parse_from(["bb", "lake", "ls"]);
//! api::cli::run(cli).await?;
//! # Ok(()) }
//! ```

pub mod cli;
