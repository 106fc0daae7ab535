//! Submitting a backtest: the version must be readable, its graph valid for the parameters, the
//! lake must hold the market's candles in the range; then, in one transaction, one unit of the
//! `backtests` quota is consumed, the run created `queued` and its job enqueued. A rejected
//! request changes nothing.

use lake::Span;
use pipelines::backtest::{count_candles, BacktestParams};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use super::runs::{self, Run};
use crate::error::{ApiError, ApiResult};
use crate::model::QuotaMetric;
use crate::services::users::User;
use crate::services::{jobs, quotas, strategies};

/// A backtest to run: the strategy version, the engine inputs (market, range, costs, the `$param`
/// combinations), and the `$param` values as the caller wrote them (stored with the run).
#[derive(Debug, Clone)]
pub struct BacktestRequest {
    pub strategy_version_id: Uuid,
    pub params: BacktestParams,
    pub param_values: Value,
}

fn ms_iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// Checks that the lake holds candles of the market in the range; the 422 says what it holds.
pub async fn check_market(lake: &lake::Lake, p: &BacktestParams) -> ApiResult<u64> {
    let n = count_candles(lake, &p.market, p.span(), None).await?;
    if n > 0 {
        return Ok(n);
    }
    let m = &p.market;
    let details = |field: &str| json!({"field": field, "exchange": m.exchange(), "symbol": m.symbol(), "timeframe": m.timeframe()});
    if count_candles(lake, m, Span::ALL, None).await? == 0 {
        return Err(ApiError::validation(format!("unknown market: the lake has no {m} candles (ingest them with bb ingest)"), details("symbol")));
    }
    Err(ApiError::validation(format!("no {m} candles between {} and {}", ms_iso(p.start.unwrap_or(0)), ms_iso(p.end.unwrap_or(0))), details("from")))
}

/// Queues a backtest for `user`: all or nothing (see the module's rules). `attempts`: how many
/// attempts its job gets before it is dead-lettered.
pub async fn submit(pool: &PgPool, lake: &lake::Lake, user: &User, req: &BacktestRequest, attempts: i32) -> ApiResult<Run> {
    let p = &req.params;
    let graph = strategies::readable_graph(pool, user, req.strategy_version_id).await?;
    if p.start.is_none() || p.end.is_none() {
        return Err(ApiError::invalid("from", "a backtest through the API needs from and to"));
    }
    p.validate()?;
    let graph = pipelines::graph::validate(&graph).map_err(pipelines::Error::Graph)?;
    pipelines::backtest::compile::compile(&graph, &p.params.combinations()).map_err(|e| ApiError::invalid("params", e.to_string()))?;
    check_market(lake, p).await?;

    let mut tx = pool.begin().await?;
    if let Err(over) = quotas::consume(&mut tx, user.id, QuotaMetric::Backtests).await? {
        return Err(over.into());
    }
    let id = runs::insert(&mut tx, user.id, req.strategy_version_id, p, &req.param_values).await?;
    jobs::enqueue_backtest(&mut tx, id, attempts).await?;
    let run = runs::get(&mut *tx, id).await?.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("run vanished")))?;
    tx.commit().await?;
    Ok(run)
}
