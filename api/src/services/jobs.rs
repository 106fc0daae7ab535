//! The durable job queue: jobs are taken with `FOR UPDATE SKIP LOCKED` and held by a lease that
//! the worker renews (heartbeat). A job whose lease expires is taken over by another worker; a
//! failed attempt is retried after a backoff until `max_attempts`, then dead-lettered with its error.
//! Every state change is guarded by the worker's id, so a worker that lost its lease changes nothing.

use std::time::Duration;

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::model::{JobKind, JobStatus};

/// A job a worker has taken.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub run_id: Option<Uuid>,
    /// The paper-trading run of a `paper_tick` job.
    pub paper_run_id: Option<Uuid>,
    /// The notification a `notify` job delivers (none for a digest).
    pub notification_id: Option<Uuid>,
    /// What the job says beyond its columns (a `notify` job: channel, webhook, digest).
    pub payload: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempts: i32,
    pub max_attempts: i32,
    /// The request that enqueued the job, and its trace.
    #[sqlx(flatten)]
    pub origin: Origin,
}

/// The request a job is enqueued in: its id and its trace (both none outside a request or
/// with traces off), stored on the job so the worker's logs and spans continue it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Origin {
    pub request_id: Option<String>,
    /// The W3C `traceparent` of the request's span.
    pub traceparent: Option<String>,
}

impl Origin {
    pub fn current() -> Self {
        let id = crate::context::request_id();
        Origin { request_id: (!id.is_empty()).then_some(id), traceparent: crate::telemetry::traceparent() }
    }
}

/// Channel a new job is announced on, so idle workers wake at once.
pub const CHANNEL: &str = "bb_jobs";

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// Enqueues a backtest job for `run` (in the caller's transaction) and wakes the workers at commit.
pub async fn enqueue_backtest(db: &mut PgConnection, run: Uuid, max_attempts: i32) -> sqlx::Result<i64> {
    let origin = Origin::current();
    let id = sqlx::query_scalar(
        "INSERT INTO jobs (kind, payload, run_id, max_attempts, request_id, traceparent)
         VALUES ($3, jsonb_build_object('runId', $1::uuid), $1, $2, $4, $5) RETURNING id",
    )
        .bind(run)
        .bind(max_attempts)
        .bind(JobKind::Backtest)
        .bind(origin.request_id)
        .bind(origin.traceparent)
        .fetch_one(&mut *db)
        .await?;
    sqlx::query("SELECT pg_notify($1, $2::text)").bind(CHANNEL).bind(id).execute(&mut *db).await?;
    Ok(id)
}

/// Wakes idle workers when the caller's transaction commits.
pub async fn wake(db: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(db).await?;
    Ok(())
}

/// Takes the next ready job: queued and due, or running with an expired lease (its worker is gone)
/// and attempts left; `notify` jobs only when `notify` is true (the worker has a delivery slot
/// free). The caller's transaction holds the row until it commits.
pub async fn claim(db: &mut PgConnection, worker: &str, lease: Duration, notify: bool) -> sqlx::Result<Option<Job>> {
    sqlx::query_as::<_, Job>(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = $1,
             lease_until = now() + $2 * interval '1 millisecond', updated_at = now()
         WHERE id = (
             SELECT id FROM jobs
             WHERE ((status = 'queued' AND run_after <= now())
                    OR (status = 'running' AND lease_until < now() AND attempts < max_attempts))
               AND ($3 OR kind <> 'notify')
             ORDER BY run_after, id
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, run_id, paper_run_id, notification_id, payload, attempts, max_attempts, request_id, traceparent",
    )
    .bind(worker)
    .bind(ms(lease))
    .bind(notify)
    .fetch_optional(db)
    .await
}

/// Jobs whose last attempt's worker vanished (lease expired, no attempts left): dead-lettered now.
/// Returns them with the error recorded; the caller fails their runs in the same transaction.
pub async fn reap_abandoned(db: &mut PgConnection) -> sqlx::Result<Vec<(Job, String)>> {
    #[derive(sqlx::FromRow)]
    struct Reaped {
        #[sqlx(flatten)]
        job: Job,
        last_error: String,
    }
    let rows: Vec<Reaped> = sqlx::query_as(
        "UPDATE jobs SET status = 'dead', updated_at = now(), lease_until = NULL,
             last_error = 'attempt ' || attempts || ' of ' || max_attempts || ': worker ' || coalesce(worker, '?')
                          || ' stopped renewing its lease' || coalesce(' (earlier: ' || last_error || ')', '')
         WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_until < now() AND attempts >= max_attempts
                      FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, run_id, paper_run_id, notification_id, payload, attempts, max_attempts, request_id, traceparent, last_error",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.job, r.last_error)).collect())
}

/// Renews the lease; `false` when the job is no longer this worker's (taken over, or finished).
pub async fn heartbeat(db: impl PgExecutor<'_>, id: i64, worker: &str, lease: Duration) -> sqlx::Result<bool> {
    let n = sqlx::query("UPDATE jobs SET lease_until = now() + $3 * interval '1 millisecond', updated_at = now() WHERE id = $1 AND worker = $2 AND status = 'running'")
        .bind(id)
        .bind(worker)
        .bind(ms(lease))
        .execute(db)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Marks the job done, if it is still this worker's (else `false`: the caller rolls back).
pub async fn complete(db: &mut PgConnection, id: i64, worker: &str) -> sqlx::Result<bool> {
    let n = sqlx::query("UPDATE jobs SET status = 'succeeded', lease_until = NULL, last_error = NULL, updated_at = now() WHERE id = $1 AND worker = $2 AND status = 'running'")
        .bind(id)
        .bind(worker)
        .execute(db)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Queued again, to run after the backoff.
    Retry,
    /// No attempts left (or the error is permanent): dead-lettered.
    Dead,
    /// The job was no longer this worker's; nothing changed.
    NotOurs,
}

/// Records a failed attempt: retried after `backoff` while attempts remain and the error is not
/// `permanent`, else dead-lettered. The error is kept in `last_error` either way.
pub async fn fail(db: &mut PgConnection, id: i64, worker: &str, error: &str, permanent: bool, backoff: Duration) -> sqlx::Result<Failed> {
    let status: Option<JobStatus> = sqlx::query_scalar(
        "UPDATE jobs SET status = CASE WHEN $4 OR attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
             run_after = now() + $5 * interval '1 millisecond', last_error = $3, lease_until = NULL, worker = NULL, updated_at = now()
         WHERE id = $1 AND worker = $2 AND status = 'running' RETURNING status",
    )
    .bind(id)
    .bind(worker)
    .bind(error)
    .bind(permanent)
    .bind(ms(backoff))
    .fetch_optional(db)
    .await?;
    Ok(match status {
        Some(JobStatus::Dead) => Failed::Dead,
        Some(_) => Failed::Retry,
        None => Failed::NotOurs,
    })
}

/// The backoff before attempt `attempt + 1`: `base` × 4^(attempt − 1), at most five minutes.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let factor = 4u32.saturating_pow(attempt.saturating_sub(1).max(0) as u32);
    base.saturating_mul(factor).min(Duration::from_secs(300))
}

/// How many jobs of one kind are in one state, and how long the oldest due one has waited.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueStat {
    pub kind: JobKind,
    /// `queued` or `running`.
    pub status: JobStatus,
    pub jobs: i64,
    /// Seconds since the oldest queued job became due (none for running jobs, or when none is due).
    pub oldest_due_secs: Option<f64>,
}

/// The queue as `/metrics` shows it: jobs waiting or running, by kind (one indexed read).
pub async fn stats(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<QueueStat>> {
    sqlx::query_as(
        "SELECT kind, status, count(*) AS jobs,
                extract(epoch FROM now() - min(run_after) FILTER (WHERE status = 'queued' AND run_after <= now()))::float8 AS oldest_due_secs
         FROM jobs WHERE status IN ('queued', 'running') GROUP BY kind, status",
    )
    .fetch_all(db)
    .await
}
