//! Backtest runs: `POST /backtests` (quota, queue, 202), the run and its status, trades and equity
//! from the lake, an equity chart, side-by-side comparison, and progress as Server-Sent Events.
//! A run is visible to its owner (and admins) only; anyone else gets a 404.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::backtests::{self as db, NewRun, Run};
use crate::db::{jobs, quotas};
use crate::error::{ApiError, ApiResult};
use crate::events::Kind;
use crate::http::json::ApiJson;
use crate::http::AppState;
use crate::jobs::backtest::{param_values, params_for};
use crate::routes::strategies::{keyset_cursor, parse_cursor, Page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/backtests", get(list).post(create))
        .route("/backtests/compare", get(compare))
        .route("/backtests/{id}", get(fetch))
        .route("/backtests/{id}/trades", get(trades))
        .route("/backtests/{id}/equity", get(equity))
        .route("/backtests/{id}/equity.svg", get(equity_svg))
        .route("/backtests/{id}/events", get(events))
}

/// A backtest request. `params` maps each `$param` of the graph to a number, or to a list of
/// numbers to sweep (every combination of the lists runs, at most 1000).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBacktest {
    pub strategy_version_id: Uuid,
    pub exchange: String,
    pub symbol: String,
    /// e.g. `1m`, `1h`, `1d`.
    pub timeframe: String,
    /// Range start, RFC 3339, inclusive.
    pub from: chrono::DateTime<chrono::Utc>,
    /// Range end, RFC 3339, exclusive.
    pub to: chrono::DateTime<chrono::Utc>,
    /// Default 10000.
    pub initial_capital: Option<f64>,
    /// Fraction of notional per fill, default 0.001.
    pub fee_rate: Option<f64>,
    /// Fraction of price per fill, default 0.
    pub slippage: Option<f64>,
    /// `next_open` (default) or `close`.
    pub fill_policy: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
}

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::validation(message, json!({"field": field}))
}

/// Loads a run the caller may see (404 otherwise).
async fn visible(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Run> {
    match db::get(&state.pool, id).await? {
        Some(r) if user.can_write(r.user_id) => Ok(r),
        _ => Err(ApiError::NotFound(format!("backtest run {id} not found"))),
    }
}

fn ms_iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// Checks that the lake holds candles of the market in the range; the 422 says what it does hold.
async fn check_market(state: &AppState, p: &pipelines::backtest::BacktestParams) -> ApiResult<u64> {
    let lake_err = |e: pipelines::Error| ApiError::Internal(e.into());
    let n = pipelines::backtest::count_candles(&state.lake, p, None).await.map_err(lake_err)?;
    if n > 0 {
        return Ok(n);
    }
    let mut whole = p.clone();
    (whole.start, whole.end) = (None, None);
    let market = format!("{} {} {}", p.exchange, p.symbol, p.timeframe);
    if pipelines::backtest::count_candles(&state.lake, &whole, None).await.map_err(lake_err)? == 0 {
        return Err(ApiError::validation(
            format!("unknown market: the lake has no {market} candles (ingest them with bb ingest)"),
            json!({"field": "symbol", "exchange": p.exchange, "symbol": p.symbol, "timeframe": p.timeframe}),
        ));
    }
    Err(ApiError::validation(
        format!("no {market} candles between {} and {}", ms_iso(p.start.unwrap_or(0)), ms_iso(p.end.unwrap_or(0))),
        json!({"field": "from", "exchange": p.exchange, "symbol": p.symbol, "timeframe": p.timeframe}),
    ))
}

/// Queues a backtest of a strategy version (yours or a public one). Checks the inputs and the
/// lake, consumes one unit of the `backtests` quota, creates the run and its job: all or nothing.
#[utoipa::path(post, path = "/api/v1/backtests", tag = "backtests", security(("bearer" = [])), request_body = CreateBacktest,
    responses((status = 202, body = Run, description = "queued"),
        (status = 403, description = "quota_exceeded: details has metric, limit, windowEnd"),
        (status = 404, description = "no such strategy version, or not yours"),
        (status = 422, description = "validation_failed: a field, a parameter, an unknown market or an empty range")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(body): ApiJson<CreateBacktest>) -> ApiResult<impl IntoResponse> {
    let version = sqlx::query_as::<_, (Uuid, String, Value)>(
        "SELECT s.owner_id, s.visibility, v.graph_json FROM strategy_versions v JOIN strategies s ON s.id = v.strategy_id WHERE v.id = $1",
    )
    .bind(body.strategy_version_id)
    .fetch_optional(&state.pool)
    .await?;
    let graph_json = match version {
        Some((owner, visibility, g)) if user.can_read(owner, &visibility) => g,
        _ => return Err(ApiError::NotFound(format!("strategy version {} not found", body.strategy_version_id))),
    };
    let timeframe = lake::Timeframe::parse(&body.timeframe).map_err(|e| invalid("timeframe", e.to_string()))?;
    if body.to <= body.from {
        return Err(invalid("to", "to must be after from"));
    }
    let finite = |field: &str, v: f64, ok: bool, rule: &str| if v.is_finite() && ok { Ok(v) } else { Err(invalid(field, format!("{field} {rule}, got {v}"))) };
    let capital = body.initial_capital.unwrap_or(10_000.0);
    let capital = finite("initialCapital", capital, capital > 0.0, "must be > 0")?;
    let fee = body.fee_rate.unwrap_or(0.001);
    let fee = finite("feeRate", fee, (0.0..0.5).contains(&fee), "must be in [0, 0.5)")?;
    let slippage = body.slippage.unwrap_or(0.0);
    let slippage = finite("slippage", slippage, (0.0..0.5).contains(&slippage), "must be in [0, 0.5)")?;
    let fill_policy = body.fill_policy.clone().unwrap_or_else(|| "next_open".into());
    if !matches!(fill_policy.as_str(), "next_open" | "close") {
        return Err(invalid("fillPolicy", format!("fillPolicy must be next_open or close, got '{fill_policy}'")));
    }
    let params = body.params.clone().unwrap_or_else(|| json!({}));
    let values = param_values(&params).map_err(|m| invalid("params", m))?;
    let combinations = values.combinations();
    let graph = pipelines::graph::validate(&graph_json)
        .map_err(|issues| ApiError::validation("the strategy version's graph is invalid", json!({"issues": issues})))?;
    pipelines::backtest::compile::compile(&graph, &combinations).map_err(|e| invalid("params", e.to_string()))?;
    let new = NewRun {
        user_id: user.id(),
        strategy_version_id: body.strategy_version_id,
        exchange: body.exchange.clone(),
        symbol: body.symbol.clone(),
        timeframe: timeframe.to_string(),
        range_start: body.from,
        range_end: body.to,
        initial_capital: capital,
        fee_rate: fee,
        slippage,
        fill_policy,
        params,
        combinations: combinations.len() as i32,
    };
    let p = params_for(&new).map_err(|m| invalid("params", m))?;
    check_market(&state, &p).await?;

    let mut tx = state.pool.begin().await?;
    if let Err(over) = quotas::consume(&mut tx, user.id(), "backtests").await? {
        return Err(ApiError::QuotaExceeded {
            message: format!(
                "your {} plan allows {} backtest(s) a day; the quota resets at {}. Upgrade your plan for more.",
                over.plan,
                over.limit,
                over.window_end.to_rfc3339()
            ),
            details: json!({"metric": over.metric, "plan": over.plan, "limit": over.limit, "windowEnd": over.window_end,
                "upgrade": "upgrade to premium for 200 backtests a day"}),
        });
    }
    let id = db::insert(&mut tx, &new).await?;
    jobs::enqueue_backtest(&mut tx, id, state.job_attempts).await?;
    let run = db::get(&mut *tx, id).await?.ok_or_else(|| anyhow::anyhow!("run vanished"))?;
    tx.commit().await?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, format!("/api/v1/backtests/{id}"))], Json(run)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub strategy_id: Option<Uuid>,
    /// queued, running, succeeded or failed.
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

fn limit(l: Option<i64>, default: i64, max: i64) -> ApiResult<i64> {
    let l = l.unwrap_or(default);
    if (1..=max).contains(&l) { Ok(l) } else { Err(ApiError::BadRequest(format!("limit must be 1 to {max}"))) }
}

/// Your runs, newest first (of one strategy with `strategyId`).
#[utoipa::path(get, path = "/api/v1/backtests", tag = "backtests", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Run>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Run>>> {
    let n = limit(q.limit, 20, 100)?;
    if let Some(s) = &q.status {
        if !matches!(s.as_str(), "queued" | "running" | "succeeded" | "failed") {
            return Err(ApiError::BadRequest(format!("status '{s}': one of queued, running, succeeded, failed")));
        }
    }
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let items = db::list(&state.pool, Some(user.id()), q.strategy_id, q.status.as_deref(), after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |r| keyset_cursor(r.created_at, r.id))))
}

/// A run: its status and progress, and once succeeded its metrics and anomaly flags.
#[utoipa::path(get, path = "/api/v1/backtests/{id}", tag = "backtests", security(("bearer" = [])),
    responses((status = 200, body = Run), (status = 404, description = "no such run, or not yours")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Run>> {
    Ok(Json(visible(&state, &user, id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct SeriesQuery {
    /// Combination of a sweep (default: the best one, `bestCombo`).
    pub combo: Option<i64>,
    /// From `nextCursor` of the previous page.
    pub cursor: Option<i64>,
    /// Page size: trades 1 to 1000 (default 100); equity 1 to 10000 (default 1000).
    pub limit: Option<i64>,
}

fn combo_of(run: &Run, combo: Option<i64>) -> ApiResult<i64> {
    let k = combo.unwrap_or(run.best_combo.unwrap_or(0) as i64);
    if k < 0 || k >= run.combinations as i64 {
        return Err(ApiError::BadRequest(format!("combo must be 0 to {} for this run", run.combinations - 1)));
    }
    Ok(k)
}

fn succeeded(run: &Run) -> ApiResult<()> {
    if run.status == "succeeded" {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!("run {} is {}: results are available once it has succeeded", run.id, run.status)))
    }
}

/// Runs `sql` over one lake table registered as `t`.
async fn lake_query(state: &AppState, table: lake::LakeTable, sql: &str) -> ApiResult<Vec<RecordBatch>> {
    let ctx = datafusion::prelude::SessionContext::new();
    state.lake.register_as(&ctx, table, "t", None).await.map_err(|e| ApiError::Internal(e.into()))?;
    let df = ctx.sql(sql).await.map_err(|e| ApiError::Internal(e.into()))?;
    df.collect().await.map_err(|e| ApiError::Internal(e.into()))
}

/// A string column as plain UTF-8 (Delta scans may hand out string views).
fn utf8(a: &arrow::array::ArrayRef) -> arrow::array::StringArray {
    arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).map(|c| c.as_string::<i32>().clone()).unwrap_or_else(|_| arrow::array::StringArray::from(vec![""; a.len()]))
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

/// A run's closed trades in order, from the lake (`backtest_trades`).
#[utoipa::path(get, path = "/api/v1/backtests/{id}/trades", tag = "backtests", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, body = Page<TradeRow>), (status = 404, description = "no such run, or not yours"), (status = 409, description = "not succeeded yet")))]
pub async fn trades(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<SeriesQuery>) -> ApiResult<Json<Page<TradeRow>>> {
    let run = visible(&state, &user, id).await?;
    succeeded(&run)?;
    let (combo, n) = (combo_of(&run, q.combo)?, limit(q.limit, 100, 1000)?);
    let after = q.cursor.unwrap_or(0);
    let sql = format!(
        "SELECT trade_no, side, entry_time, entry_price, exit_time, exit_price, qty, fees, pnl, return_pct, exit_reason, bars_held
         FROM t WHERE run_id = '{id}' AND combo = {combo} AND trade_no > {after} ORDER BY trade_no LIMIT {}",
        n + 1
    );
    let mut items = Vec::new();
    for b in lake_query(&state, lake::LakeTable::BacktestTrades, &sql).await? {
        let i64s = |c: usize| b.column(c).as_primitive::<Int64Type>().clone();
        let f64s = |c: usize| b.column(c).as_primitive::<Float64Type>().clone();
        let strs = |c: usize| utf8(b.column(c));
        let ts = |c: usize| b.column(c).as_primitive::<TimestampMicrosecondType>().clone();
        let (no, side, et, ep, xt, xp, qty, fees, pnl, ret, reason, held) =
            (i64s(0), strs(1), ts(2), f64s(3), ts(4), f64s(5), f64s(6), f64s(7), f64s(8), f64s(9), strs(10), i64s(11));
        for r in 0..b.num_rows() {
            items.push(TradeRow {
                trade_no: no.value(r),
                side: side.value(r).to_string(),
                entry_time: iso_us(et.value(r)),
                entry_price: ep.value(r),
                exit_time: iso_us(xt.value(r)),
                exit_price: xp.value(r),
                qty: qty.value(r),
                fees: fees.value(r),
                pnl: pnl.value(r),
                return_pct: ret.value(r),
                exit_reason: reason.value(r).to_string(),
                bars_held: held.value(r),
            });
        }
    }
    Ok(Json(Page::from_overfetch(items, n, |t| t.trade_no.to_string())))
}

/// One point of an equity curve.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EquityPoint {
    pub time: String,
    pub equity: f64,
}

/// (time µs, equity) of a run's combinations, in time order.
async fn equity_series(state: &AppState, wanted: &[(Uuid, i64)], after_us: Option<i64>, limit: Option<i64>) -> ApiResult<BTreeMap<(Uuid, i64), Vec<(i64, f64)>>> {
    let filter = wanted.iter().map(|(id, k)| format!("(run_id = '{id}' AND combo = {k})")).collect::<Vec<_>>().join(" OR ");
    let after = after_us.map(|t| format!(" AND CAST(equity_time AS BIGINT) > {t}")).unwrap_or_default();
    let lim = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let sql = format!("SELECT run_id, combo, CAST(equity_time AS BIGINT) AS time_us, equity FROM t WHERE ({filter}){after} ORDER BY run_id, combo, time_us{lim}");
    let mut out: BTreeMap<(Uuid, i64), Vec<(i64, f64)>> = wanted.iter().map(|w| (*w, Vec::new())).collect();
    for b in lake_query(state, lake::LakeTable::BacktestEquity, &sql).await? {
        let (run, combo) = (utf8(b.column(0)), b.column(1).as_primitive::<Int64Type>());
        let (time, eq) = (b.column(2).as_primitive::<Int64Type>(), b.column(3).as_primitive::<Float64Type>());
        for r in 0..b.num_rows() {
            let key = (Uuid::parse_str(run.value(r)).unwrap_or_default(), combo.value(r));
            out.entry(key).or_default().push((time.value(r), eq.value(r)));
        }
    }
    Ok(out)
}

/// A run's equity curve (the initial capital at the first bar's open, then each bar's close), from the lake.
#[utoipa::path(get, path = "/api/v1/backtests/{id}/equity", tag = "backtests", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, body = Page<EquityPoint>), (status = 404, description = "no such run, or not yours"), (status = 409, description = "not succeeded yet")))]
pub async fn equity(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<SeriesQuery>) -> ApiResult<Json<Page<EquityPoint>>> {
    let run = visible(&state, &user, id).await?;
    succeeded(&run)?;
    let (combo, n) = (combo_of(&run, q.combo)?, limit(q.limit, 1000, 10_000)?);
    let series = equity_series(&state, &[(id, combo)], q.cursor, Some(n + 1)).await?;
    let page = Page::from_overfetch(series.into_values().next().unwrap_or_default(), n, |p| p.0.to_string());
    let items = page.items.into_iter().map(|(t, e)| EquityPoint { time: iso_us(t), equity: e }).collect();
    Ok(Json(Page { items, next_cursor: page.next_cursor }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ChartQuery {
    pub combo: Option<i64>,
    /// Pixels, 200 to 4000 (default 900).
    pub width: Option<u32>,
    /// Pixels, 150 to 3000 (default 400).
    pub height: Option<u32>,
}

/// The equity curve as an SVG chart, drawdowns shaded, drawn on the server.
#[utoipa::path(get, path = "/api/v1/backtests/{id}/equity.svg", tag = "backtests", security(("bearer" = [])), params(ChartQuery),
    responses((status = 200, content_type = "image/svg+xml", description = "the chart"), (status = 404, description = "no such run, or not yours"), (status = 409, description = "not succeeded yet")))]
pub async fn equity_svg(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<ChartQuery>) -> ApiResult<impl IntoResponse> {
    let run = visible(&state, &user, id).await?;
    succeeded(&run)?;
    let combo = combo_of(&run, q.combo)?;
    let (w, h) = (q.width.unwrap_or(900), q.height.unwrap_or(400));
    if !(200..=4000).contains(&w) || !(150..=3000).contains(&h) {
        return Err(ApiError::BadRequest("width must be 200 to 4000 and height 150 to 3000".into()));
    }
    let points = equity_series(&state, &[(id, combo)], None, None).await?.into_values().next().unwrap_or_default();
    let title = format!("{} {} {} · run {}", run.exchange, run.symbol, run.timeframe, &id.to_string()[..8]);
    let svg = crate::svg::equity_chart(&points, &title, w, h);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "private, max-age=3600")], svg))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct CompareQuery {
    /// 2 to 10 run ids, comma-separated.
    pub ids: String,
    /// Largest number of aligned time points returned (10 to 5000, default 500).
    pub max_points: Option<usize>,
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

/// Compares your runs: metrics side by side and equity curves aligned on time.
#[utoipa::path(get, path = "/api/v1/backtests/compare", tag = "backtests", security(("bearer" = [])), params(CompareQuery),
    responses((status = 200, body = Comparison), (status = 404, description = "a run does not exist or is not yours"), (status = 409, description = "a run has not succeeded")))]
pub async fn compare(State(state): State<AppState>, user: AuthUser, Query(q): Query<CompareQuery>) -> ApiResult<Json<Comparison>> {
    let ids: Vec<Uuid> = q
        .ids
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Uuid::parse_str(s.trim()).map_err(|_| ApiError::BadRequest(format!("ids: '{s}' is not a run id"))))
        .collect::<ApiResult<_>>()?;
    if !(2..=10).contains(&ids.len()) {
        return Err(ApiError::BadRequest("ids: give 2 to 10 run ids, comma-separated".into()));
    }
    let max_points = q.max_points.unwrap_or(500);
    if !(10..=5000).contains(&max_points) {
        return Err(ApiError::BadRequest("maxPoints must be 10 to 5000".into()));
    }
    let mut runs = Vec::new();
    for id in &ids {
        let run = visible(&state, &user, *id).await?;
        succeeded(&run)?;
        runs.push(run);
    }
    let wanted: Vec<(Uuid, i64)> = runs.iter().map(|r| (r.id, r.best_combo.unwrap_or(0) as i64)).collect();
    let series = equity_series(&state, &wanted, None, None).await?;
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
    Ok(Json(Comparison { runs, times: times.into_iter().map(iso_us).collect(), equity }))
}

/// What a run's event stream sends: status, progress, and at the end the metrics or the error.
fn run_event(run: &Run) -> Value {
    json!({"runId": run.id, "status": run.status, "progress": run.progress, "progressDetail": run.progress_detail,
        "attempts": run.attempts, "error": run.error, "metrics": run.metrics, "anomalies": run.anomalies,
        "startedAt": run.started_at, "finishedAt": run.finished_at})
}

struct RunStream {
    state: AppState,
    id: Uuid,
    rx: tokio::sync::broadcast::Receiver<crate::events::Event>,
    tick: tokio::time::Interval,
    last: Option<(String, f64, Option<Value>)>,
    first: bool,
    done: bool,
}

async fn next_run_event(mut s: RunStream) -> Option<(Result<SseEvent, Infallible>, RunStream)> {
    use tokio::sync::broadcast::error::RecvError;
    if s.done {
        return None;
    }
    loop {
        if s.first {
            s.first = false;
        } else {
            tokio::select! {
                r = s.rx.recv() => match r {
                    Ok(e) if e.kind == Kind::Run && e.id == s.id => {}
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                },
                _ = s.tick.tick() => {}
            }
        }
        let run = match db::get(&s.state.pool, s.id).await {
            Ok(Some(r)) => r,
            _ => return None,
        };
        let key = (run.status.clone(), run.progress, run.progress_detail.clone());
        if s.last.as_ref() == Some(&key) {
            continue;
        }
        let status_changed = s.last.as_ref().is_none_or(|l| l.0 != run.status);
        s.last = Some(key);
        s.done = matches!(run.status.as_str(), "succeeded" | "failed");
        let event = SseEvent::default().event(if status_changed { "status" } else { "progress" }).json_data(run_event(&run)).ok()?;
        return Some((Ok(event), s));
    }
}

/// Server-Sent Events of a run: `status` on each status change (the first event is the current
/// state) and `progress` as it advances (`progressDetail`: phase, bars processed of total,
/// combinations done). The stream ends after the run succeeds or fails.
#[utoipa::path(get, path = "/api/v1/backtests/{id}/events", tag = "backtests", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "events `status` and `progress`, data as JSON"), (status = 404, description = "no such run, or not yours")))]
pub async fn events(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    visible(&state, &user, id).await?;
    let rx = state.events.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    let s = RunStream { state, id, rx, tick, last: None, first: true, done: false };
    Ok(Sse::new(futures::stream::unfold(s, next_run_event)).keep_alive(KeepAlive::default()))
}
