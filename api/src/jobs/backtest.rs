//! Backtest jobs: run a queued run's backtest over the lake pinned at its current candles version,
//! with progress on the run row, and store the results under the run id (idempotently: a retried
//! or taken-over job replaces its partition). The run's outcome is recorded by the worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pipelines::backtest::{self, store, ProgressHandle, RunOptions};
use serde_json::json;
use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use super::error::JobError;
use crate::services::backtests::{outcome, runs, Outcome};
use crate::services::jobs::Job;

/// Runs the backtest of `run_id` and stores its trades, equity and metrics in the lake; progress
/// is written to the run every `progress_every`.
pub async fn execute(pool: &PgPool, lake: &lake::Lake, progress_every: Duration, job: &Job, run_id: Uuid) -> Result<Outcome, JobError> {
    let transient = |e: sqlx::Error| JobError::Transient(e.to_string());
    let (run, graph) = runs::with_graph(pool, run_id).await.map_err(transient)?.ok_or_else(|| JobError::Permanent(format!("run {run_id} does not exist")))?;
    let p = run.backtest_params()?;
    let graph = pipelines::graph::validate(&graph).map_err(pipelines::Error::Graph)?;
    let version = lake
        .version(lake::LakeTable::Candles)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?
        .ok_or_else(|| JobError::Permanent("the lake has no candles".into()))?;

    let handle = ProgressHandle::new(format!("{run_id}/{}", job.attempts));
    let total = backtest::count_candles(lake, &p.market, p.span(), Some(version)).await?;
    handle.progress().set_bars_total(total);
    let writing = Arc::new(AtomicBool::new(false));
    let reporter = {
        let (pool, progress, writing) = (pool.clone(), handle.progress().clone(), writing.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(progress_every);
            loop {
                tick.tick().await;
                let s = progress.snapshot();
                let phase = if writing.load(Ordering::Relaxed) {
                    "writing"
                } else if s.combos_done > 0 || (s.bars_total > 0 && s.bars_read >= s.bars_total) {
                    "simulating"
                } else {
                    "reading"
                };
                let detail = json!({"phase": phase, "barsProcessed": s.bars_read, "barsTotal": s.bars_total,
                    "combosDone": s.combos_done, "combosTotal": s.combos_total});
                // writing is the last ~5 %
                let fraction = if phase == "writing" { 0.95 } else { s.fraction() * 0.95 };
                if let Err(e) = runs::set_progress(&pool, run_id, fraction, &detail).await {
                    tracing::warn!(run = %run_id, error = %e, "could not record progress");
                }
            }
        })
    };
    let opts = RunOptions { save_equity: true, progress_key: Some(handle.key().to_string()) };
    let started = std::time::Instant::now();
    let result = async {
        let out = backtest::run_at_version(lake, &graph, &p, opts, version)
            .instrument(tracing::info_span!("backtest.plan", run = %run_id, candles_version = version, bars = total))
            .await?;
        let took = started.elapsed();
        writing.store(true, Ordering::Relaxed);
        store::save(lake, &run_id.to_string(), &p, &out, Some(version)).instrument(tracing::info_span!("backtest.store", run = %run_id)).await?;
        Ok::<_, pipelines::Error>((out, took))
    }
    .await;
    reporter.abort();
    let (out, took) = result?;
    let snapshot = handle.progress().snapshot();
    crate::metrics::global().backtest(snapshot.bars_read.saturating_mul(snapshot.combos_total.max(1)), took);
    Ok(outcome(&out, &p, version))
}
