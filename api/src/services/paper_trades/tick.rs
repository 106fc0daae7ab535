//! Ticks: a run advances by every candle after the last one it processed, in one transaction
//! under its row lock (fills, equity, state, alerts, watermark together), so processing a bar twice,
//! two workers racing for one run, or a worker killed mid-tick changes nothing and loses nothing.
//! Runs kept warm in a [`RunnerCache`] skip rebuilding their indicators; a cold run replays its
//! history first. Ingest announces new candles per market ([`announce`]), and a periodic
//! [`scan`] catches what an announcement missed and raises the no-candle alerts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use lake::{LakeTable, Market, Span};
use pipelines::backtest::{Candle, Fill};
use pipelines::paper::{read_candles, BarOutcome, PaperRunner, PaperSetup, PaperState};
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::alerts::{self, AlertState};
use super::runs::{self, ms_time, Locked};
use crate::error::{ApiError, ApiResult};
use crate::model::{NotificationType, PaperStatus};
use crate::services::{jobs, notifications};

/// Runs kept in memory between ticks (this process's), keyed by id, and the candles they read.
#[derive(Debug, Default)]
pub struct RunnerCache {
    runs: Mutex<HashMap<Uuid, PaperRunner>>,
    feed: tokio::sync::Mutex<Feed>,
}

/// Each market's recent candles at one version of the lake's `candles`: when a new bar lands,
/// the thousand runs of its market that tick on it read the lake once between them.
#[derive(Debug, Default)]
struct Feed {
    watch: Option<lake::VersionWatch>,
    version: Option<u64>,
    /// Per market: the bars from an open time on, as read at `version`.
    markets: HashMap<Market, (i64, Vec<Candle>)>,
}

/// Reads longer than this are not kept (a cold run's history).
const FEED_MAX_BARS: usize = 20_000;

/// Runs kept at most; beyond it an arbitrary one is dropped (and rebuilt when it ticks again).
const CACHE_CAPACITY: usize = 20_000;

impl RunnerCache {
    /// The candles of `market` in `span` (which has a start), from the cache while the lake's
    /// candles are at the version it was read at.
    async fn candles(&self, lake: &lake::Lake, market: &Market, span: Span) -> ApiResult<Vec<Candle>> {
        let start = span.start.unwrap_or(i64::MIN);
        let mut feed = self.feed.lock().await;
        if !feed.watch.as_ref().is_some_and(|w| w.follows(lake)) {
            *feed = Feed { watch: Some(lake::VersionWatch::new(lake, LakeTable::Candles)), ..Feed::default() };
        }
        let version = feed.watch.as_mut().expect("set above").current().await?;
        if version != feed.version {
            feed.markets.clear();
            feed.version = version;
        }
        let within = |bars: &[Candle]| -> Vec<Candle> { bars.iter().filter(|c| c.open_time >= start && span.end.is_none_or(|e| c.open_time < e)).copied().collect() };
        if let Some((from, bars)) = feed.markets.get(market) {
            if *from <= start {
                return Ok(within(bars));
            }
        }
        // everything from the start on: later ticks of this market at this version read from here
        let bars = read_candles(lake, market, Span::new(span.start, None)).await?;
        let out = within(&bars);
        if bars.len() <= FEED_MAX_BARS {
            feed.markets.insert(market.clone(), (start, bars));
        }
        Ok(out)
    }

    fn take(&self, id: Uuid) -> Option<PaperRunner> {
        self.runs.lock().ok()?.remove(&id)
    }

    fn put(&self, id: Uuid, runner: PaperRunner) {
        if let Ok(mut m) = self.runs.lock() {
            if m.len() >= CACHE_CAPACITY {
                if let Some(k) = m.keys().next().copied() {
                    m.remove(&k);
                }
            }
            m.insert(id, runner);
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickOutcome {
    /// Bars processed (warm-up bars included).
    pub bars: u64,
    pub fills: u64,
    pub alerts: u64,
    /// Open time (ms) of the last bar processed, if any.
    pub last_bar: Option<i64>,
}

fn setup_parts(run: &Locked) -> ApiResult<(pipelines::graph::ValidGraph, Market)> {
    let graph = pipelines::graph::validate(&run.graph).map_err(pipelines::Error::Graph)?;
    Ok((graph, run.schedule.market()?))
}

/// The run's runner at its watermark: the cached one when it is exactly there, else rebuilt
/// (a run that processed bars replays them to warm its indicators; its simulator is the stored one).
async fn runner_for(lake: &lake::Lake, cache: &RunnerCache, run: &Locked) -> ApiResult<PaperRunner> {
    let state: Option<PaperState> = run.state.as_ref().map(|s| serde_json::from_value(s.clone())).transpose().map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(r) = cache.take(run.id) {
        if Some(r.state()) == state.as_ref() || (state.is_none() && r.state().bars_seen == 0) {
            return Ok(r);
        }
    }
    let (graph, market) = setup_parts(run)?;
    let setup = PaperSetup { graph: &graph, values: &run.schedule.params, config: run.schedule.sim_config(), trade_from: run.trade_from.timestamp_millis() };
    match (state, run.last_bar_time) {
        (Some(saved), Some(last)) if saved.bars_seen > 0 => {
            let history = read_candles(lake, &market, Span::new(Some(run.origin_time.timestamp_millis()), Some(last.timestamp_millis() + 1))).await?;
            Ok(PaperRunner::resume(&setup, saved, &history)?)
        }
        _ => Ok(PaperRunner::start(&setup)?),
    }
}

/// Inserts fills (numbered after the run's last) and equity points.
async fn write_series(db: &mut PgConnection, run: Uuid, fills: &[Fill], equity: &[(i64, f64)]) -> sqlx::Result<()> {
    if !fills.is_empty() {
        let next: i32 = sqlx::query_scalar("SELECT coalesce(max(seq), 0) + 1 FROM paper_fills WHERE run_id = $1").bind(run).fetch_one(&mut *db).await?;
        let seq: Vec<i32> = (0..fills.len() as i32).map(|k| next + k).collect();
        sqlx::query(
            "INSERT INTO paper_fills (run_id, seq, bar_time, action, side, price, qty, fee, exit_reason, pnl, cash)
             SELECT $1, * FROM unnest($2::int[], $3::timestamptz[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::float8[], $9::text[], $10::float8[], $11::float8[])",
        )
        .bind(run)
        .bind(seq)
        .bind(fills.iter().map(|f| ms_time(f.time)).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.action.as_str()).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.side.as_str()).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.price).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.qty).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.fee).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.exit_reason.map(|r| r.as_str())).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.pnl).collect::<Vec<_>>())
        .bind(fills.iter().map(|f| f.cash).collect::<Vec<_>>())
        .execute(&mut *db)
        .await?;
    }
    if !equity.is_empty() {
        sqlx::query("INSERT INTO paper_equity (run_id, bar_time, equity) SELECT $1, * FROM unnest($2::timestamptz[], $3::float8[])")
        .bind(run)
        .bind(equity.iter().map(|e| ms_time(e.0)).collect::<Vec<_>>())
        .bind(equity.iter().map(|e| e.1).collect::<Vec<_>>())
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

async fn notify_all(db: &mut PgConnection, user: Uuid, alerts: &[Value]) -> sqlx::Result<()> {
    for a in alerts {
        notifications::insert(&mut *db, user, NotificationType::PaperTradeAlert, a).await?;
    }
    Ok(())
}

/// Advances run `id` by every candle after its watermark (up to the one opening at `until`, ms,
/// when given), all or nothing. A paused or stopped run, or one with no new candle, is left as is.
pub async fn tick(pool: &PgPool, lake: &lake::Lake, cache: &RunnerCache, id: Uuid, until: Option<i64>) -> ApiResult<TickOutcome> {
    let mut tx = pool.begin().await?;
    let run = runs::lock(&mut tx, id).await?.ok_or_else(|| ApiError::NotFound(format!("paper trade {id} not found")))?;
    if matches!(run.status, PaperStatus::Paused | PaperStatus::Stopped) {
        return Ok(TickOutcome::default());
    }
    let market = run.schedule.market()?;
    let from = match run.last_bar_time {
        Some(t) => t.timestamp_millis() + 1,
        None => run.origin_time.timestamp_millis(),
    };
    let bars = cache.candles(lake, &market, Span::new(Some(from), until.map(|u| u + 1))).await?;
    if bars.is_empty() {
        return Ok(TickOutcome::default());
    }
    let mut runner = runner_for(lake, cache, &run).await?;
    let bar_ms = market.timeframe().millis();
    let mut alert_state = AlertState::from_json(&run.alert_state);
    let (mut fills, mut equity, mut raised) = (Vec::new(), Vec::new(), Vec::new());
    let mut prev = run.last_bar_time.map(|t| t.timestamp_millis());
    for c in &bars {
        let outcome: BarOutcome = runner.feed(c);
        if let Some(e) = outcome.equity {
            equity.push((c.open_time, e));
        }
        raised.extend(alerts::check(id, &run.alert_config, &mut alert_state, &runner.state().performance, &outcome, prev, bar_ms));
        fills.extend(outcome.fills);
        prev = Some(c.open_time);
    }
    write_series(&mut tx, id, &fills, &equity).await?;
    notify_all(&mut tx, run.user_id, &raised).await?;
    runs::save_state(&mut tx, id, runner.state(), &alert_state.to_json(), None).await?;
    tx.commit().await?;
    let out = TickOutcome { bars: bars.len() as u64, fills: fills.len() as u64, alerts: raised.len() as u64, last_bar: prev };
    cache.put(id, runner);
    Ok(out)
}

/// Stops run `id` for good: a position still open closes at the last bar's close (`end_of_data`,
/// as a backtest ends; the fill and the final equity are in the fills and the snapshot), and the
/// status becomes `stopped`.
pub async fn stop(pool: &PgPool, lake: &lake::Lake, cache: &RunnerCache, id: Uuid) -> ApiResult<()> {
    let mut tx = pool.begin().await?;
    let run = runs::lock(&mut tx, id).await?.ok_or_else(|| ApiError::NotFound(format!("paper trade {id} not found")))?;
    if run.status == PaperStatus::Stopped {
        return Ok(());
    }
    if run.bars_seen == 0 {
        runs::set_status(&mut *tx, id, PaperStatus::Stopped).await?;
        tx.commit().await?;
        return Ok(());
    }
    let mut runner = runner_for(lake, cache, &run).await?;
    // the closing fill and the final equity go to the fills and the snapshot; the equity series
    // keeps each bar's equity as it was marked (a flushed point is never rewritten)
    let fills = runner.stop();
    let raised = if run.alert_config.on_every_fill { alerts::fill_alerts(id, &fills) } else { Vec::new() };
    write_series(&mut tx, id, &fills, &[]).await?;
    notify_all(&mut tx, run.user_id, &raised).await?;
    runs::save_state(&mut tx, id, runner.state(), &run.alert_state, Some(PaperStatus::Stopped)).await?;
    tx.commit().await?;
    Ok(())
}

/// Queues a tick for every scheduled or active run of `markets` (at most one queued per run: a
/// tick already queued is made due now) and wakes the workers; returns how many runs have a tick
/// queued. Called after candles land.
pub async fn announce(pool: &PgPool, markets: &[Market]) -> sqlx::Result<u64> {
    if markets.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let n = sqlx::query(
        "INSERT INTO jobs (kind, payload, paper_run_id, max_attempts)
         SELECT 'paper_tick', jsonb_build_object('paperRunId', r.id), r.id, 5
         FROM paper_trade_runs r
         WHERE r.status IN ('scheduled', 'active')
           AND EXISTS (SELECT 1 FROM unnest($1::text[], $2::text[], $3::text[]) AS m(exchange, symbol, timeframe)
                       WHERE r.schedule ->> 'exchange' = m.exchange AND r.schedule ->> 'symbol' = m.symbol AND r.schedule ->> 'timeframe' = m.timeframe)
         ON CONFLICT (paper_run_id) WHERE kind = 'paper_tick' AND status = 'queued' DO UPDATE SET run_after = least(jobs.run_after, now())",
    )
    .bind(markets.iter().map(|m| m.exchange().to_string()).collect::<Vec<_>>())
    .bind(markets.iter().map(|m| m.symbol().to_string()).collect::<Vec<_>>())
    .bind(markets.iter().map(|m| m.timeframe().to_string()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n > 0 {
        sqlx::query("SELECT pg_notify($1, 'paper_tick')").bind(jobs::CHANNEL).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Queues a tick for run `id` (in the caller's transaction), unless one is queued already.
pub async fn enqueue(db: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    let origin = jobs::Origin::current();
    sqlx::query(
        "INSERT INTO jobs (kind, payload, paper_run_id, max_attempts, request_id, traceparent)
         VALUES ('paper_tick', jsonb_build_object('paperRunId', $1::uuid), $1, 5, $2, $3)
         ON CONFLICT (paper_run_id) WHERE kind = 'paper_tick' AND status = 'queued' DO NOTHING",
    )
    .bind(id)
    .bind(origin.request_id)
    .bind(origin.traceparent)
    .execute(&mut *db)
    .await?;
    sqlx::query("SELECT pg_notify($1, 'paper_tick')").bind(jobs::CHANNEL).execute(&mut *db).await?;
    Ok(())
}

/// What a scan did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanOutcome {
    /// Ticks queued for runs behind their market's newest candle.
    pub queued: u64,
    /// No-candle alerts raised.
    pub alerts: u64,
}

/// The newest candle (open time, ms) of each market in the lake.
async fn newest_candles(lake: &lake::Lake) -> ApiResult<BTreeMap<(String, String, String), i64>> {
    use arrow::array::{AsArray, Array};
    use arrow::datatypes::TimestampMicrosecondType;
    let mut out = BTreeMap::new();
    if lake.version(LakeTable::Candles).await?.is_none() {
        return Ok(out);
    }
    let ctx = query::session_with(lake, &query::Tables::none().latest(LakeTable::Candles)).await?;
    let batches = ctx.sql("SELECT exchange, symbol, timeframe, max(open_time) FROM candles GROUP BY 1, 2, 3").await?.collect().await?;
    for b in batches {
        // the lake reads strings as views; one plain type here
        let s = |i: usize| lake::utf8(b.column(i)).map_err(|e| ApiError::Internal(e.into()));
        let (e, y, t) = (s(0)?, s(1)?, s(2)?);
        let m = b.column(3).as_primitive::<TimestampMicrosecondType>();
        for r in 0..b.num_rows() {
            if !m.is_null(r) {
                out.insert((e.value(r).to_string(), y.value(r).to_string(), t.value(r).to_string()), m.value(r).div_euclid(1000));
            }
        }
    }
    Ok(out)
}

/// Queues ticks for scheduled and active runs behind their market's newest candle, raises the
/// no-candle alerts (wall time), and drops finished tick jobs older than a day.
pub async fn scan(pool: &PgPool, lake: &lake::Lake) -> ApiResult<ScanOutcome> {
    let newest = newest_candles(lake).await?;
    let rows: Vec<(Uuid, Uuid, sqlx::types::Json<runs::Schedule>, sqlx::types::Json<runs::AlertConfig>, Value, Option<chrono::DateTime<chrono::Utc>>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT id, user_id, schedule, alert_config, alert_state, last_bar_time, origin_time FROM paper_trade_runs WHERE status IN ('scheduled', 'active')",
    )
    .fetch_all(pool)
    .await?;
    let mut out = ScanOutcome::default();
    let now = chrono::Utc::now().timestamp_millis();
    for (id, user, schedule, alert_cfg, alert_state, last_bar, origin) in rows {
        let key = (schedule.exchange.clone(), schedule.symbol.clone(), schedule.timeframe.to_string());
        let seen = last_bar.map_or(origin.timestamp_millis() - 1, |t| t.timestamp_millis());
        if newest.get(&key).is_some_and(|&n| n > seen) {
            let mut tx = pool.begin().await?;
            enqueue(&mut tx, id).await?;
            tx.commit().await?;
            out.queued += 1;
        } else if let Some(last) = last_bar {
            let mut st = AlertState::from_json(&alert_state);
            if let Some(a) = alerts::check_silence(id, &alert_cfg, &mut st, last.timestamp_millis(), now, schedule.timeframe.millis()) {
                // only if the run is still as read (a tick in between wins)
                let mut tx = pool.begin().await?;
                let n = sqlx::query("UPDATE paper_trade_runs SET alert_state = $2 WHERE id = $1 AND last_bar_time = $3 AND status IN ('scheduled', 'active')")
                    .bind(id)
                    .bind(st.to_json())
                    .bind(last)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    notifications::insert(&mut *tx, user, NotificationType::PaperTradeAlert, &a).await?;
                    out.alerts += 1;
                }
                tx.commit().await?;
            }
        }
    }
    sqlx::query("DELETE FROM jobs WHERE kind = 'paper_tick' AND status = 'succeeded' AND updated_at < now() - interval '1 day'").execute(pool).await?;
    Ok(out)
}
