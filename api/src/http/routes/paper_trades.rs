//! Paper-trading runs: `POST /paper-trades` (checks, quota, 201), the caller's runs, one run with
//! its performance snapshot, pause/resume/stop, its fills and equity (paged), and its ticks as
//! Server-Sent Events. A run is visible to its owner (and admins) only; anyone else gets a 404.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use lake::Timeframe;
use pipelines::backtest::{FillPolicy, DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_FILL_POLICY, DEFAULT_SLIPPAGE};
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
use crate::model::PaperStatus;
use crate::services::paper_trades::{self as service, runs, series, AlertConfig, FillRow, NewPaperRun, PaperEquityPoint, PaperRun, Schedule};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/paper-trades", get(list).post(create))
        .route("/paper-trades/{id}", get(fetch).patch(update))
        .route("/paper-trades/{id}/fills", get(fills))
        .route("/paper-trades/{id}/equity", get(equity))
        .route("/paper-trades/{id}/events", get(events))
}

/// What to trade and how. The market may be spelled as users write it (`BTC/USDT`, `btcusdt`;
/// `60m` is `1h`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleInput {
    #[schema(example = "binance")]
    pub exchange: Option<String>,
    #[schema(example = "BTCUSDT")]
    pub symbol: String,
    #[schema(example = "1h")]
    pub timeframe: String,
    /// Starting capital, > 0.
    #[schema(default = json!(DEFAULT_CAPITAL))]
    pub capital: Option<f64>,
    /// Fraction of notional per fill, in [0, 0.5).
    #[schema(default = json!(DEFAULT_FEE_RATE))]
    pub fee_rate: Option<f64>,
    /// Fraction of price per fill, in [0, 0.5).
    #[schema(default = json!(DEFAULT_SLIPPAGE))]
    pub slippage: Option<f64>,
    /// `next_open` or `close`.
    #[schema(default = json!(DEFAULT_FILL_POLICY.as_str()))]
    pub fill_policy: Option<String>,
    /// One number per `$param` of the graph.
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    /// Trade from this time on, indicators cold there (the backtest from it, fed bar by bar, then
    /// live); absent: from the next new candle, indicators warmed on the bars before.
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A paper-trading run to start.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePaperTrade {
    pub strategy_version_id: Uuid,
    pub schedule: ScheduleInput,
    pub alert_config: Option<AlertConfig>,
}

/// Rewrites the field a lake error names (`symbol`) to where it sits in the request.
fn in_schedule(e: ApiError) -> ApiError {
    match e {
        ApiError::Validation { message, mut details } => {
            if let Some(f) = details.get("field").and_then(Value::as_str).map(str::to_string) {
                details["field"] = json!(format!("schedule.{f}"));
            }
            ApiError::Validation { message, details }
        }
        e => e,
    }
}

impl CreatePaperTrade {
    fn parse(self) -> ApiResult<NewPaperRun> {
        let s = self.schedule;
        let timeframe: Timeframe = s.timeframe.parse().map_err(|e: lake::Error| in_schedule(e.into()))?;
        let market = lake::Market::new(s.exchange.as_deref().unwrap_or(lake::DEFAULT_EXCHANGE), &s.symbol, timeframe).map_err(|e| in_schedule(e.into()))?;
        let fill_policy = match s.fill_policy.as_deref() {
            None => DEFAULT_FILL_POLICY,
            Some(p) => p.parse::<FillPolicy>().map_err(|_| ApiError::invalid("schedule.fillPolicy", format!("schedule.fillPolicy must be next_open or close, got '{p}'")))?,
        };
        let schedule = Schedule {
            exchange: market.exchange().to_string(),
            symbol: market.symbol().to_string(),
            timeframe,
            capital: s.capital.unwrap_or(DEFAULT_CAPITAL),
            fee_rate: s.fee_rate.unwrap_or(DEFAULT_FEE_RATE),
            slippage: s.slippage.unwrap_or(DEFAULT_SLIPPAGE),
            fill_policy,
            params: service::param_values(s.params.as_ref())?,
            start_at: s.start_at,
        };
        Ok(NewPaperRun { strategy_version_id: self.strategy_version_id, schedule, alert_config: self.alert_config.unwrap_or_default() })
    }
}

/// Starts paper-trading a strategy version (yours or a public one): it trades every new candle of
/// the market as its backtest would. Checks the inputs and the lake, and the `paper_trades` quota
/// (your active and scheduled runs); all or nothing. `scheduled` until its first tick.
#[utoipa::path(post, path = "/api/v1/paper-trades", tag = "paper-trades", security(("bearer" = [])), request_body = CreatePaperTrade,
    responses((status = 201, body = PaperRun, description = "started"),
        (status = 403, description = "quota_exceeded: details has metric, plan, limit"),
        (status = 404, description = "no such strategy version, or not yours"),
        (status = 422, description = "validation_failed: details.field names the field (schedule.symbol, schedule.timeframe, schedule.params, schedule.feeRate, alertConfig.maxDrawdownPct, ...)")))]
pub async fn create(State(state): State<AppState>, user: AuthUser, ApiJson(body): ApiJson<CreatePaperTrade>) -> ApiResult<impl IntoResponse> {
    let request = body.parse()?;
    let run = service::create(&state.pool, &state.lake, &user, &request).await?;
    Ok((StatusCode::CREATED, [(header::LOCATION, format!("/api/v1/paper-trades/{}", run.id))], Json(run)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// scheduled, active, paused or stopped.
    pub status: Option<String>,
    pub cursor: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
}

/// Your paper-trading runs, newest first.
#[utoipa::path(get, path = "/api/v1/paper-trades", tag = "paper-trades", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Page<PaperRun>)))]
pub async fn list(State(state): State<AppState>, user: AuthUser, Query(q): Query<ListQuery>) -> ApiResult<Json<Page<PaperRun>>> {
    let n = page::limit(q.limit, 20, 100)?;
    let status = q.status.as_deref().map(|s| params::query::<PaperStatus>("status", s)).transpose()?;
    let after = q.cursor.as_deref().map(page::parse_time_id).transpose()?;
    let items = runs::list(&state.pool, Some(user.id), status, after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |r| page::time_id(r.created_at, r.id))))
}

/// A run: status, schedule, alert rules and `performanceSnapshot` (equity, return, drawdown,
/// trades, win rate, open position, last bar).
#[utoipa::path(get, path = "/api/v1/paper-trades/{id}", tag = "paper-trades", security(("bearer" = [])),
    responses((status = 200, body = PaperRun), (status = 404, description = "no such run, or not yours")))]
pub async fn fetch(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<PaperRun>> {
    Ok(Json(service::visible(&state.pool, &user, id).await?))
}

/// A status change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePaperTrade {
    /// `paused`, `active` (resume: catches up every bar missed) or `stopped` (final: an open
    /// position closes at the last close).
    #[schema(example = "paused")]
    pub status: String,
}

/// Pauses, resumes or stops a run.
#[utoipa::path(patch, path = "/api/v1/paper-trades/{id}", tag = "paper-trades", security(("bearer" = [])), request_body = UpdatePaperTrade,
    responses((status = 200, body = PaperRun), (status = 403, description = "quota_exceeded (resuming over the quota)"),
        (status = 404, description = "no such run, or not yours"), (status = 409, description = "the run is stopped"),
        (status = 422, description = "an unknown status")))]
pub async fn update(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, ApiJson(body): ApiJson<UpdatePaperTrade>) -> ApiResult<Json<PaperRun>> {
    let target = params::field::<PaperStatus>("status", &body.status)?;
    Ok(Json(service::set_status(&state.pool, &state.lake, &state.paper, &user, id, target).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct SeriesQuery {
    /// From `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size: fills 1 to 1000 (default 100); equity 1 to 10000 (default 1000).
    pub limit: Option<i64>,
}

/// A run's fills in order (entries and exits).
#[utoipa::path(get, path = "/api/v1/paper-trades/{id}/fills", tag = "paper-trades", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, body = Page<FillRow>), (status = 404, description = "no such run, or not yours")))]
pub async fn fills(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<SeriesQuery>) -> ApiResult<Json<Page<FillRow>>> {
    let n = page::limit(q.limit, 100, 1000)?;
    service::visible(&state.pool, &user, id).await?;
    let after = match q.cursor.as_deref() {
        None => 0,
        Some(c) => c.parse::<i32>().map_err(|_| ApiError::BadRequest(format!("invalid cursor '{c}'")))?,
    };
    let items = series::fills(&state.pool, id, after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |f| f.seq.to_string())))
}

/// A run's equity after each traded bar (at its close).
#[utoipa::path(get, path = "/api/v1/paper-trades/{id}/equity", tag = "paper-trades", security(("bearer" = [])), params(SeriesQuery),
    responses((status = 200, body = Page<PaperEquityPoint>), (status = 404, description = "no such run, or not yours")))]
pub async fn equity(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>, Query(q): Query<SeriesQuery>) -> ApiResult<Json<Page<PaperEquityPoint>>> {
    let n = page::limit(q.limit, 1000, 10_000)?;
    service::visible(&state.pool, &user, id).await?;
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().and_then(chrono::DateTime::from_timestamp_micros).ok_or_else(|| ApiError::BadRequest(format!("invalid cursor '{c}'")))?),
    };
    let items = series::equity(&state.pool, id, after, n + 1).await?;
    Ok(Json(Page::from_overfetch(items, n, |p| p.time.timestamp_micros().to_string())))
}

/// What a run's event stream sends.
pub(super) fn run_event(run: &PaperRun) -> Value {
    json!({"paperTradeId": run.id, "status": run.status, "lastBarTime": run.last_bar_time, "barsSeen": run.bars_seen,
        "barsTraded": run.bars_traded, "performanceSnapshot": run.performance_snapshot, "lastError": run.last_error,
        "lastExecutionAt": run.last_execution_at})
}

/// Server-Sent Events of a run: `status` on each status change (the first event is the current
/// state) and `tick` after each tick that processed bars (bars seen and traded, the performance
/// snapshot). The stream ends once the run is stopped.
#[utoipa::path(get, path = "/api/v1/paper-trades/{id}/events", tag = "paper-trades", security(("bearer" = [])),
    responses((status = 200, content_type = "text/event-stream", description = "events `status` and `tick`, data as JSON"), (status = 404, description = "no such run, or not yours")))]
pub async fn events(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, std::convert::Infallible>>>> {
    service::visible(&state.pool, &user, id).await?;
    let pool = state.pool.clone();
    Ok(sse::watch(&state, Kind::Paper, id, "tick", move |id| {
        let pool = pool.clone();
        async move {
            let run = runs::get(&pool, id).await.ok()??;
            Some(Snapshot {
                status: run.status.to_string(),
                key: json!([run.status, run.bars_seen, run.last_error]),
                data: run_event(&run),
                done: run.status == PaperStatus::Stopped,
            })
        }
    }))
}
