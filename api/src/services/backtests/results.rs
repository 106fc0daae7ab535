//! A run's results as the API shows them: the run if the caller may see it (its owner and admins;
//! anyone else gets a 404), its trade log and equity curve from the lake (paged, by combination),
//! the equity chart, and runs compared side by side on one time axis.

use std::collections::BTreeMap;

use pipelines::backtest::store;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::runs::{self, Run};
use crate::error::{ApiError, ApiResult};
use crate::model::RunStatus;
use crate::services::users::User;

/// A run `user` may see; 404 otherwise.
pub async fn visible(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Run> {
    match runs::get(pool, id).await? {
        Some(r) if user.can_write(r.user_id) => Ok(r),
        _ => Err(ApiError::NotFound(format!("backtest run {id} not found"))),
    }
}

/// A visible run whose results exist (409 until it has succeeded).
pub async fn finished(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Run> {
    let run = visible(pool, user, id).await?;
    if run.status != RunStatus::Succeeded {
        return Err(ApiError::Conflict(format!("run {} is {}: results are available once it has succeeded", run.id, run.status)));
    }
    Ok(run)
}

/// The combination asked for (default: the best, `bestCombo`), checked against the run's.
pub fn combo_of(run: &Run, combo: Option<i64>) -> ApiResult<i64> {
    let k = combo.unwrap_or(run.best_combo.unwrap_or(0) as i64);
    if k < 0 || k >= run.combinations as i64 {
        return Err(ApiError::BadRequest(format!("combo must be 0 to {} for this run", run.combinations - 1)));
    }
    Ok(k)
}

fn iso_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)).unwrap_or_default()
}

/// A closed trade.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TradeRow {
    pub trade_no: i64,
    pub side: String,
    pub entry_time: String,
    pub entry_price: f64,
    pub exit_time: String,
    pub exit_price: f64,
    pub qty: f64,
    pub fees: f64,
    pub pnl: f64,
    pub return_pct: f64,
    pub exit_reason: String,
    pub bars_held: i64,
}

impl From<store::StoredTrade> for TradeRow {
    fn from(t: store::StoredTrade) -> Self {
        TradeRow {
            trade_no: t.trade_no,
            side: t.side,
            entry_time: iso_us(t.entry_time_us),
            entry_price: t.entry_price,
            exit_time: iso_us(t.exit_time_us),
            exit_price: t.exit_price,
            qty: t.qty,
            fees: t.fees,
            pnl: t.pnl,
            return_pct: t.return_pct,
            exit_reason: t.exit_reason,
            bars_held: t.bars_held,
        }
    }
}

/// Trades of a finished run's combination after trade number `after`, at most `limit`.
pub async fn trades(pool: &PgPool, lake: &lake::Lake, user: &User, id: Uuid, combo: Option<i64>, after: i64, limit: usize) -> ApiResult<Vec<TradeRow>> {
    let run = finished(pool, user, id).await?;
    let combo = combo_of(&run, combo)?;
    Ok(store::read_trades(lake, &id.to_string(), combo, after, Some(limit)).await?.into_iter().map(TradeRow::from).collect())
}

/// One point of an equity curve.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EquityPoint {
    pub time: String,
    pub equity: f64,
    /// Epoch µs of `time` (the page cursor).
    #[serde(skip)]
    pub time_us: i64,
}

/// Equity of a finished run's combination after `after_us`, at most `limit` points.
pub async fn equity(pool: &PgPool, lake: &lake::Lake, user: &User, id: Uuid, combo: Option<i64>, after_us: Option<i64>, limit: usize) -> ApiResult<Vec<EquityPoint>> {
    let run = finished(pool, user, id).await?;
    let points = store::read_equity(lake, &id.to_string(), combo_of(&run, combo)?, after_us, Some(limit)).await?;
    Ok(points.into_iter().map(|(t, e)| EquityPoint { time: iso_us(t), equity: e, time_us: t }).collect())
}

/// The equity curve of a finished run's combination as an SVG chart (`width` × `height` pixels), drawdowns shaded.
pub async fn equity_chart(pool: &PgPool, lake: &lake::Lake, user: &User, id: Uuid, combo: Option<i64>, width: u32, height: u32) -> ApiResult<String> {
    if !(200..=4000).contains(&width) || !(150..=3000).contains(&height) {
        return Err(ApiError::BadRequest("width must be 200 to 4000 and height 150 to 3000".into()));
    }
    let run = finished(pool, user, id).await?;
    let points = store::read_equity(lake, &id.to_string(), combo_of(&run, combo)?, None, None).await?;
    let title = format!("{} {} {} · run {}", run.exchange, run.symbol, run.timeframe, &id.to_string()[..8]);
    Ok(crate::svg::equity_chart(&points, &title, width, height))
}

/// Runs side by side: each one's metrics, and their equity curves on one time axis.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub runs: Vec<Run>,
    /// The union of the curves' times (evenly thinned to `maxPoints`).
    pub times: Vec<String>,
    /// Per run (in `ids` order): equity at each of `times`, null where the run has no point.
    pub equity: Vec<Vec<Option<f64>>>,
}

/// Compares 2 to 10 finished runs of `user` (each by its best combination), at most `max_points` (10 to 5000) times.
pub async fn compare(pool: &PgPool, lake: &lake::Lake, user: &User, ids: &[Uuid], max_points: usize) -> ApiResult<Comparison> {
    if !(2..=10).contains(&ids.len()) {
        return Err(ApiError::BadRequest("ids: give 2 to 10 run ids, comma-separated".into()));
    }
    if !(10..=5000).contains(&max_points) {
        return Err(ApiError::BadRequest("maxPoints must be 10 to 5000".into()));
    }
    let mut runs = Vec::new();
    for id in ids {
        runs.push(finished(pool, user, *id).await?);
    }
    let wanted: Vec<(String, i64)> = runs.iter().map(|r| (r.id.to_string(), r.best_combo.unwrap_or(0) as i64)).collect();
    let series = store::read_curves(lake, &wanted).await?;
    let mut times: Vec<i64> = series.values().flatten().map(|p| p.0).collect();
    times.sort_unstable();
    times.dedup();
    if times.len() > max_points {
        let last = times.len() - 1;
        times = (0..max_points).map(|i| times[i * last / (max_points - 1)]).collect();
    }
    let equity = wanted
        .iter()
        .map(|w| {
            let s: BTreeMap<i64, f64> = series.get(w).map(|v| v.iter().copied().collect()).unwrap_or_default();
            times.iter().map(|t| s.get(t).copied()).collect()
        })
        .collect();
    Ok(Comparison { runs, times: times.into_iter().map(iso_us).collect(), equity })
}
