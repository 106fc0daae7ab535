//! `bb export cohort ID`: a cohort's analytics (the rows of `GET /cohorts/{id}/analytics`) written
//! to a file or stdout, as the operator (no API or token needed: `DATABASE_URL` and the lake).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::global::GlobalArgs;
use crate::services::analytics::{self, Format};
use crate::services::users::User;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(subcommand)]
    pub command: ExportCommand,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// One row per member and template used: clones, backtests, best and median Sharpe, best
    /// return, worst drawdown, paper-trading return, last active.
    Cohort {
        /// The cohort.
        id: uuid::Uuid,
        /// csv, json or parquet.
        #[arg(long, default_value = "csv")]
        format: Format,
        /// File to write (`-`: standard output).
        #[arg(long, default_value = "-")]
        output: PathBuf,
    },
}

pub async fn run(global: &GlobalArgs, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    let operator = User::operator("bb export");
    let ExportCommand::Cohort { id, format, output } = args.command;
    let started = Instant::now();
    let rows = analytics::cohort(&pool, &lake, &operator, id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = analytics::encode(&rows, format).map_err(|e| anyhow::anyhow!("{e}"))?;
    if output.as_os_str() == "-" {
        std::io::stdout().lock().write_all(&bytes)?;
    } else {
        std::fs::write(&output, &bytes).with_context(|| format!("cannot write {}", output.display()))?;
        eprintln!("wrote {} row(s) of cohort {id} to {} ({} bytes, {:.2} s)", rows.len(), output.display(), bytes.len(), started.elapsed().as_secs_f64());
    }
    pool.close().await;
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
