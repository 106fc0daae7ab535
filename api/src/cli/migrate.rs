//! `bb migrate`: applies pending Postgres migrations.

use std::process::ExitCode;

use clap::Args;

use super::global::GlobalArgs;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Postgres URL (a private cluster in <data dir>/pg when unset).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

pub async fn run(global: &GlobalArgs, args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (url, _cluster) = super::db::database(&global.data_dir, args.database_url.as_deref())?;
    let pool = crate::db::connect(&url).await?;
    let applied = crate::db::migrate(&pool).await?;
    println!("{applied} migration(s) applied; the schema is at {}", crate::db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0));
    Ok(ExitCode::SUCCESS)
}
