//! Paper-trading ticks: 1,000 active runs of one market (the bundled SMA crossover with stops,
//! BTCUSDT 1h from the sample), each warm, then one new candle lands. Reports ticks per second
//! through the worker (queue, row lock, the bar, fills, equity, state) and the latency from the
//! ingest commit to the last run's tick. Needs PostgreSQL server binaries (a private cluster is
//! started in a temporary folder unless DATABASE_URL is set).
//!
//! `cargo bench -p api --bench paper [-- RUNS]` (scripts/bench.sh runs it with the others).

mod common;

use std::sync::Arc;
use std::time::Instant;

use api::jobs::{Worker, WorkerConfig};
use api::services::paper_trades::{self as paper, runs, AlertConfig, Schedule};
use lake::{Market, Timeframe};
use pipelines::backtest::FillPolicy;
use uuid::Uuid;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(bench(n))
}

async fn bench(n: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (pool, lake, _cluster) = common::setup(tmp.path()).await?;
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample/BTC_USDT-1h.json.gz");
    let mut candles = pipelines::paper::read_candles(&lake, &Market::new("binance", "BTCUSDT", Timeframe::parse("1h")?)?, lake::Span::ALL).await?;
    if candles.is_empty() {
        ingest::ingest_file(&lake, &sample, &ingest::IngestOptions::default(), &|_| {}).await?;
        candles = pipelines::paper::read_candles(&lake, &Market::new("binance", "BTCUSDT", Timeframe::parse("1h")?)?, lake::Span::ALL).await?;
    }
    let market = Market::new("binance", "BTCUSDT", Timeframe::parse("1h")?)?;
    let last = candles.last().expect("sample candles");

    // one user, one strategy version, n runs warmed on the history up to the last bar but one
    let user = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, 'bench@example.com', 'bench')").bind(user).execute(&pool).await?;
    let strategy: Uuid = sqlx::query_scalar("INSERT INTO strategies (owner_id, title, slug) VALUES ($1, 'bench', 'bench') RETURNING id").bind(user).fetch_one(&pool).await?;
    let graph: serde_json::Value = serde_json::from_str(include_str!("../../sample/sma_cross.json"))?;
    let version: Uuid = sqlx::query_scalar("INSERT INTO strategy_versions (strategy_id, version, graph_json, created_by) VALUES ($1, 1, $2, $3) RETURNING id").bind(strategy).bind(&graph).bind(user).fetch_one(&pool).await?;
    let schedule = Schedule {
        exchange: market.exchange().into(),
        symbol: market.symbol().into(),
        timeframe: market.timeframe(),
        capital: 10_000.0,
        fee_rate: 0.001,
        slippage: 0.0,
        fill_policy: FillPolicy::NextOpen,
        params: Default::default(),
        start_at: None,
    };
    let alerts = AlertConfig { max_drawdown_pct: Some(5.0), ..Default::default() };
    let mut ids = Vec::with_capacity(n);
    let mut tx = pool.begin().await?;
    for k in 0..n {
        // a spread of start bars, so that the runs hold different positions
        let from = candles[candles.len() - 2 - (k % 200)].open_time;
        ids.push(runs::insert(&mut tx, &runs::NewRun { user, strategy_version: version, schedule: &schedule, alerts: &alerts, origin: from - 300 * 3_600_000, trade_from: from }).await?);
    }
    tx.commit().await?;
    let worker = Worker::new(pool.clone(), Arc::new(lake.clone()), WorkerConfig { id: "bench".into(), ..WorkerConfig::default() });
    let started = Instant::now();
    for id in &ids {
        paper::tick(&pool, &lake, &worker.paper, *id, Some(last.open_time - 3_600_000)).await?;
    }
    let warm = started.elapsed();
    sqlx::query("DELETE FROM jobs").execute(&pool).await?;

    // the new candle: the last one of the sample, landed by ingest (a file of one bar), then announced
    let file = tmp.path().join("BTCUSDT-1h-next.csv");
    // a bar one hour after the sample's last, opening at its close
    let next = last.open_time + 3_600_000;
    std::fs::write(&file, format!("open_time,open,high,low,close,volume\n{next},{},{},{},{},{}\n", last.close, last.high.max(last.close), last.low.min(last.close), last.close, last.volume))?;
    let opts = ingest::IngestOptions { exchange: Some("binance".into()), symbol: Some("BTCUSDT".into()), timeframe: Some(market.timeframe()), ..Default::default() };
    let committed = Instant::now();
    ingest::ingest_file(&lake, &file, &opts, &|_| {}).await?;
    let ingest_time = committed.elapsed();
    let queued = paper::announce(&pool, std::slice::from_ref(&market)).await?;
    let ticking = Instant::now();
    let mut ticks = 0;
    while worker.step().await? {
        ticks += 1;
    }
    let tick_time = ticking.elapsed();
    let latency = committed.elapsed();
    let bars: i64 = sqlx::query_scalar("SELECT sum(bars_traded)::bigint FROM paper_trade_runs").fetch_one(&pool).await?;
    println!("paper ticks: {n} runs of binance BTCUSDT 1h (sample/sma_cross.json with stops), warm in memory");
    println!("  warming (each run replays up to 500 bars of history, one tick each): {:.2} s", warm.as_secs_f64());
    println!("  one new candle: ingest commit {:.0} ms, {queued} ticks queued, {ticks} ticks run by one worker in {:.2} s = {:.0} ticks/s ({} bars traded in all)",
        ingest_time.as_secs_f64() * 1e3, tick_time.as_secs_f64(), ticks as f64 / tick_time.as_secs_f64(), bars);
    println!("  latency from the ingest commit to the last run's tick: {:.2} s", latency.as_secs_f64() - ingest_time.as_secs_f64());
    // where a tick's time goes: reading the new bar from the lake
    let t = Instant::now();
    for _ in 0..100 {
        pipelines::paper::read_candles(&lake, &market, lake::Span::new(Some(next), None)).await?;
    }
    println!("  reading a market's new bar from the lake (a DataFusion session over the latest candles): {:.1} ms", t.elapsed().as_secs_f64() * 10.0);
    let flushed = paper::flush(&pool, &lake).await?;
    println!("  flush to the lake: {} fills, {} equity points", flushed.fills, flushed.equity);
    pool.close().await;
    Ok(())
}
