//! `bb worker`: runs queued jobs (backtests) from the Postgres queue until stopped.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::global::GlobalArgs;
use crate::jobs::{Worker, WorkerConfig};

/// Worker options, shared by `bb worker` and the worker `bb serve` embeds.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Seconds a taken job stays this worker's without a heartbeat (renewed every third of it);
    /// after a crash another worker takes the job over once it expires.
    #[arg(long, env = "BB_JOB_LEASE_SECS", default_value_t = 30.0)]
    pub lease_secs: f64,
    /// Seconds between looks at the queue when no wake-up arrives.
    #[arg(long, env = "BB_JOB_POLL_SECS", default_value_t = 2.0)]
    pub poll_secs: f64,
    /// Seconds before a failed job's second attempt (×4 for each further one, at most 300).
    #[arg(long, env = "BB_JOB_BACKOFF_SECS", default_value_t = 5.0)]
    pub backoff_secs: f64,
    /// Worker id recorded on the jobs it takes (default: host:pid:random).
    #[arg(long, env = "BB_WORKER_ID")]
    pub worker_id: Option<String>,
}

impl WorkerArgs {
    pub fn config(&self) -> anyhow::Result<WorkerConfig> {
        let secs = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 { Ok(Duration::from_secs_f64(v)) } else { Err(anyhow::anyhow!("--{name} must be a positive number of seconds, got {v}")) }
        };
        let mut c = WorkerConfig { lease: secs("lease-secs", self.lease_secs)?, poll: secs("poll-secs", self.poll_secs)?, backoff: secs("backoff-secs", self.backoff_secs)?, ..WorkerConfig::default() };
        if let Some(id) = &self.worker_id {
            c.id = id.clone();
        }
        Ok(c)
    }
}

#[derive(Debug, Args)]
pub struct WorkerCmd {
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
}

pub async fn run(global: &GlobalArgs, args: WorkerCmd) -> anyhow::Result<ExitCode> {
    let config = args.worker.config()?;
    let lake = global.open_lake()?;
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    eprintln!("worker {} taking jobs (lease {:?}, lake {})", config.id, config.lease, lake.root());
    let worker = Worker::new(pool.clone(), Arc::new(lake), config);
    worker.run(crate::shutdown::signal()).await?;
    pool.close().await;
    drop(cluster);
    Ok(ExitCode::SUCCESS)
}
