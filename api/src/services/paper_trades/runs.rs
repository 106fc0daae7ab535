//! Paper-trading run rows: the schedule (market, costs, fill policy, `$param` values, start), the
//! alert rules, what the API shows of a run (status, performance snapshot), and their SQL.

use std::collections::BTreeMap;

use lake::{Market, Timeframe};
use pipelines::backtest::{FillPolicy, SimConfig};
use pipelines::paper::{PaperState, Performance};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::model::PaperStatus;

/// What a run trades and how: its market, costs, fill policy, `$param` values and start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    #[schema(example = "binance")]
    pub exchange: String,
    #[schema(example = "BTCUSDT")]
    pub symbol: String,
    #[schema(value_type = String, example = "1h")]
    pub timeframe: Timeframe,
    /// Starting capital (quote currency).
    pub capital: f64,
    pub fee_rate: f64,
    pub slippage: f64,
    #[schema(value_type = String, example = "next_open")]
    pub fill_policy: FillPolicy,
    /// One number per `$param` of the graph (missing ones take their defaults).
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, f64>,
    /// Trade from this bar on (indicators cold there, as a backtest from it); absent: from the
    /// next new bar, indicators warmed on the bars before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Schedule {
    pub fn market(&self) -> Result<Market, lake::Error> {
        Market::new(&self.exchange, &self.symbol, self.timeframe)
    }

    /// The simulator's inputs (risk and sizing come from the graph).
    pub fn sim_config(&self) -> SimConfig {
        SimConfig { initial_capital: self.capital, fee_rate: self.fee_rate, slippage: self.slippage, fill_policy: self.fill_policy, risk: Default::default() }
    }
}

/// When a run tells its owner that something needs attention (`paper_trade_alert`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertConfig {
    /// Alert when equity falls this many % below its peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_drawdown_pct: Option<f64>,
    /// Alert when equity falls this many % within a UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_loss_pct: Option<f64>,
    /// Alert when no candle arrives for this many hours (a data gap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_trade_hours: Option<f64>,
    /// One alert per fill.
    #[serde(default)]
    pub on_every_fill: bool,
    /// Least time between two alerts of one rule [default: 60].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_minutes: Option<f64>,
}

/// Default cool-down between two alerts of one rule.
pub const DEFAULT_COOLDOWN_MINUTES: f64 = 60.0;

impl AlertConfig {
    pub fn cooldown_ms(&self) -> i64 {
        (self.cooldown_minutes.unwrap_or(DEFAULT_COOLDOWN_MINUTES) * 60_000.0) as i64
    }
}

/// The position a run holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PositionView {
    /// long or short.
    pub side: String,
    pub qty: f64,
    pub entry_price: f64,
    pub entry_time: chrono::DateTime<chrono::Utc>,
    /// Profit at the last bar's close before the exit fee.
    pub unrealized_pnl: f64,
}

/// A run's performance after its last bar.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PerformanceSnapshot {
    /// Cash plus the position marked at the last close.
    pub equity: f64,
    pub return_pct: f64,
    pub max_drawdown_pct: f64,
    pub drawdown_pct: f64,
    /// Closed trades.
    pub trades: u64,
    pub win_rate_pct: Option<f64>,
    pub fees_paid: f64,
    pub open_position: Option<PositionView>,
    /// Open time and close of the last bar processed.
    pub last_bar_time: Option<chrono::DateTime<chrono::Utc>>,
    pub last_close: Option<f64>,
    pub bars_traded: u64,
}

pub fn ms_time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The snapshot of a run's stored state.
pub fn snapshot(state: &PaperState) -> PerformanceSnapshot {
    let p: &Performance = &state.performance;
    let last = state.last_bar;
    let open_position = state.sim.position().map(|pos| {
        let close = last.map_or(pos.entry_price, |c| c.close);
        let gross = match pos.side {
            pipelines::graph::Side::Long => (close - pos.entry_price) * pos.qty,
            pipelines::graph::Side::Short => (pos.entry_price - close) * pos.qty,
        };
        PositionView { side: pos.side.as_str().into(), qty: pos.qty, entry_price: pos.entry_price, entry_time: ms_time(pos.entry_time), unrealized_pnl: gross }
    });
    PerformanceSnapshot {
        equity: p.equity,
        return_pct: p.return_pct(),
        max_drawdown_pct: p.max_drawdown_pct,
        drawdown_pct: p.drawdown_pct(),
        trades: p.trades,
        win_rate_pct: p.win_rate_pct(),
        fees_paid: p.fees_paid,
        open_position,
        last_bar_time: last.map(|c| ms_time(c.open_time)),
        last_close: last.map(|c| c.close),
        bars_traded: state.bars_traded,
    }
}

/// A paper-trading run as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaperRun {
    pub id: Uuid,
    pub user_id: Uuid,
    pub strategy_id: Uuid,
    pub strategy_version_id: Uuid,
    /// scheduled (until its first tick), active, paused or stopped (final).
    pub status: PaperStatus,
    #[sqlx(json)]
    pub schedule: Schedule,
    #[sqlx(json)]
    pub alert_config: AlertConfig,
    /// Equity, return, drawdown, trades, win rate, open position, last bar (null before the first traded bar).
    #[schema(value_type = Option<PerformanceSnapshot>)]
    pub performance_snapshot: Option<Value>,
    /// First bar its indicators see (the warm-up's first bar, or `startAt`).
    pub origin_time: chrono::DateTime<chrono::Utc>,
    /// First bar it trades.
    pub trade_from: chrono::DateTime<chrono::Utc>,
    /// Open time of the last bar processed.
    pub last_bar_time: Option<chrono::DateTime<chrono::Utc>>,
    pub bars_seen: i64,
    pub bars_traded: i64,
    pub last_execution_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last tick failed, if it did.
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub stopped_at: Option<chrono::DateTime<chrono::Utc>>,
}

const COLUMNS: &str = "r.id, r.user_id, v.strategy_id, r.strategy_version_id, r.status, r.schedule, r.alert_config,
    r.performance_snapshot, r.origin_time, r.trade_from, r.last_bar_time, r.bars_seen, r.bars_traded, r.last_execution_at,
    r.last_error, r.created_at, r.updated_at, r.stopped_at";
const FROM: &str = "paper_trade_runs r JOIN strategy_versions v ON v.id = r.strategy_version_id";

/// A new run's row.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub user: Uuid,
    pub strategy_version: Uuid,
    pub schedule: &'a Schedule,
    pub alerts: &'a AlertConfig,
    pub origin: i64,
    pub trade_from: i64,
}

/// Inserts a `scheduled` run; returns its id.
pub async fn insert(db: &mut PgConnection, r: &NewRun<'_>) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO paper_trade_runs (user_id, strategy_version_id, status, schedule, alert_config, origin_time, trade_from)
         VALUES ($1, $2, 'scheduled', $3, $4, $5, $6) RETURNING id",
    )
    .bind(r.user)
    .bind(r.strategy_version)
    .bind(sqlx::types::Json(r.schedule))
    .bind(sqlx::types::Json(r.alerts))
    .bind(ms_time(r.origin))
    .bind(ms_time(r.trade_from))
    .fetch_one(db)
    .await
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<PaperRun>> {
    sqlx::query_as::<_, PaperRun>(&format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1")).bind(id).fetch_optional(db).await
}

/// A user's runs (everyone's for `None`), optionally of one status, newest first, after a keyset cursor.
pub async fn list(db: impl PgExecutor<'_>, user: Option<Uuid>, status: Option<PaperStatus>, after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>, limit: i64) -> sqlx::Result<Vec<PaperRun>> {
    sqlx::query_as::<_, PaperRun>(&format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE ($1::uuid IS NULL OR r.user_id = $1) AND ($2::text IS NULL OR r.status = $2)
           AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3, $4))
         ORDER BY r.created_at DESC, r.id DESC LIMIT $5"
    ))
    .bind(user)
    .bind(status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// What a tick needs of a run, read under a row lock that holds until the caller's transaction
/// ends (two workers never advance one run at once).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Locked {
    pub id: Uuid,
    pub user_id: Uuid,
    pub strategy_version_id: Uuid,
    pub status: PaperStatus,
    #[sqlx(json)]
    pub schedule: Schedule,
    #[sqlx(json)]
    pub alert_config: AlertConfig,
    pub state: Option<Value>,
    pub alert_state: Value,
    pub origin_time: chrono::DateTime<chrono::Utc>,
    pub trade_from: chrono::DateTime<chrono::Utc>,
    pub last_bar_time: Option<chrono::DateTime<chrono::Utc>>,
    pub bars_seen: i64,
    pub graph: Value,
}

/// Locks run `id` for the caller's transaction.
pub async fn lock(db: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Locked>> {
    sqlx::query_as::<_, Locked>(
        "SELECT r.id, r.user_id, r.strategy_version_id, r.status, r.schedule, r.alert_config, r.state, r.alert_state,
                r.origin_time, r.trade_from, r.last_bar_time, r.bars_seen, v.graph_json AS graph
         FROM paper_trade_runs r JOIN strategy_versions v ON v.id = r.strategy_version_id
         WHERE r.id = $1 FOR UPDATE OF r",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Stores a run's state after bars were processed (or after it stopped, with `status`).
pub async fn save_state(db: &mut PgConnection, id: Uuid, state: &PaperState, alert_state: &Value, status: Option<PaperStatus>) -> sqlx::Result<()> {
    let snap = serde_json::to_value(snapshot(state)).unwrap_or(Value::Null);
    sqlx::query(
        "UPDATE paper_trade_runs SET state = $2, performance_snapshot = $3, alert_state = $4, bars_seen = $5, bars_traded = $6,
             last_bar_time = $7, last_execution_at = now(), last_error = NULL, updated_at = now(),
             status = coalesce($8, CASE WHEN status = 'scheduled' THEN 'active' ELSE status END),
             stopped_at = CASE WHEN $8 = 'stopped' THEN now() ELSE stopped_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(sqlx::types::Json(state))
    .bind(snap)
    .bind(alert_state)
    .bind(state.bars_seen as i64)
    .bind(state.bars_traded as i64)
    .bind(state.last_bar.map(|c| ms_time(c.open_time)))
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}

/// Sets a run's status (and `stopped_at` when it stops).
pub async fn set_status(db: impl PgExecutor<'_>, id: Uuid, status: PaperStatus) -> sqlx::Result<()> {
    sqlx::query("UPDATE paper_trade_runs SET status = $2, updated_at = now(), stopped_at = CASE WHEN $2 = 'stopped' THEN now() ELSE stopped_at END WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(db)
        .await?;
    Ok(())
}

/// Records why a tick failed (outside the failed tick's transaction).
pub async fn set_error(db: impl PgExecutor<'_>, id: Uuid, error: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE paper_trade_runs SET last_error = $2, updated_at = now() WHERE id = $1").bind(id).bind(error).execute(db).await?;
    Ok(())
}

/// The runs of the user that count against `paper_trades`, with the user row locked so that two
/// concurrent starts of one user cannot both take the last unit.
pub async fn lock_user_count(db: &mut PgConnection, user: Uuid) -> sqlx::Result<i32> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(user).execute(&mut *db).await?;
    crate::services::quotas::paper_trades_in_use(&mut *db, user).await
}

