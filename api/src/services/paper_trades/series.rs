//! A run's fills and equity curve as the API pages them, read from Postgres (where ticks write
//! them; the lake's `paper_fills` / `paper_equity` are flushed copies for SQL).

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// One fill of a run.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FillRow {
    /// 1, 2, ... in the order the fills happened (the page cursor).
    pub seq: i32,
    /// Open time of the bar it filled on.
    pub time: chrono::DateTime<chrono::Utc>,
    /// buy or sell.
    pub action: String,
    /// The position it opens or closes: long or short.
    pub side: String,
    pub price: f64,
    pub qty: f64,
    pub fee: f64,
    /// Why a position closed (signal, stop_loss, take_profit, trailing_stop, reversal, end_of_data); null for an entry.
    pub exit_reason: Option<String>,
    /// Net profit of the closed trade, both fees included; null for an entry.
    pub pnl: Option<f64>,
    /// Cash after the fill.
    pub cash: f64,
}

/// One point of a run's equity curve (after each traded bar, at its close).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaperEquityPoint {
    pub time: chrono::DateTime<chrono::Utc>,
    pub equity: f64,
}

/// Fills of run `id` after `after_seq`, at most `limit`.
pub async fn fills(pool: &PgPool, id: Uuid, after_seq: i32, limit: i64) -> sqlx::Result<Vec<FillRow>> {
    sqlx::query_as(
        "SELECT seq, bar_time AS time, action, side, price, qty, fee, exit_reason, pnl, cash FROM paper_fills
         WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Equity of run `id` after `after` (bar open time), at most `limit` points.
pub async fn equity(pool: &PgPool, id: Uuid, after: Option<chrono::DateTime<chrono::Utc>>, limit: i64) -> sqlx::Result<Vec<PaperEquityPoint>> {
    sqlx::query_as(
        "SELECT bar_time AS time, equity FROM paper_equity WHERE run_id = $1 AND ($2::timestamptz IS NULL OR bar_time > $2)
         ORDER BY bar_time LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
