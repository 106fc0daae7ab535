//! Paper trading end to end on a real Postgres and a real lake folder: a run fed bar by bar trades
//! as the backtest of the same span (both fill policies, stops and a trailing stop); ticks are
//! idempotent, survive races and a tick cut off mid-way; pause and resume catch up; alerts respect
//! their cool-down; the quota, bad input and tenant isolation; ticks announced by ingest and run
//! by the worker; fills and equity flushed into the lake exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;

use api::auth::jwt::Verifier;
use api::config::ApiConfig;
use api::http::router;
use api::services::paper_trades::{self as paper, RunnerCache};
use axum::http::{Method, StatusCode};
use axum::Router;
use lake::Market;
use pipelines::backtest::{run_at_version, BacktestParams, Candle};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::{call, error_code, state, token, SECRET};
use crate::fixtures;

/// A fixture case's inputs.
struct Case {
    params: BacktestParams,
    graph: Value,
    candles: Vec<Candle>,
}

fn case(name: &str) -> Case {
    let dir = fixtures(name);
    let params: BacktestParams = serde_json::from_slice(&std::fs::read(dir.join("params.json")).unwrap()).unwrap();
    let graph = serde_json::from_slice(&std::fs::read(dir.join("strategy.json")).unwrap()).unwrap();
    let candles = std::fs::read_to_string(dir.join("candles.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            Candle { open_time: f[0] as i64, open: f[1], high: f[2], low: f[3], close: f[4], volume: f[5] }
        })
        .collect();
    Case { params, graph, candles }
}

/// A lake in a temporary folder holding the case's candles (real exchange data) under its market.
async fn lake_of(c: &Case, dir: &std::path::Path) -> lake::Lake {
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.join("lake").display().to_string())).unwrap();
    let m = &c.params.market;
    let opts = ingest::IngestOptions { exchange: Some(m.exchange().into()), symbol: Some(m.symbol().into()), timeframe: Some(m.timeframe()), ..Default::default() };
    let file = dir.join("candles.csv");
    let mut text = String::from("open_time,open,high,low,close,volume\n");
    for k in &c.candles {
        text.push_str(&format!("{},{},{},{},{},{}\n", k.open_time, k.open, k.high, k.low, k.close, k.volume));
    }
    std::fs::write(&file, text).unwrap();
    ingest::ingest_file(&lake, &file, &opts, &|_| {}).await.unwrap();
    lake
}

async fn app_of(pool: &PgPool, lake: &lake::Lake) -> (Router, api::http::AppState) {
    let st = state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), lake.clone()).await;
    (router(st.clone(), &ApiConfig::default()), st)
}

async fn version_of(app: &Router, tok: &str, graph: &Value, visibility: &str) -> String {
    let r = call(app, Method::POST, "/api/v1/strategies", Some(tok), Some(json!({"title": "S", "visibility": visibility, "graphJson": graph}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = call(app, Method::GET, &format!("/api/v1/strategies/{}/versions", r.body["id"].as_str().unwrap()), Some(tok), None).await;
    v.body["items"][0]["id"].as_str().unwrap().to_string()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339()
}

fn body_of(c: &Case, version: &str, start_at: Option<i64>) -> Value {
    let p = &c.params;
    let mut schedule = json!({"exchange": p.market.exchange(), "symbol": p.market.symbol(), "timeframe": p.market.timeframe().to_string(),
        "capital": p.initial_capital, "feeRate": p.fee_rate, "slippage": p.slippage, "fillPolicy": p.fill_policy.as_str(), "params": {}});
    if let Some(s) = start_at {
        schedule["startAt"] = json!(iso(s));
    }
    json!({"strategyVersionId": version, "schedule": schedule})
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Every page of a series.
async fn all_pages(app: &Router, tok: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = call(app, Method::GET, &format!("{path}?limit=37{cursor}"), Some(tok), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        out.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp_millis()
}

/// Starts a run of `c` from its first candle (201), returning its id.
async fn start(app: &Router, tok: &str, c: &Case, version: &str) -> Uuid {
    let r = call(app, Method::POST, "/api/v1/paper-trades", Some(tok), Some(body_of(c, version, Some(c.candles[0].open_time)))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "scheduled");
    r.body["id"].as_str().unwrap().parse().unwrap()
}

/// Feeds the run bars `0..n` of the case one tick per bar, as a replay does.
async fn feed(pool: &PgPool, lake: &lake::Lake, cache: &RunnerCache, id: Uuid, c: &Case, bars: std::ops::Range<usize>) {
    for k in bars {
        paper::tick(pool, lake, cache, id, Some(c.candles[k].open_time)).await.unwrap();
    }
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_run_fed_bar_by_bar_trades_as_the_backtest_of_the_span(pool: PgPool) {
    // next_open and close fill policies, and stop-loss with a trailing stop
    for (name, n) in [("sma_cross_next_open", 500), ("sma_cross_close", 500), ("macd_sl_and_trailing", 400)] {
        let c = case(name);
        let dir = tempfile::tempdir().unwrap();
        let lake = lake_of(&c, dir.path()).await;
        let (app, st) = app_of(&pool, &lake).await;
        let tok = token(&format!("{name}@example.com"), "builder", Some("premium"));
        let version = version_of(&app, &tok, &c.graph, "private").await;
        let id = start(&app, &tok, &c, &version).await;
        feed(&pool, &lake, &st.paper, id, &c, 0..n).await;

        // the backtest of a span reaching past the last bar fed: every fill and equity point up to it is the run's
        let graph = pipelines::graph::validate(&c.graph).unwrap();
        let mut p = c.params.clone();
        (p.start, p.end) = (Some(c.candles[0].open_time), Some(c.candles[n].open_time + 1));
        let bt = run_at_version(&lake, &graph, &p, true, 1).await.unwrap();
        let combo = &bt.run.combos[0];
        let fills = all_pages(&app, &tok, &format!("/api/v1/paper-trades/{id}/fills")).await;
        let equity = all_pages(&app, &tok, &format!("/api/v1/paper-trades/{id}/equity")).await;
        assert_eq!(equity.len(), n, "{name}: one equity point per bar");
        for (k, e) in equity.iter().enumerate() {
            assert_eq!(ms(&e["time"]), c.candles[k].open_time);
            assert!(close(e["equity"].as_f64().unwrap(), combo.equity[k]), "{name}: equity of bar {k}: {} vs {}", e["equity"], combo.equity[k]);
        }
        // the backtest's trades as fills: an entry, then its exit when it happened before bar n
        let mut want = Vec::new();
        for t in &combo.trades {
            if t.entry_bar < n {
                want.push((t.entry_time, t.entry_price, t.qty, None, None));
            }
            if t.exit_bar < n {
                want.push((t.exit_time, t.exit_price, t.qty, Some(t.exit_reason.as_str().to_string()), Some(t.pnl)));
            }
        }
        assert!(want.len() >= 6, "{name}: the span must trade ({} fills)", want.len());
        assert_eq!(fills.len(), want.len(), "{name}: fills");
        for (k, (f, w)) in fills.iter().zip(&want).enumerate() {
            assert_eq!(f["seq"], k + 1);
            assert_eq!(ms(&f["time"]), w.0, "{name}: fill {k}");
            assert!(close(f["price"].as_f64().unwrap(), w.1) && close(f["qty"].as_f64().unwrap(), w.2), "{name}: fill {k}: {f} vs {w:?}");
            assert_eq!(f["exitReason"].as_str().map(str::to_string), w.3, "{name}: fill {k}");
            match (f["pnl"].as_f64(), w.4) {
                (Some(a), Some(b)) => assert!(close(a, b), "{name}: fill {k} pnl {a} vs {b}"),
                (a, b) => assert_eq!(a, b),
            }
        }
        let mut reasons: Vec<&str> = fills.iter().filter_map(|f| f["exitReason"].as_str()).collect();
        reasons.dedup();
        if name == "macd_sl_and_trailing" {
            assert!(reasons.contains(&"trailing_stop") || reasons.contains(&"stop_loss"), "{name}: stops must fire in the span: {reasons:?}");
        }
        // the snapshot's metrics from the backtest's own series
        let run = call(&app, Method::GET, &format!("/api/v1/paper-trades/{id}"), Some(&tok), None).await.body;
        assert_eq!(run["status"], "active");
        let snap = &run["performanceSnapshot"];
        let mut peak = p.initial_capital;
        let mut max_dd: f64 = 0.0;
        for e in &combo.equity[..n] {
            peak = peak.max(*e);
            max_dd = max_dd.max((1.0 - e / peak) * 100.0);
        }
        let closed: Vec<_> = combo.trades.iter().filter(|t| t.exit_bar < n).collect();
        assert!(close(snap["equity"].as_f64().unwrap(), combo.equity[n - 1]), "{name}: {snap}");
        assert!(close(snap["returnPct"].as_f64().unwrap(), (combo.equity[n - 1] / p.initial_capital - 1.0) * 100.0), "{name}: {snap}");
        assert!(close(snap["maxDrawdownPct"].as_f64().unwrap(), max_dd), "{name}: {snap} vs {max_dd}");
        assert_eq!(snap["trades"], closed.len(), "{name}");
        let wins = closed.iter().filter(|t| t.pnl > 0.0).count() as f64;
        assert!(close(snap["winRatePct"].as_f64().unwrap(), wins / closed.len() as f64 * 100.0), "{name}: {snap}");
        assert_eq!(ms(&snap["lastBarTime"]), c.candles[n - 1].open_time);

        if c.params.fill_policy == pipelines::backtest::FillPolicy::NextOpen {
            // stopping ends the run as a backtest ends its data: the backtest of exactly these bars, metrics and all
            let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{id}"), Some(&tok), Some(json!({"status": "stopped"}))).await;
            assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("stopped")), "{}", r.body);
            (p.start, p.end) = (Some(c.candles[0].open_time), Some(c.candles[n - 1].open_time + 1));
            let exact = run_at_version(&lake, &graph, &p, true, 1).await.unwrap();
            let m = &exact.run.combos[0];
            let fills = all_pages(&app, &tok, &format!("/api/v1/paper-trades/{id}/fills")).await;
            assert_eq!(fills.iter().filter(|f| !f["exitReason"].is_null()).count(), m.trades.len(), "{name}: trades after the stop");
            let last = fills.last().unwrap();
            assert!(close(last["pnl"].as_f64().unwrap(), m.trades.last().unwrap().pnl), "{name}");
            let snap = &r.body["performanceSnapshot"];
            assert!(close(snap["equity"].as_f64().unwrap(), m.metrics.total_return_pct / 100.0 * p.initial_capital + p.initial_capital), "{name}: {snap}");
            assert!(close(snap["maxDrawdownPct"].as_f64().unwrap(), m.metrics.max_drawdown_pct), "{name}: {snap} vs {}", m.metrics.max_drawdown_pct);
            assert_eq!(snap["trades"], m.metrics.trades, "{name}");
            assert!(close(snap["winRatePct"].as_f64().unwrap(), m.metrics.win_rate_pct), "{name}");
            assert!(close(snap["feesPaid"].as_f64().unwrap(), m.metrics.fees_paid), "{name}");
            assert!(snap["openPosition"].is_null());
            let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{id}"), Some(&tok), Some(json!({"status": "active"}))).await;
            assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::CONFLICT, "conflict"), "stopped is final");
        }
    }
}

/// The run's fills and equity as stored, for comparing two runs.
async fn series_of(pool: &PgPool, id: Uuid) -> (Vec<(i32, i64, String, f64, f64, Option<f64>)>, Vec<(i64, f64)>, Value) {
    let fills: Vec<(i32, chrono::DateTime<chrono::Utc>, String, f64, f64, Option<f64>)> =
        sqlx::query_as("SELECT seq, bar_time, action, price, qty, pnl FROM paper_fills WHERE run_id = $1 ORDER BY seq").bind(id).fetch_all(pool).await.unwrap();
    let equity: Vec<(chrono::DateTime<chrono::Utc>, f64)> = sqlx::query_as("SELECT bar_time, equity FROM paper_equity WHERE run_id = $1 ORDER BY bar_time").bind(id).fetch_all(pool).await.unwrap();
    let snap: Value = sqlx::query_scalar("SELECT performance_snapshot FROM paper_trade_runs WHERE id = $1").bind(id).fetch_one(pool).await.unwrap();
    (
        fills.into_iter().map(|f| (f.0, f.1.timestamp_millis(), f.2, f.3, f.4, f.5)).collect(),
        equity.into_iter().map(|e| (e.0.timestamp_millis(), e.1)).collect(),
        snap,
    )
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn ticks_are_idempotent_race_free_and_survive_being_cut_off(pool: PgPool) {
    let c = case("sma_cross_next_open");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, st) = app_of(&pool, &lake).await;
    let tok = token("ida@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, &c.graph, "private").await;
    let n = 300;

    // the reference: one clean tick per bar
    let clean = start(&app, &tok, &c, &version).await;
    feed(&pool, &lake, &st.paper, clean, &c, 0..n).await;

    // the same bar twice, and two workers (with caches of their own) racing for every bar
    let raced = start(&app, &tok, &c, &version).await;
    let (a, b) = (RunnerCache::default(), RunnerCache::default());
    for k in 0..n {
        let until = Some(c.candles[k].open_time);
        let (x, y) = tokio::join!(paper::tick(&pool, &lake, &a, raced, until), paper::tick(&pool, &lake, &b, raced, until));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.bars + y.bars, 1, "bar {k}: exactly one of the racers processes it");
        assert_eq!(paper::tick(&pool, &lake, &a, raced, until).await.unwrap().bars, 0, "bar {k} again: nothing to do");
    }

    // ticks cut off at random points (a worker killed mid-tick: its transaction never commits)
    let cut = start(&app, &tok, &c, &version).await;
    let cache = Arc::new(RunnerCache::default());
    let mut cut_off = 0;
    for k in 0..n {
        let until = Some(c.candles[k].open_time);
        for attempt in 0..2u64 {
            let (pool2, lake2, cache2) = (pool.clone(), lake.clone(), cache.clone());
            let task = tokio::spawn(async move { paper::tick(&pool2, &lake2, &cache2, cut, until).await });
            tokio::time::sleep(std::time::Duration::from_micros((k as u64 * 7919 + attempt * 104_729) % 30_000)).await;
            task.abort();
            if task.await.is_err() {
                cut_off += 1;
            }
        }
        paper::tick(&pool, &lake, &cache, cut, until).await.unwrap();
    }
    assert!(cut_off > 20, "the test must cut ticks off ({cut_off})");

    let reference = series_of(&pool, clean).await;
    assert!(reference.0.len() >= 6, "the span must trade");
    assert_eq!(series_of(&pool, raced).await, reference, "raced and repeated ticks");
    assert_eq!(series_of(&pool, cut).await, reference, "ticks cut off mid-way");
    // a cold start (another process) rebuilds the indicators from the lake and carries on identically
    let cold = RunnerCache::default();
    feed(&pool, &lake, &cold, clean, &c, n..n + 50).await;
    feed(&pool, &lake, &st.paper, cut, &c, n..n + 50).await;
    assert_eq!(series_of(&pool, cut).await, series_of(&pool, clean).await, "a cold runner and a warm one");
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn pause_skips_bars_and_resume_catches_up_every_one(pool: PgPool) {
    let c = case("sma_cross_close");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, st) = app_of(&pool, &lake).await;
    let tok = token("pia@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, &c.graph, "private").await;
    let straight = start(&app, &tok, &c, &version).await;
    feed(&pool, &lake, &st.paper, straight, &c, 0..400).await;

    let paused = start(&app, &tok, &c, &version).await;
    feed(&pool, &lake, &st.paper, paused, &c, 0..150).await;
    let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{paused}"), Some(&tok), Some(json!({"status": "paused"}))).await;
    assert_eq!(r.body["status"], "paused", "{}", r.body);
    feed(&pool, &lake, &st.paper, paused, &c, 150..300).await;
    let r = call(&app, Method::GET, &format!("/api/v1/paper-trades/{paused}"), Some(&tok), None).await;
    assert_eq!(r.body["barsTraded"], 150, "paused: no bar processed");
    let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{paused}"), Some(&tok), Some(json!({"status": "active"}))).await;
    assert_eq!(r.body["status"], "active", "{}", r.body);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = 'paper_tick' AND paper_run_id = $1 AND status = 'queued'").bind(paused).fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 1, "resuming queues a catch-up tick");
    // the catch-up tick processes the 150 missed bars at once, then live ticks go on
    let t = paper::tick(&pool, &lake, &st.paper, paused, Some(c.candles[299].open_time)).await.unwrap();
    assert_eq!(t.bars, 150);
    feed(&pool, &lake, &st.paper, paused, &c, 300..400).await;
    assert_eq!(series_of(&pool, paused).await, series_of(&pool, straight).await);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn alerts_fire_on_breaches_with_a_cooldown_and_on_every_fill(pool: PgPool) {
    let c = case("macd_sl_and_trailing");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, st) = app_of(&pool, &lake).await;
    let tok = token("ali@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, &c.graph, "private").await;
    let mut body = body_of(&c, &version, Some(c.candles[0].open_time));
    body["alertConfig"] = json!({"maxDrawdownPct": 0.5, "cooldownMinutes": 240, "onEveryFill": true});
    let r = call(&app, Method::POST, "/api/v1/paper-trades", Some(&tok), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id: Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    feed(&pool, &lake, &st.paper, id, &c, 0..1500).await;

    let alerts: Vec<Value> = sqlx::query_scalar("SELECT payload FROM notifications WHERE type = 'paper_trade_alert' ORDER BY created_at, id").fetch_all(&pool).await.unwrap();
    let dd: Vec<&Value> = alerts.iter().filter(|a| a["rule"] == "max_drawdown_pct").collect();
    assert!(dd.len() >= 2, "the drawdown limit must be breached more than once: {}", dd.len());
    for w in dd.windows(2) {
        assert!(ms(&w[1]["barTime"]) - ms(&w[0]["barTime"]) >= 240 * 60_000, "cool-down: {} then {}", w[0]["barTime"], w[1]["barTime"]);
    }
    for a in &dd {
        assert!(a["value"].as_f64().unwrap() >= 0.5 && a["runId"] == id.to_string(), "{a}");
    }
    // the breaches the cool-down held back: bars over the limit exist between alerts
    let equity: Vec<f64> = sqlx::query_scalar("SELECT equity FROM paper_equity WHERE run_id = $1 ORDER BY bar_time").bind(id).fetch_all(&pool).await.unwrap();
    let mut peak = c.params.initial_capital;
    let breaches = equity.iter().filter(|e| {
        peak = peak.max(**e);
        (1.0 - **e / peak) * 100.0 >= 0.5
    }).count();
    assert!(breaches > dd.len(), "{breaches} breaching bars, {} alerts", dd.len());
    let fills: i64 = sqlx::query_scalar("SELECT count(*) FROM paper_fills WHERE run_id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!(alerts.iter().filter(|a| a["rule"] == "on_every_fill").count() as i64, fills, "one alert per fill");
    let r = call(&app, Method::GET, "/api/v1/notifications?limit=1", Some(&tok), None).await;
    assert_eq!(r.body["items"][0]["type"], "paper_trade_alert", "{}", r.body);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn the_quota_counts_active_and_scheduled_runs_and_bad_input_changes_nothing(pool: PgPool) {
    let c = case("sma_cross_next_open");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, _st) = app_of(&pool, &lake).await;
    let free = token("fay@example.com", "builder", None);
    let version = version_of(&app, &free, &c.graph, "private").await;
    let rows = || async { sqlx::query_scalar::<_, i64>("SELECT (SELECT count(*) FROM paper_trade_runs) + (SELECT count(*) FROM jobs)").fetch_one(&pool).await.unwrap() };

    // bad input: the field is named, nothing is written
    let good = body_of(&c, &version, None);
    let mut cases: Vec<(Value, StatusCode, &str)> = Vec::new();
    let mut b = good.clone();
    b["strategyVersionId"] = json!(Uuid::new_v4());
    cases.push((b, StatusCode::NOT_FOUND, ""));
    let mut b = good.clone();
    b["schedule"]["symbol"] = json!("DOGEUSDT");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.symbol"));
    let mut b = good.clone();
    b["schedule"]["timeframe"] = json!("4h");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.timeframe"));
    let mut b = good.clone();
    b["schedule"]["timeframe"] = json!("7q");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.timeframe"));
    let mut b = good.clone();
    b["schedule"]["symbol"] = json!("BTC$USDT");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.symbol"));
    let mut b = good.clone();
    b["schedule"]["params"] = json!({"nope": 3});
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.params"));
    let mut b = good.clone();
    b["schedule"]["params"] = json!({"fast": [5, 10]});
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.params"));
    let mut b = good.clone();
    b["schedule"]["feeRate"] = json!(0.9);
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.feeRate"));
    let mut b = good.clone();
    b["schedule"]["fillPolicy"] = json!("whenever");
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "schedule.fillPolicy"));
    let mut b = good.clone();
    b["alertConfig"] = json!({"maxDrawdownPct": -3});
    cases.push((b, StatusCode::UNPROCESSABLE_ENTITY, "alertConfig.maxDrawdownPct"));
    // another user's private version is not found
    let other = token("oz@example.com", "builder", Some("premium"));
    let private = version_of(&app, &other, &c.graph, "private").await;
    let mut b = good.clone();
    b["strategyVersionId"] = json!(private);
    cases.push((b, StatusCode::NOT_FOUND, ""));
    let before = rows().await;
    for (b, status, field) in cases {
        let r = call(&app, Method::POST, "/api/v1/paper-trades", Some(&free), Some(b.clone())).await;
        assert_eq!(r.status, status, "{b}: {}", r.body);
        if !field.is_empty() {
            assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.body);
        }
    }
    assert_eq!(rows().await, before, "rejected requests wrote nothing");
    let params_issue = call(&app, Method::POST, "/api/v1/paper-trades", Some(&free), Some({
        let mut b = good.clone();
        b["schedule"]["timeframe"] = json!("4h");
        b
    }))
    .await;
    assert!(params_issue.body["error"]["message"].as_str().unwrap().contains("only at 1h"), "{}", params_issue.body);

    // free: one active or scheduled run
    let r = call(&app, Method::POST, "/api/v1/paper-trades", Some(&free), Some(good.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(ms(&r.body["tradeFrom"]), c.candles.last().unwrap().open_time + 1, "no startAt: the next new bar");
    let r = call(&app, Method::GET, "/api/v1/plan-usage", Some(&free), None).await;
    let gauge = r.body["metrics"].as_array().unwrap().iter().find(|u| u["metric"] == "paper_trades").cloned().unwrap();
    assert_eq!((gauge["used"].as_i64(), gauge["limit"].as_i64()), (Some(1), Some(1)), "{gauge}");
    let before = rows().await;
    let r = call(&app, Method::POST, "/api/v1/paper-trades", Some(&free), Some(good.clone())).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::FORBIDDEN, "quota_exceeded"), "{}", r.body);
    assert_eq!(r.body["error"]["details"]["metric"], "paper_trades");
    assert_eq!(rows().await, before, "nothing written over the quota");
    // a paused run frees its unit; resuming over the quota is refused
    call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{first}"), Some(&free), Some(json!({"status": "paused"}))).await;
    let r = call(&app, Method::POST, "/api/v1/paper-trades", Some(&free), Some(good.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{first}"), Some(&free), Some(json!({"status": "active"}))).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::FORBIDDEN, "quota_exceeded"), "{}", r.body);
    let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{first}"), Some(&free), Some(json!({"status": "whatever"}))).await;
    assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")), "{}", r.body);

    // concurrent starts of one free user: exactly one gets the unit
    let racer = token("rex@example.com", "builder", None);
    let v2 = version_of(&app, &racer, &c.graph, "private").await;
    let replies = futures::future::join_all((0..8).map(|_| call(&app, Method::POST, "/api/v1/paper-trades", Some(&racer), Some(body_of(&c, &v2, None))))).await;
    assert_eq!(replies.iter().filter(|r| r.status == StatusCode::CREATED).count(), 1);
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED || r.status == StatusCode::FORBIDDEN));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn runs_are_private_to_their_owner(pool: PgPool) {
    let c = case("sma_cross_next_open");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, st) = app_of(&pool, &lake).await;
    let ana = token("ana@example.com", "builder", Some("premium"));
    let bob = token("bob@example.com", "builder", Some("premium"));
    let version = version_of(&app, &ana, &c.graph, "public").await;
    let id = start(&app, &ana, &c, &version).await;
    feed(&pool, &lake, &st.paper, id, &c, 0..120).await;
    for path in ["", "/fills", "/equity", "/events"] {
        let r = call(&app, Method::GET, &format!("/api/v1/paper-trades/{id}{path}"), Some(&bob), None).await;
        assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::NOT_FOUND, "not_found"), "{path}");
    }
    let r = call(&app, Method::PATCH, &format!("/api/v1/paper-trades/{id}"), Some(&bob), Some(json!({"status": "stopped"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&app, Method::GET, "/api/v1/paper-trades", Some(&bob), None).await;
    assert_eq!(r.body["items"], json!([]));
    // bob may paper-trade ana's public version: his own run
    let mine = start(&app, &bob, &c, &version).await;
    let r = call(&app, Method::GET, "/api/v1/paper-trades", Some(&bob), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["id"], mine.to_string());
    let admin = token("root@example.com", "admin", None);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/paper-trades/{id}"), Some(&admin), None).await.status, StatusCode::OK);

    // the SQL endpoint's paper tables: the caller's rows only
    let flushed = paper::flush(&pool, &lake).await.unwrap();
    assert!(flushed.equity >= 120 && flushed.fills > 0, "{flushed:?}");
    let limits = api::sqlwire::Limits { max_rows: 10_000, timeout: std::time::Duration::from_secs(30) };
    for (who, email, want) in [(api::auth::jwt::user_id_for_email("ana@example.com"), "ana@example.com", 120), (api::auth::jwt::user_id_for_email("bob@example.com"), "bob@example.com", 0)] {
        let caller = api::sqlwire::session::Caller { id: who, email: email.into(), admin: false };
        let ctx = api::sqlwire::session::context(&pool, &lake, &caller, limits).await.unwrap();
        let b = ctx.sql("SELECT count(*) FROM paper_equity").await.unwrap().collect().await.unwrap();
        let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0).as_ref()).value(0);
        assert_eq!(n, want, "{email}");
        let b = ctx.sql("SELECT count(*) FROM paper_trades").await.unwrap().collect().await.unwrap();
        let n = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0).as_ref()).value(0);
        assert_eq!(n, 1, "{email} sees one run of their own");
    }
}

async fn lake_rows(lake: &lake::Lake, table: &str) -> i64 {
    let ctx = query::session(lake).await.unwrap();
    let b = ctx.sql(&format!("SELECT count(*) FROM {table}")).await.unwrap().collect().await.unwrap();
    arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0).as_ref()).value(0)
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn fills_and_equity_reach_the_lake_exactly_once(pool: PgPool) {
    let c = case("sma_cross_close");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, st) = app_of(&pool, &lake).await;
    let tok = token("flo@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, &c.graph, "private").await;
    let id = start(&app, &tok, &c, &version).await;
    feed(&pool, &lake, &st.paper, id, &c, 0..200).await;
    let f = paper::flush(&pool, &lake).await.unwrap();
    assert_eq!(f.equity, 200);
    feed(&pool, &lake, &st.paper, id, &c, 200..300).await;
    // a flush cut off after its lake commit, before Postgres recorded it, is finished, not repeated
    paper::flush(&pool, &lake).await.unwrap();
    sqlx::query("UPDATE lake_flushes SET batch = batch - 1").execute(&pool).await.unwrap();
    let again = paper::flush(&pool, &lake).await.unwrap();
    assert_eq!((again.fills, again.equity), (0, 0));
    let pg: i64 = sqlx::query_scalar("SELECT count(*) FROM paper_fills").fetch_one(&pool).await.unwrap();
    assert_eq!(lake_rows(&lake, "paper_equity").await, 300);
    assert_eq!(lake_rows(&lake, "paper_fills").await, pg);
    assert_eq!(lake_rows(&lake, &format!("paper_equity WHERE run_id = '{id}'")).await, 300, "partitioned by run id");
    // a flush cut off before its lake commit writes the same rows once
    feed(&pool, &lake, &st.paper, id, &c, 300..320).await;
    let done: i64 = sqlx::query_scalar("SELECT batch FROM lake_flushes WHERE name = 'paper_equity'").fetch_one(&pool).await.unwrap();
    sqlx::query("UPDATE paper_equity SET flush_batch = $1 WHERE flush_batch IS NULL").bind(done + 1).execute(&pool).await.unwrap();
    paper::flush(&pool, &lake).await.unwrap();
    assert_eq!(lake_rows(&lake, "paper_equity").await, 320);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn new_candles_are_announced_and_the_worker_ticks_the_runs_of_their_market(pool: PgPool) {
    let c = case("sma_cross_next_open");
    let dir = tempfile::tempdir().unwrap();
    // the lake holds the first 300 bars; more land later
    let first = Case { params: c.params.clone(), graph: c.graph.clone(), candles: c.candles[..300].to_vec() };
    let lake = lake_of(&first, dir.path()).await;
    let (app, _st) = app_of(&pool, &lake).await;
    let tok = token("wes@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, &c.graph, "private").await;
    // no startAt: warms on the history, trades from the next new bar
    let r = call(&app, Method::POST, "/api/v1/paper-trades", Some(&tok), Some(body_of(&c, &version, None))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id: Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(ms(&r.body["originTime"]), c.candles[0].open_time, "warm-up from the history (at most 1000 bars)");
    let worker = api::jobs::Worker::new(pool.clone(), Arc::new(lake.clone()), Default::default());
    assert!(worker.step().await.unwrap(), "the start queued a tick");
    let run = call(&app, Method::GET, &format!("/api/v1/paper-trades/{id}"), Some(&tok), None).await.body;
    assert_eq!((run["status"].as_str(), run["barsSeen"].as_i64(), run["barsTraded"].as_i64()), (Some("active"), Some(300), Some(0)), "{run}");

    // 100 more candles land: ingest announces them, the worker's tick trades them
    let more = Case { params: c.params.clone(), graph: c.graph.clone(), candles: c.candles[300..400].to_vec() };
    let sub = dir.path().join("more");
    std::fs::create_dir_all(&sub).unwrap();
    let m = &c.params.market;
    let file = sub.join("candles.csv");
    let mut text = String::from("open_time,open,high,low,close,volume\n");
    for k in &more.candles {
        text.push_str(&format!("{},{},{},{},{},{}\n", k.open_time, k.open, k.high, k.low, k.close, k.volume));
    }
    std::fs::write(&file, text).unwrap();
    let opts = ingest::IngestOptions { exchange: Some(m.exchange().into()), symbol: Some(m.symbol().into()), timeframe: Some(m.timeframe()), ..Default::default() };
    ingest::ingest_file(&lake, &file, &opts, &|_| {}).await.unwrap();
    let other = Market::new("binance", "ETHUSDT", m.timeframe()).unwrap();
    assert_eq!(paper::announce(&pool, &[other]).await.unwrap(), 0, "no run trades that market");
    assert_eq!(paper::announce(&pool, &[m.clone(), m.clone()]).await.unwrap(), 1);
    assert_eq!(paper::announce(&pool, std::slice::from_ref(m)).await.unwrap(), 1);
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE paper_run_id = $1 AND status = 'queued'").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!(queued, 1, "one queued tick per run at most");
    assert!(worker.step().await.unwrap());
    let run = call(&app, Method::GET, &format!("/api/v1/paper-trades/{id}"), Some(&tok), None).await.body;
    assert_eq!((run["barsSeen"].as_i64(), run["barsTraded"].as_i64()), (Some(400), Some(100)), "{run}");

    // the same run, warmed the same way, equals the stepper fed those bars directly
    let graph = pipelines::graph::validate(&c.graph).unwrap();
    let cfg = pipelines::backtest::SimConfig { initial_capital: c.params.initial_capital, fee_rate: c.params.fee_rate, slippage: c.params.slippage, fill_policy: c.params.fill_policy, risk: Default::default() };
    let mut s = pipelines::backtest::Stepper::new(&graph, &BTreeMap::new(), cfg).unwrap();
    c.candles[..300].iter().for_each(|k| s.warm(k));
    let equity: Vec<f64> = c.candles[300..400].iter().map(|k| s.step(k)).collect();
    let stored: Vec<f64> = sqlx::query_scalar("SELECT equity FROM paper_equity WHERE run_id = $1 ORDER BY bar_time").bind(id).fetch_all(&pool).await.unwrap();
    assert_eq!(stored, equity);

    // a run without candles for longer than noTradeHours is told so by the scan, once per cool-down
    sqlx::query("UPDATE paper_trade_runs SET alert_config = '{\"noTradeHours\": 2, \"cooldownMinutes\": 600}' WHERE id = $1").bind(id).execute(&pool).await.unwrap();
    assert_eq!(paper::scan(&pool, &lake).await.unwrap().alerts, 1, "the market's last candle is from 2021");
    assert_eq!(paper::scan(&pool, &lake).await.unwrap().alerts, 0, "cool-down");
    let alert: Value = sqlx::query_scalar("SELECT payload FROM notifications WHERE type = 'paper_trade_alert'").fetch_one(&pool).await.unwrap();
    assert_eq!((alert["rule"].as_str(), alert["runId"].as_str()), (Some("no_trade_hours"), Some(id.to_string().as_str())), "{alert}");
    assert!(alert["value"].as_f64().unwrap() > 24.0 * 365.0, "{alert}");

    // the scan finds a run behind its market without an announcement
    sqlx::query("UPDATE paper_trade_runs SET status = 'paused' WHERE id = $1").bind(id).execute(&pool).await.unwrap();
    assert_eq!(paper::scan(&pool, &lake).await.unwrap().queued, 0, "paused runs are left alone");
    sqlx::query("UPDATE paper_trade_runs SET status = 'active', last_bar_time = last_bar_time - interval '1 hour' WHERE id = $1").bind(id).execute(&pool).await.unwrap();
    assert_eq!(paper::scan(&pool, &lake).await.unwrap().queued, 1, "an active run behind its market");
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_runs_ticks_stream_as_server_sent_events_until_it_stops(pool: PgPool) {
    let c = case("sma_cross_next_open");
    let dir = tempfile::tempdir().unwrap();
    let lake = lake_of(&c, dir.path()).await;
    let (app, st) = app_of(&pool, &lake).await;
    let tok = token("sse@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, &c.graph, "private").await;
    let id = start(&app, &tok, &c, &version).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut events = reqwest::Client::new().get(format!("{base}/paper-trades/{id}/events")).bearer_auth(&tok).send().await.unwrap();
    assert_eq!((events.status().as_u16(), events.headers()["content-type"].to_str().unwrap()), (200, "text/event-stream"));
    let wait = std::time::Duration::from_secs(20);
    let first = crate::jobs::sse_events(&mut events, wait, |n, _| n == "status").await;
    assert_eq!(first.last().unwrap().1["status"], "scheduled", "the current state first");
    feed(&pool, &lake, &st.paper, id, &c, 0..3).await;
    let seen = crate::jobs::sse_events(&mut events, wait, |_, v| v["barsSeen"] == 3).await;
    let (name, last) = seen.last().unwrap();
    assert_eq!((name.as_str(), last["status"].as_str()), ("tick", Some("active")), "{seen:?}");
    assert_eq!(seen[0].0, "status", "scheduled → active is a status change: {seen:?}");
    assert!(last["performanceSnapshot"]["equity"].is_number(), "{last}");
    paper::stop(&pool, &lake, &st.paper, id).await.unwrap();
    let end = crate::jobs::sse_events(&mut events, wait, |_, v| v["status"] == "stopped").await;
    assert_eq!(end.last().unwrap().0, "status");
    assert!(tokio::time::timeout(std::time::Duration::from_secs(5), events.chunk()).await.unwrap().unwrap().is_none(), "the stream ends with the run");
}
