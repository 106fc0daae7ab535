//! `bb postgres`: the private PostgreSQL cluster (start it for scripts and tests, stop it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::global::GlobalArgs;
use crate::pg::PrivateCluster;

#[derive(Debug, Args)]
pub struct PostgresArgs {
    #[command(subcommand)]
    pub command: PostgresCommand,
}

#[derive(Debug, Subcommand)]
pub enum PostgresCommand {
    /// Start (initdb on first use) and leave running; prints DATABASE_URL=... for the `blockbuilders` database.
    Start {
        /// Cluster folder [default: <data dir>/pg].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Stop the cluster running in the folder.
    Stop {
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub async fn run(global: &GlobalArgs, args: PostgresArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PostgresCommand::Start { dir } => {
            let dir = dir.unwrap_or_else(|| global.data_dir.join("pg"));
            let cluster = PrivateCluster::start(&dir)?;
            cluster.ensure_database("blockbuilders")?;
            let url = cluster.url("blockbuilders");
            cluster.detach();
            println!("DATABASE_URL={url}");
        }
        PostgresCommand::Stop { dir } => {
            let dir = dir.unwrap_or_else(|| global.data_dir.join("pg"));
            let stopped = PrivateCluster::stop_in(&dir)?;
            println!("{}", if stopped { "stopped" } else { "not running" });
        }
    }
    Ok(ExitCode::SUCCESS)
}
