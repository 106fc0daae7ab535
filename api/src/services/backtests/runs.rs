//! Backtest run rows: what the API shows and the worker advances (queued → running →
//! succeeded/failed), and their SQL.

use lake::{Market, Timeframe};
use pipelines::backtest::{BacktestParams, FillPolicy, ParamValues};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::model::RunStatus;

/// A backtest run as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub id: Uuid,
    pub user_id: Uuid,
    pub strategy_id: Uuid,
    pub strategy_version_id: Uuid,
    pub status: RunStatus,
    pub exchange: String,
    pub symbol: String,
    #[schema(value_type = String, example = "1h")]
    pub timeframe: Timeframe,
    #[serde(rename = "from")]
    pub range_start: chrono::DateTime<chrono::Utc>,
    #[serde(rename = "to")]
    pub range_end: chrono::DateTime<chrono::Utc>,
    pub initial_capital: f64,
    pub fee_rate: f64,
    pub slippage: f64,
    #[schema(value_type = String, example = "next_open")]
    pub fill_policy: FillPolicy,
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

impl Run {
    /// The engine's inputs for this run.
    pub fn backtest_params(&self) -> pipelines::Result<BacktestParams> {
        Ok(BacktestParams {
            market: Market::new(&self.exchange, &self.symbol, self.timeframe)?,
            start: Some(self.range_start.timestamp_millis()),
            end: Some(self.range_end.timestamp_millis()),
            initial_capital: self.initial_capital,
            fee_rate: self.fee_rate,
            slippage: self.slippage,
            fill_policy: self.fill_policy,
            params: ParamValues::from_json(&self.params)?,
            sweep_dirs: None,
        })
    }
}

const COLUMNS: &str = "r.id, r.user_id, v.strategy_id, r.strategy_version_id, r.status, r.exchange, r.symbol, r.timeframe,
    r.range_start, r.range_end, r.initial_capital, r.fee_rate, r.slippage, r.fill_policy, r.params, r.combinations,
    r.metrics, r.combo_metrics, r.best_combo, r.anomalies, r.candles_version, r.error, r.progress, r.progress_detail,
    r.attempts, r.created_at, r.started_at, r.finished_at";
const FROM: &str = "backtest_runs r JOIN strategy_versions v ON v.id = r.strategy_version_id";

/// Inserts a `queued` run of `strategy_version` for `user` with the engine inputs `p` (its
/// `$param` values as given, `params`); returns its id.
pub async fn insert(db: &mut PgConnection, user: Uuid, strategy_version: Uuid, p: &BacktestParams, params: &Value) -> sqlx::Result<Uuid> {
    let ts = |ms: Option<i64>| ms.and_then(chrono::DateTime::from_timestamp_millis);
    sqlx::query_scalar(
        "INSERT INTO backtest_runs (user_id, strategy_version_id, exchange, symbol, timeframe, range_start, range_end,
             initial_capital, fee_rate, slippage, fill_policy, params, combinations)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(user)
    .bind(strategy_version)
    .bind(p.market.exchange())
    .bind(p.market.symbol())
    .bind(p.market.timeframe())
    .bind(ts(p.start))
    .bind(ts(p.end))
    .bind(p.initial_capital)
    .bind(p.fee_rate)
    .bind(p.slippage)
    .bind(p.fill_policy)
    .bind(params)
    .bind(p.params.combinations().len() as i32)
    .fetch_one(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Run>> {
    sqlx::query_as::<_, Run>(&format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1")).bind(id).fetch_optional(db).await
}

/// A user's runs (every user's for `None`), optionally of one strategy and status, newest first, after a keyset cursor.
pub async fn list(
    db: impl PgExecutor<'_>,
    user: Option<Uuid>,
    strategy: Option<Uuid>,
    status: Option<RunStatus>,
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

/// A run with its owner's e-mail and its strategy's title and version number (the rows of the SQL
/// endpoint's `backtest_runs` table).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRecord {
    #[sqlx(flatten)]
    pub run: Run,
    pub owner_email: Option<String>,
    pub strategy_title: String,
    pub strategy_version: i32,
}

/// Every run of `user` (of everyone for `None`) with its owner and strategy, oldest first.
pub async fn records(db: impl PgExecutor<'_>, user: Option<Uuid>) -> sqlx::Result<Vec<RunRecord>> {
    sqlx::query_as::<_, RunRecord>(&format!(
        "SELECT {COLUMNS}, u.email AS owner_email, s.title AS strategy_title, v.version AS strategy_version
         FROM {FROM} JOIN strategies s ON s.id = v.strategy_id JOIN users u ON u.id = r.user_id
         WHERE $1::uuid IS NULL OR r.user_id = $1
         ORDER BY r.created_at, r.id"
    ))
    .bind(user)
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
