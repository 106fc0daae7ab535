//! Starting, reading, pausing, resuming and stopping paper-trading runs, with their rules: the
//! version must be readable and its graph valid for the `$param` values, the market must have
//! candles in the lake at that timeframe, the costs must be sane, and the user's `paper_trades`
//! quota (active and scheduled runs) must have room. A rejected request changes nothing.

use std::collections::BTreeMap;

use lake::{LakeTable, Market, Span};
use pipelines::backtest::{count_candles, BacktestParams, Stepper};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::runs::{self, AlertConfig, NewRun, PaperRun, Schedule};
use super::tick::{self, RunnerCache};
use crate::error::{ApiError, ApiResult};
use crate::model::{PaperStatus, QuotaMetric};
use crate::services::quotas::{self, OverQuota};
use crate::services::strategies;
use crate::services::users::User;

/// Bars a run without `startAt` warms its indicators on before it trades.
pub const WARMUP_BARS: usize = 1000;

/// A run to start.
#[derive(Debug, Clone)]
pub struct NewPaperRun {
    pub strategy_version_id: Uuid,
    pub schedule: Schedule,
    pub alert_config: AlertConfig,
}

fn check_alerts(a: &AlertConfig) -> ApiResult<()> {
    for (field, v) in [("maxDrawdownPct", a.max_drawdown_pct), ("dailyLossPct", a.daily_loss_pct), ("noTradeHours", a.no_trade_hours), ("cooldownMinutes", a.cooldown_minutes)] {
        if let Some(v) = v {
            let max = if field.ends_with("Pct") { 100.0 } else { 1e6 };
            if !(v.is_finite() && v > 0.0 && v <= max) {
                return Err(ApiError::invalid(&format!("alertConfig.{field}"), format!("alertConfig.{field} must be a number in (0, {max}], got {v}")));
            }
        }
    }
    Ok(())
}

/// The timeframes the lake holds candles of for `market`'s exchange and symbol.
async fn timeframes_of(lake: &lake::Lake, market: &Market) -> ApiResult<Vec<String>> {
    if lake.version(LakeTable::Candles).await?.is_none() {
        return Ok(Vec::new());
    }
    let ctx = query::session_with(lake, &query::Tables::none().latest(LakeTable::Candles)).await?;
    let df = ctx
        .table("candles")
        .await?
        .filter(datafusion::prelude::col("exchange").eq(datafusion::prelude::lit(market.exchange())).and(datafusion::prelude::col("symbol").eq(datafusion::prelude::lit(market.symbol()))))?
        .select_columns(&["timeframe"])?
        .distinct()?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        // the lake reads strings as views; one plain type here
        let col = lake::utf8(b.column(0)).map_err(|e| ApiError::Internal(e.into()))?;
        out.extend(col.iter().flatten().map(str::to_string));
    }
    out.sort_by_key(|t| t.parse::<lake::Timeframe>().map(|t| t.millis()).unwrap_or(i64::MAX));
    Ok(out)
}

/// The origin (first bar the indicators see) and first traded bar of a new run.
async fn start_points(lake: &lake::Lake, market: &Market, start_at: Option<i64>) -> ApiResult<(i64, i64)> {
    if let Some(s) = start_at {
        return Ok((s, s));
    }
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMicrosecondType;
    let ctx = query::session_with(lake, &query::Tables::none().latest(LakeTable::Candles)).await?;
    let df = pipelines::backtest::run::market_candles(&ctx, market, Span::ALL)
        .await?
        .select_columns(&["open_time"])?
        .sort(vec![datafusion::prelude::col("open_time").sort(false, false)])?
        .limit(0, Some(WARMUP_BARS))?;
    let times: Vec<i64> = df.collect().await?.iter().flat_map(|b| b.column(0).as_primitive::<TimestampMicrosecondType>().values().to_vec()).map(|us| us.div_euclid(1000)).collect();
    let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else {
        return Err(ApiError::invalid("schedule.symbol", format!("the lake has no {market} candles")));
    };
    Ok((first, last + 1))
}

/// Fails with `quota_exceeded` unless `user` may have one more active or scheduled run; the user
/// row stays locked until the caller's transaction ends, so concurrent starts count each other.
async fn check_room(tx: &mut sqlx::PgConnection, user: Uuid) -> ApiResult<()> {
    let used = runs::lock_user_count(tx, user).await?;
    let (plan, limit) = quotas::limit(&mut *tx, user, QuotaMetric::PaperTrades).await?;
    match limit.filter(|l| used >= *l) {
        Some(l) => Err(OverQuota { metric: QuotaMetric::PaperTrades, plan, limit: l, window_end: chrono::Utc::now() }.into()),
        None => Ok(()),
    }
}

/// Starts a run for `user` (see the module's rules); it trades from its first tick, queued now.
pub async fn create(pool: &PgPool, lake: &lake::Lake, user: &User, req: &NewPaperRun) -> ApiResult<PaperRun> {
    let s = &req.schedule;
    let graph = strategies::readable_graph(pool, user, req.strategy_version_id).await?;
    let graph = pipelines::graph::validate(&graph).map_err(pipelines::Error::Graph)?;
    let market = s.market()?;
    let mut p = BacktestParams::new(market.clone());
    (p.initial_capital, p.fee_rate, p.slippage, p.fill_policy) = (s.capital, s.fee_rate, s.slippage, s.fill_policy);
    p.validate().map_err(|e| match e {
        pipelines::Error::InvalidField { field, message } => {
            let api = match field.as_str() {
                "initial_capital" => "capital".to_string(),
                f => crate::error::camel(f),
            };
            ApiError::invalid(&format!("schedule.{api}"), message.replacen(&field, &api, 1))
        }
        e => e.into(),
    })?;
    check_alerts(&req.alert_config)?;
    if let Some(unknown) = s.params.keys().find(|k| !graph.params.iter().any(|(n, _)| n == *k)) {
        return Err(ApiError::invalid("schedule.params", format!("the strategy has no $param '{unknown}' (it has: {})", graph.params.iter().map(|p| p.0.as_str()).collect::<Vec<_>>().join(", "))));
    }
    Stepper::new(&graph, &s.params, s.sim_config()).map_err(|e| ApiError::invalid("schedule.params", e.to_string()))?;
    if count_candles(lake, &market, Span::ALL, None).await? == 0 {
        let have = timeframes_of(lake, &market).await?;
        if have.is_empty() {
            return Err(ApiError::validation(
                format!("unknown market: the lake has no {} candles on {} (ingest them with bb ingest)", market.symbol(), market.exchange()),
                json!({"field": "schedule.symbol", "exchange": market.exchange(), "symbol": market.symbol()}),
            ));
        }
        return Err(ApiError::validation(
            format!("the strategy cannot run on {}: the lake has {} candles of {} on {} only at {}", market.timeframe(), market.timeframe(), market.symbol(), market.exchange(), have.join(", ")),
            json!({"field": "schedule.timeframe", "timeframe": market.timeframe(), "available": have}),
        ));
    }
    let (origin, trade_from) = start_points(lake, &market, s.start_at.map(|t| t.timestamp_millis())).await?;

    let mut tx = pool.begin().await?;
    check_room(&mut tx, user.id).await?;
    let id = runs::insert(&mut tx, &NewRun { user: user.id, strategy_version: req.strategy_version_id, schedule: s, alerts: &req.alert_config, origin, trade_from }).await?;
    tick::enqueue(&mut tx, id).await?;
    let run = runs::get(&mut *tx, id).await?.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("run vanished")))?;
    tx.commit().await?;
    Ok(run)
}

/// Run `id` if `user` may see it (its owner, or an admin); 404 otherwise.
pub async fn visible(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<PaperRun> {
    match runs::get(pool, id).await? {
        Some(r) if r.user_id == user.id || user.is_admin() => Ok(r),
        _ => Err(ApiError::NotFound(format!("paper trade {id} not found"))),
    }
}

/// Run `id` if `user` may change it (its owner); 404 otherwise.
async fn owned(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<PaperRun> {
    match runs::get(pool, id).await? {
        Some(r) if user.can_write(r.user_id) => Ok(r),
        _ => Err(ApiError::NotFound(format!("paper trade {id} not found"))),
    }
}

/// Moves run `id` to `target`: `paused` (from scheduled or active), `active` (resumes a paused run,
/// which catches up every bar it missed; needs room in the quota), or `stopped` (final: a position
/// still open closes at the last bar's close). Stopped runs change no more (409).
pub async fn set_status(pool: &PgPool, lake: &lake::Lake, cache: &RunnerCache, user: &User, id: Uuid, target: PaperStatus) -> ApiResult<PaperRun> {
    let run = owned(pool, user, id).await?;
    if run.status == PaperStatus::Stopped {
        if target == PaperStatus::Stopped {
            return Ok(run);
        }
        return Err(ApiError::Conflict(format!("paper trade {id} is stopped, which is final; start a new one")));
    }
    match target {
        PaperStatus::Scheduled => return Err(ApiError::invalid("status", "status must be paused, active or stopped")),
        PaperStatus::Stopped => tick::stop(pool, lake, cache, id).await?,
        PaperStatus::Paused => {
            sqlx::query("UPDATE paper_trade_runs SET status = 'paused', updated_at = now() WHERE id = $1 AND status IN ('scheduled', 'active')").bind(id).execute(pool).await?;
        }
        PaperStatus::Active => {
            if run.status == PaperStatus::Paused {
                let mut tx = pool.begin().await?;
                check_room(&mut tx, run.user_id).await?;
                sqlx::query("UPDATE paper_trade_runs SET status = CASE WHEN bars_seen > 0 THEN 'active' ELSE 'scheduled' END, updated_at = now() WHERE id = $1 AND status = 'paused'")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tick::enqueue(&mut tx, id).await?;
                tx.commit().await?;
            }
        }
    }
    visible(pool, user, id).await
}

/// `$param` values as a number per name; a list (a sweep) is refused: a run trades one combination.
pub fn param_values(v: Option<&serde_json::Value>) -> ApiResult<BTreeMap<String, f64>> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let obj = v.as_object().ok_or_else(|| ApiError::invalid("schedule.params", "schedule.params must be an object of numbers"))?;
    obj.iter()
        .map(|(k, v)| match v.as_f64() {
            Some(x) if x.is_finite() => Ok((k.clone(), x)),
            _ => Err(ApiError::invalid("schedule.params", format!("schedule.params.{k} must be one number (a paper trade runs one combination), got {v}"))),
        })
        .collect()
}
