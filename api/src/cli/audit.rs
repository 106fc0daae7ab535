//! `bb audit verify`: checks the audit trail's hash chain in Postgres and its copy in the lake
//! record by record and names the first record that breaks either (exit 1), or prints how many it
//! checked and the chain's head (the lake's copy may lag: a prefix is not a break).

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::global::GlobalArgs;
use crate::services::audit;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the chain: every record numbered in order, chained to the one before, hashing to its hash.
    Verify,
}

pub async fn run(global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    let result = match args.command {
        AuditCommand::Verify => {
            let lake = global.open_lake()?;
            let mut ok = true;
            for (place, v) in [("Postgres", audit::verify(&pool).await?), ("the lake", audit::verify_lake(&pool, &lake).await?)] {
                match &v.first_break {
                    None => println!("audit trail in {place}: {} record(s) checked, the chain holds; head {}", v.checked, v.head),
                    Some((seq, why)) => {
                        ok = false;
                        println!("audit trail in {place}: {} record(s) checked, then record {seq} breaks the chain: {why}", v.checked);
                    }
                }
            }
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
    };
    pool.close().await;
    drop(cluster);
    Ok(result)
}
