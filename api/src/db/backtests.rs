//! Backtest runs: the row the API shows and the worker advances (queued → running → succeeded/failed).

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// A backtest run as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: Uuid,
    pub user_id: Uuid,
    pub strategy_id: Uuid,
    pub strategy_version_id: Uuid,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
    #[serde(rename = "from")]
    pub range_start: chrono::DateTime<chrono::Utc>,
    #[serde(rename = "to")]
    pub range_end: chrono::DateTime<chrono::Utc>,
    pub initial_capital: f64,
    pub fee_rate: f64,
    pub slippage: f64,
    pub fill_policy: String,
    /// `$param` values as given: a number per name, or a list of numbers (a sweep over their grid).
    #[schema(value_type = Object)]
    pub params: Value,
    /// How many parameter combinations the run simulates (1 unless a sweep).
    pub combinations: i32,
    /// The metrics of the run (of a sweep: of its best combination by Sharpe ratio, `bestCombo`).
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
    /// Sweeps: every combination's parameters and metrics.
    #[schema(value_type = Option<Vec<Object>>)]
    pub combo_metrics: Option<Value>,
    pub best_combo: Option<i32>,
    /// Flags raised on the results: data gaps, zero trades, profit from one trade, drawdown over 50 %.
    #[schema(value_type = Option<Vec<Object>>)]
    pub anomalies: Option<Value>,
    /// The version of the lake's `candles` table the run read (time travel reproduces it).
    pub candles_version: Option<i64>,
    pub error: Option<String>,
    /// Fraction done, 0 to 1.
    pub progress: f64,
    #[schema(value_type = Option<Object>)]
    pub progress_detail: Option<Value>,
    /// Attempts the job has taken so far (a retry or a takeover after a lost worker adds one).
    pub attempts: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

const COLUMNS: &str = "r.id, r.user_id, v.strategy_id, r.strategy_version_id, r.status, r.exchange, r.symbol, r.timeframe,
    r.range_start, r.range_end, r.initial_capital, r.fee_rate, r.slippage, r.fill_policy, r.params, r.combinations,
    r.metrics, r.combo_metrics, r.best_combo, r.anomalies, r.candles_version, r.error, r.progress, r.progress_detail,
    r.attempts, r.created_at, r.started_at, r.finished_at";
const FROM: &str = "backtest_runs r JOIN strategy_versions v ON v.id = r.strategy_version_id";

/// What a new run is made of.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub user_id: Uuid,
    pub strategy_version_id: Uuid,
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
    pub range_start: chrono::DateTime<chrono::Utc>,
    pub range_end: chrono::DateTime<chrono::Utc>,
    pub initial_capital: f64,
    pub fee_rate: f64,
    pub slippage: f64,
    pub fill_policy: String,
    pub params: Value,
    pub combinations: i32,
}

impl From<&Run> for NewRun {
    fn from(r: &Run) -> Self {
        NewRun {
            user_id: r.user_id,
            strategy_version_id: r.strategy_version_id,
            exchange: r.exchange.clone(),
            symbol: r.symbol.clone(),
            timeframe: r.timeframe.clone(),
            range_start: r.range_start,
            range_end: r.range_end,
            initial_capital: r.initial_capital,
            fee_rate: r.fee_rate,
            slippage: r.slippage,
            fill_policy: r.fill_policy.clone(),
            params: r.params.clone(),
            combinations: r.combinations,
        }
    }
}

/// Inserts a `queued` run; returns its id.
pub async fn insert(db: &mut PgConnection, r: &NewRun) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO backtest_runs (user_id, strategy_version_id, exchange, symbol, timeframe, range_start, range_end,
             initial_capital, fee_rate, slippage, fill_policy, params, combinations)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(r.user_id)
    .bind(r.strategy_version_id)
    .bind(&r.exchange)
    .bind(&r.symbol)
    .bind(&r.timeframe)
    .bind(r.range_start)
    .bind(r.range_end)
    .bind(r.initial_capital)
    .bind(r.fee_rate)
    .bind(r.slippage)
    .bind(&r.fill_policy)
    .bind(&r.params)
    .bind(r.combinations)
    .fetch_one(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Run>> {
    sqlx::query_as::<_, Run>(&format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1")).bind(id).fetch_optional(db).await
}

/// A user's runs (every user's for `None`), optionally of one strategy, newest first, after a keyset cursor.
pub async fn list(
    db: impl PgExecutor<'_>,
    user: Option<Uuid>,
    strategy: Option<Uuid>,
    status: Option<&str>,
    after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Run>> {
    sqlx::query_as::<_, Run>(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE ($1::uuid IS NULL OR r.user_id = $1) AND ($2::uuid IS NULL OR v.strategy_id = $2) AND ($3::text IS NULL OR r.status = $3)
           AND ($4::timestamptz IS NULL OR (r.created_at, r.id) < ($4, $5))
         ORDER BY r.created_at DESC, r.id DESC LIMIT $6"
    ))
    .bind(user)
    .bind(strategy)
    .bind(status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The run a job works on, with its strategy graph.
pub async fn with_graph(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<(Run, Value)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        run: Run,
        graph_json: Value,
    }
    let row = sqlx::query_as::<_, Row>(&format!("SELECT {COLUMNS}, v.graph_json FROM {FROM} WHERE r.id = $1")).bind(id).fetch_optional(db).await?;
    Ok(row.map(|r| (r.run, r.graph_json)))
}

/// Marks a run `running` for an attempt (the first start time is kept).
pub async fn mark_running(db: impl PgExecutor<'_>, id: Uuid, attempt: i32) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backtest_runs SET status = 'running', attempts = $2, started_at = coalesce(started_at, now()), progress = 0,
             progress_detail = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(attempt)
    .execute(db)
    .await?;
    Ok(())
}

/// Records progress of a running run.
pub async fn set_progress(db: impl PgExecutor<'_>, id: Uuid, progress: f64, detail: &Value) -> sqlx::Result<()> {
    sqlx::query("UPDATE backtest_runs SET progress = $2, progress_detail = $3 WHERE id = $1 AND status = 'running' AND progress_detail IS DISTINCT FROM $3")
        .bind(id)
        .bind(progress)
        .bind(detail)
        .execute(db)
        .await?;
    Ok(())
}

/// What a finished run stores.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub metrics: Value,
    pub combo_metrics: Option<Value>,
    pub best_combo: Option<i32>,
    pub anomalies: Value,
    pub candles_version: i64,
}

/// Marks a run `succeeded` with its results.
pub async fn succeed(db: &mut PgConnection, id: Uuid, o: &Outcome) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backtest_runs SET status = 'succeeded', metrics = $2, combo_metrics = $3, best_combo = $4, anomalies = $5,
             candles_version = $6, error = NULL, progress = 1, finished_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&o.metrics)
    .bind(&o.combo_metrics)
    .bind(o.best_combo)
    .bind(&o.anomalies)
    .bind(o.candles_version)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a run `failed` with the error.
pub async fn fail(db: &mut PgConnection, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE backtest_runs SET status = 'failed', error = $2, finished_at = now() WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}

/// Puts a run back to `queued` after a failed attempt that will be retried.
pub async fn requeue(db: &mut PgConnection, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE backtest_runs SET status = 'queued', error = $2, progress = 0, progress_detail = NULL WHERE id = $1")
        .bind(id)
        .bind(error)
        .execute(db)
        .await?;
    Ok(())
}
