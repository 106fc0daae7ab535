//! Backtest runs: `POST /backtests` (quota, queue, 202), the run and its status, trades and equity
//! from the lake, an equity chart, side-by-side comparison, and progress as Server-Sent Events.
//! A run is visible to its owner (and admins) only; anyone else gets a 404.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use lake::{Market, Timeframe};
use pipelines::backtest::{BacktestParams, FillPolicy, ParamValues, DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_FILL_POLICY, DEFAULT_SLIPPAGE};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::events::Kind;
use crate::http::extract::AuthUser;
use crate::http::json::ApiJson;
use crate::http::page::{self, Page};
use crate::http::params;
use crate::http::sse::{self, Snapshot};
use crate::model::RunStatus;
use crate::services::backtests::{self as service, runs, BacktestRequest, Comparison, EquityPoint, Run, TradeRow};
use crate::state::AppState;

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

/// A backtest request. The market may be spelled as users write it (`BTC/USDT`, `btcusdt`;
/// `60m` is `1h`). `params` maps each `$param` of the graph to a number, or to a list of numbers
/// to sweep (every combination of the lists runs, at most 1000).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBacktest {
    pub strategy_version_id: Uuid,
    #[schema(example = "binance")]
    pub exchange: String,
    #[schema(example = "BTCUSDT")]
    pub symbol: String,
    /// e.g. `1m`, `1h` (also `60m`), `1d`.
    #[schema(example = "1h")]
    pub timeframe: String,
    /// Range start, RFC 3339, inclusive.
    pub from: chrono::DateTime<chrono::Utc>,
    /// Range end, RFC 3339, exclusive.
    pub to: chrono::DateTime<chrono::Utc>,
    /// Quote currency, > 0.
    #[schema(default = json!(DEFAULT_CAPITAL))]
    pub initial_capital: Option<f64>,
    /// Fraction of notional per fill, in [0, 0.5).
    #[schema(default = json!(DEFAULT_FEE_RATE))]
    pub fee_rate: Option<f64>,
    /// Fraction of price per fill, in [0, 0.5).
    #[schema(default = json!(DEFAULT_SLIPPAGE))]
    pub slippage: Option<f64>,
    /// `next_open` or `close`.
    #[schema(default = json!(DEFAULT_FILL_POLICY.as_str()))]
    pub fill_policy: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
}

impl CreateBacktest {
    /// The typed request; a field that breaks its rule is a 422 naming it.
    fn parse(self) -> ApiResult<BacktestRequest> {
        let timeframe: Timeframe = self.timeframe.parse()?;
        let market = Market::new(&self.exchange, &self.symbol, timeframe)?;
        if self.to <= self.from {
            return Err(ApiError::invalid("to", "to must be after from"));
        }
        let fill_policy = match self.fill_policy.as_deref() {
            None => DEFAULT_FILL_POLICY,
            Some(s) => s.parse::<FillPolicy>().map_err(|_| ApiError::invalid("fillPolicy", format!("fillPolicy must be next_open or close, got '{s}'")))?,
        };
        let param_values = self.params.unwrap_or_else(|| json!({}));
        let params = BacktestParams {
            market,
            start: Some(self.from.timestamp_millis()),
            end: Some(self.to.timestamp_millis()),
            initial_capital: self.initial_capital.unwrap_or(DEFAULT_CAPITAL),
            fee_rate: self.fee_rate.unwrap_or(DEFAULT_FEE_RATE),
            slippage: self.slippage.unwrap_or(DEFAULT_SLIPPAGE),
            fill_policy,
            params: ParamValues::from_json(&param_values)?,
            sweep_dirs: None,
        };
        Ok(BacktestRequest { strategy_version_id: self.strategy_version_id, params, param_values })
    }
}

/// Queues a backtest of a strategy version (yours or a public one). Checks the inputs and the
/// lake, consumes one unit of the `backtests` quota, creates the run and its job: all or nothing.
#[utoipa::path(post, path = "/api/v1/backtests", tag = "backtests", security(("bearer" = [])), request_body = CreateBacktest,
    responses((status = 202, body = Run, description = "queued"),
        (status = 403, description = "quota_exceeded: details has metric, limit, windowEnd"),
        (status = 404, description = "no such strategy version, or not yours"),
        (status = 422, description = "validation_failed: a field, a parameter, an unknown market or an empty range")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(body): ApiJson<CreateBacktest>) -> ApiResult<impl IntoResponse> {
    let request = body.parse()?;
    let run = service::submit(&state.pool, &state.lake, &user, &request, state.job_attempts).await?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, format!("/api/v1/backtests/{}", run.id))], Json(run)))
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

/// Your runs, newest first (of one strategy with `strategyId`).
#[utoipa::path(get, path = "/api/v1/backtests", tag = "backtests", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<Run>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<Run>>> {
    let n = page::limit(q.limit, 20, 100)?;
    let status = q.status.as_deref().map(|s| params::query::<RunStatus>("status", s)).transpose()?;
    let after = q.cursor.as_deref().map(page::parse_time_id).transpose()?;
    let items = runs::list(&state.pool, Some(user.id), q.strategy_id, status, after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |r| page::time_id(r.created_at, r.id))))
}

/// A run: its status and progress, and once succeeded its metrics and anomaly flags.
#[utoipa::path(get, path = "/api/v1/backtests/{id}", tag = "backtests", security(("bearer" = [])),
    responses((status = 200, body = Run), (status = 404, description = "no such run, or not yours")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Run>> {
    Ok(Json(service::visible(&state.pool, &user, id).await?))
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

/// A run's closed trades in order, from the lake (`backtest_trades`).
#[utoipa::path(get, path = "/api/v1/backtests/{id}/trades", tag = "backtests", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, body = Page<TradeRow>), (status = 404, description = "no such run, or not yours"), (status = 409, description = "not succeeded yet")))]
pub async fn trades(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<SeriesQuery>) -> ApiResult<Json<Page<TradeRow>>> {
    let n = page::limit(q.limit, 100, 1000)?;
    let items = service::trades(&state.pool, &state.lake, &user, id, q.combo, q.cursor.unwrap_or(0), n as usize + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |t| t.trade_no.to_string())))
}

/// A run's equity curve (the initial capital at the first bar's open, then each bar's close), from the lake.
#[utoipa::path(get, path = "/api/v1/backtests/{id}/equity", tag = "backtests", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, body = Page<EquityPoint>), (status = 404, description = "no such run, or not yours"), (status = 409, description = "not succeeded yet")))]
pub async fn equity(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<SeriesQuery>) -> ApiResult<Json<Page<EquityPoint>>> {
    let n = page::limit(q.limit, 1000, 10_000)?;
    let items = service::equity(&state.pool, &state.lake, &user, id, q.combo, q.cursor, n as usize + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |p| p.time_us.to_string())))
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
    let (w, h) = (q.width.unwrap_or(900), q.height.unwrap_or(400));
    let svg = service::equity_chart(&state.pool, &state.lake, &user, id, q.combo, w, h).await?;
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
    Ok(Json(service::compare(&state.pool, &state.lake, &user, &ids, q.max_points.unwrap_or(500)).await?))
}

/// What a run's event stream sends: status, progress, and at the end the metrics or the error.
pub(super) fn run_event(run: &Run) -> Value {
    json!({"runId": run.id, "status": run.status, "progress": run.progress, "progressDetail": run.progress_detail,
        "attempts": run.attempts, "error": run.error, "metrics": run.metrics, "anomalies": run.anomalies,
        "startedAt": run.started_at, "finishedAt": run.finished_at})
}

/// Server-Sent Events of a run: `status` on each status change (the first event is the current
/// state) and `progress` as it advances (`progressDetail`: phase, bars processed of total,
/// combinations done). The stream ends after the run succeeds or fails.
#[utoipa::path(get, path = "/api/v1/backtests/{id}/events", tag = "backtests", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "events `status` and `progress`, data as JSON"), (status = 404, description = "no such run, or not yours")))]
pub async fn events(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, std::convert::Infallible>>>> {
    service::visible(&state.pool, &user, id).await?;
    let pool = state.pool.clone();
    Ok(sse::watch(&state, Kind::Run, id, "progress", move |id| {
        let pool = pool.clone();
        async move {
            let run = runs::get(&pool, id).await.ok()??;
            Some(Snapshot {
                status: run.status.to_string(),
                key: json!([run.status, run.progress, run.progress_detail]),
                data: run_event(&run),
                done: run.status.is_final(),
            })
        }
    }))
}
