//! The job worker: takes jobs from the Postgres queue (`services::jobs`), holds their lease with a
//! heartbeat, runs them (backtests, paper-trading ticks, notification deliveries — these several at
//! once, so a slow webhook endpoint holds up nothing else), and records the outcome exactly once;
//! every `paper_scan` it also queues ticks an announcement missed, flushes paper fills and equity
//! into the lake and mirrors new audit records there. `bb worker` runs one; `bb serve` embeds one unless `--no-worker`.

pub mod backtest;
mod error;
mod notify;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::model::JobKind;
use crate::services::jobs::{self as queue, Job};
use crate::services::notifications::Notifier;
use crate::services::{backtests, notifications, paper_trades};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Identifies this worker in `jobs.worker` (host, pid and a random suffix by default).
    pub id: String,
    /// How long a taken job stays this worker's without a heartbeat.
    pub lease: Duration,
    /// How often to look for jobs when no wake-up arrives.
    pub poll: Duration,
    /// Backoff before the second attempt (×4 per further attempt, at most five minutes).
    pub backoff: Duration,
    /// How often progress is written to the run.
    pub progress_every: Duration,
    /// How often paper-trading runs behind their market are looked for (and fills flushed to the lake).
    pub paper_scan: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: default_id(),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            backoff: Duration::from_secs(5),
            progress_every: Duration::from_millis(500),
            paper_scan: Duration::from_secs(15),
        }
    }
}

/// `host:pid:xxxx`.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}:{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..6])
}

/// A worker over one database and lake.
#[derive(Debug, Clone)]
pub struct Worker {
    pub pool: PgPool,
    pub lake: Arc<lake::Lake>,
    pub config: WorkerConfig,
    /// Paper-trading runs kept warm between their ticks.
    pub paper: Arc<paper_trades::RunnerCache>,
    /// Delivers notifications by e-mail and webhook (`notify` jobs).
    pub notifier: Arc<Notifier>,
}

pub use error::JobError;

impl Worker {
    /// A worker with a fresh paper-run cache and the default notifier (e-mail off, private
    /// webhook addresses refused).
    pub fn new(pool: PgPool, lake: Arc<lake::Lake>, config: WorkerConfig) -> Self {
        Worker { pool, lake, config, paper: Arc::default(), notifier: Arc::default() }
    }

    /// The same worker delivering notifications through `notifier`.
    pub fn with_notifier(mut self, notifier: Arc<Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Queues ticks for paper runs behind their market (and raises no-candle alerts), then
    /// flushes paper fills and equity into the lake.
    pub async fn paper_housekeeping(&self) -> anyhow::Result<()> {
        let scan = paper_trades::scan(&self.pool, &self.lake).await?;
        let flushed = paper_trades::flush(&self.pool, &self.lake).await?;
        let audited = crate::services::audit::mirror(&self.pool, &self.lake).await?;
        let digests = notifications::digest::enqueue_due(&self.pool).await?;
        if digests > 0 {
            tracing::info!(worker = %self.config.id, digests, "daily e-mail digests queued");
        }
        if audited > 0 {
            tracing::info!(worker = %self.config.id, records = audited, "audit trail mirrored to the lake");
        }
        if scan.queued + scan.alerts + flushed.fills + flushed.equity > 0 {
            tracing::info!(worker = %self.config.id, queued = scan.queued, alerts = scan.alerts, fills = flushed.fills, equity = flushed.equity, "paper housekeeping");
        }
        Ok(())
    }

    /// Runs jobs until `shutdown` resolves (the job in hand is finished first).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(queue::CHANNEL).await?;
        tracing::info!(worker = %self.config.id, "worker started");
        tokio::pin!(shutdown);
        let mut last_scan = std::time::Instant::now() - self.config.paper_scan;
        let mut deliveries = JoinSet::new();
        let mut last_reap = std::time::Instant::now() - self.config.poll;
        loop {
            // abandoned jobs are looked for once a poll interval, not before every claim
            if last_reap.elapsed() >= self.config.poll {
                last_reap = std::time::Instant::now();
                if let Err(e) = self.reap().await {
                    tracing::warn!(worker = %self.config.id, error = ?e, "looking for abandoned jobs failed");
                }
            }
            if last_scan.elapsed() >= self.config.paper_scan {
                last_scan = std::time::Instant::now();
                // in a task of its own: whatever goes wrong there, the worker goes on taking jobs
                let me = self.clone();
                match tokio::spawn(async move { me.paper_housekeeping().await }).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(worker = %self.config.id, error = ?e, "paper housekeeping failed"),
                    Err(e) => tracing::error!(worker = %self.config.id, error = %e, "paper housekeeping panicked"),
                }
            }
            // deliveries that finished free their slots
            while let Some(r) = deliveries.try_join_next() {
                if let Err(e) = r {
                    tracing::error!(worker = %self.config.id, error = %e, "a delivery panicked");
                }
            }
            let slot_free = deliveries.len() < self.notifier.config.concurrency.max(1);
            let worked = match self.take(slot_free).await {
                Ok(Some(job)) if job.kind == JobKind::Notify => {
                    let me = self.clone();
                    deliveries.spawn(async move {
                        let id = job.id;
                        if let Err(e) = me.process(job).await {
                            tracing::error!(worker = %me.config.id, job = id, error = ?e, "delivery job failed");
                        }
                    });
                    true
                }
                Ok(Some(job)) => {
                    if let Err(e) = self.process(job).await {
                        tracing::error!(worker = %self.config.id, error = ?e, "worker step failed");
                    }
                    true
                }
                Ok(None) => false,
                Err(e) => {
                    tracing::error!(worker = %self.config.id, error = ?e, "worker step failed");
                    false
                }
            };
            if worked {
                // there may be more: look again at once (unless told to stop)
                if tokio::time::timeout(Duration::ZERO, &mut shutdown).await.is_ok() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => break,
                r = listener.recv() => if let Err(e) = r {
                    // the listener reconnects on its next call; do not spin meanwhile
                    tracing::warn!(worker = %self.config.id, error = %e, "job wake-up listener failed");
                    tokio::time::sleep(self.config.poll).await;
                },
                Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
        // deliveries in flight finish their attempt
        while deliveries.join_next().await.is_some() {}
        tracing::info!(worker = %self.config.id, "worker stopped");
        Ok(())
    }

    /// Dead-letters abandoned jobs, then takes and runs at most one job. `true` if it ran one.
    pub async fn step(&self) -> anyhow::Result<bool> {
        self.reap().await?;
        match self.take(true).await? {
            Some(job) => {
                self.process(job).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Takes the next job (a `notify` one only if `notify`).
    async fn take(&self, notify: bool) -> anyhow::Result<Option<Job>> {
        let mut tx = self.pool.begin().await?;
        let Some(job) = queue::claim(&mut tx, &self.config.id, self.config.lease, notify).await? else {
            return Ok(None);
        };
        if let Some(run) = job.run_id {
            backtests::runs::mark_running(&mut *tx, run, job.attempts).await?;
        }
        tx.commit().await?;
        tracing::info!(worker = %self.config.id, job = job.id, kind = %job.kind, run = ?job.run_id, attempt = job.attempts, "took job");
        Ok(Some(job))
    }

    /// Jobs whose worker died on their last attempt: dead, their runs failed and notified.
    async fn reap(&self) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        for (job, error) in queue::reap_abandoned(&mut tx).await? {
            tracing::warn!(job = job.id, %error, "dead-lettered an abandoned job");
            if let Some(run) = job.run_id {
                backtests::record_failure(&mut tx, run, &error).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A paper-trading tick; its outcome is the run's own (recorded by the tick), so the job's
    /// outcome is empty. A failed tick's error is kept on the run too.
    async fn paper_tick(&self, run: uuid::Uuid) -> Result<Option<backtests::Outcome>, JobError> {
        match paper_trades::tick(&self.pool, &self.lake, &self.paper, run, None).await {
            Ok(t) => {
                tracing::debug!(run = %run, bars = t.bars, fills = t.fills, "paper tick");
                Ok(None)
            }
            Err(crate::error::ApiError::NotFound(m)) => Err(JobError::Permanent(m)),
            Err(e) => {
                let message = match &e {
                    crate::error::ApiError::Internal(inner) => format!("{inner:#}"),
                    e => e.to_string(),
                };
                let _ = paper_trades::runs::set_error(&self.pool, run, &message).await;
                Err(JobError::Transient(message))
            }
        }
    }

    /// Runs one job in a span that continues the trace of the request that enqueued it, with
    /// that request's id on its log lines (and on the jobs it enqueues in turn).
    async fn process(&self, job: Job) -> anyhow::Result<()> {
        let span = tracing::info_span!("job", job = job.id, kind = %job.kind, attempt = job.attempts, request_id = job.origin.request_id.as_deref().unwrap_or(""));
        crate::telemetry::continue_trace(&span, job.origin.traceparent.as_deref());
        let request_id = job.origin.request_id.clone().unwrap_or_default();
        crate::context::with_request_id(request_id, self.attempt(job).instrument(span)).await
    }

    async fn attempt(&self, job: Job) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        // heartbeat: renew the lease at a third of its length; a lost lease stops the work
        let (lost_tx, mut lost_rx) = watch::channel(false);
        let heartbeat = {
            let (pool, id, worker, lease) = (self.pool.clone(), job.id, self.config.id.clone(), self.config.lease);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(lease / 3);
                every.tick().await;
                loop {
                    every.tick().await;
                    match queue::heartbeat(&pool, id, &worker, lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = lost_tx.send(true);
                            break;
                        }
                        Err(e) => tracing::warn!(job = id, error = %e, "heartbeat failed; retrying"),
                    }
                }
            })
        };
        let work = async {
            match (job.kind, job.run_id) {
                (JobKind::Backtest, Some(run)) => backtest::execute(&self.pool, &self.lake, self.config.progress_every, &job, run).await.map(Some),
                (JobKind::PaperTick, _) if job.paper_run_id.is_some() => self.paper_tick(job.paper_run_id.unwrap_or_default()).await,
                (JobKind::Notify, _) => notify::execute(&self.pool, &self.notifier, &job).await.map(|()| None),
                (kind, _) => Err(JobError::Permanent(format!("no worker handles '{kind}' jobs yet, or the job has no run"))),
            }
        };
        let result = tokio::select! {
            r = work => r,
            _ = lost_rx.wait_for(|lost| *lost) => Err(JobError::LeaseLost),
        };
        heartbeat.abort();
        let took = started.elapsed();
        let worker = &self.config.id;
        // the outcome the queue recorded, for the job-duration metric
        let recorded = match result {
            Ok(outcome) => {
                let mut tx = self.pool.begin().await?;
                if queue::complete(&mut tx, job.id, worker).await? {
                    if let (Some(run), Some(outcome)) = (job.run_id, outcome) {
                        backtests::record_success(&mut tx, run, &outcome).await?;
                    }
                    tx.commit().await?;
                    tracing::info!(job = job.id, run = ?job.run_id, "job succeeded");
                    "succeeded"
                } else {
                    tracing::warn!(job = job.id, "job was taken over before it finished here; this attempt's outcome is dropped");
                    "lease_lost"
                }
            }
            Err(JobError::LeaseLost) => {
                tracing::warn!(job = job.id, "lease lost; another worker owns the job now");
                "lease_lost"
            }
            Err(e) => {
                let permanent = matches!(e, JobError::Permanent(_));
                let message = format!("attempt {} of {}: {e}", job.attempts, job.max_attempts);
                let backoff = match &e {
                    JobError::RetryAfter(_, after) => *after,
                    _ => queue::backoff(self.config.backoff, job.attempts),
                };
                let mut tx = self.pool.begin().await?;
                let recorded = match queue::fail(&mut tx, job.id, worker, &message, permanent, backoff).await? {
                    queue::Failed::Dead => {
                        if let Some(run) = job.run_id {
                            backtests::record_failure(&mut tx, run, &e.to_string()).await?;
                        }
                        tracing::warn!(job = job.id, error = %message, "job failed for good (dead-lettered)");
                        "dead"
                    }
                    queue::Failed::Retry => {
                        if let Some(run) = job.run_id {
                            backtests::runs::requeue(&mut tx, run, &format!("{message}; retrying in {} s", backoff.as_secs_f64())).await?;
                        }
                        tracing::warn!(job = job.id, error = %message, "job failed; will retry");
                        "retry"
                    }
                    queue::Failed::NotOurs => "lease_lost",
                };
                tx.commit().await?;
                recorded
            }
        };
        crate::metrics::global().job(job.kind.as_str(), recorded, took);
        Ok(())
    }
}
