//! Backtest jobs end to end on a real Postgres and a real lake folder: POST → queue → worker →
//! metrics equal to the reference fixture; validation and quota consume nothing; the quota race;
//! retries, dead letters and abandoned leases; Server-Sent Events over real HTTP; isolation
//! between users; a `bb worker` killed with SIGKILL mid-job and the takeover by another.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api::auth::jwt::Verifier;
use api::config::ApiConfig;
use api::http::router;
use api::jobs::{Worker, WorkerConfig};
use axum::http::{Method, StatusCode};
use axum::Router;
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::{call, error_code, state, token, SECRET};
use crate::{fixtures, shared};

/// A lake in a temporary folder holding the candles of `files` (paths under ../shared/data).
async fn lake_with(files: &[&str]) -> (tempfile::TempDir, lake::Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().join("lake").display().to_string())).unwrap();
    for f in files {
        ingest::ingest_file(&lake, &shared(f), &ingest::IngestOptions::default(), &|_| {}).await.unwrap();
    }
    (dir, lake)
}

async fn app_and_state(pool: &PgPool, lake: &lake::Lake) -> (Router, api::http::AppState) {
    let st = state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), lake.clone()).await;
    (router(st.clone(), &ApiConfig::default()), st)
}

fn worker(pool: &PgPool, lake: &lake::Lake) -> Worker {
    Worker::new(
        pool.clone(),
        Arc::new(lake.clone()),
        WorkerConfig { id: "test-worker".into(), backoff: Duration::from_millis(50), progress_every: Duration::from_millis(50), ..WorkerConfig::default() },
    )
}

/// Creates a strategy with `graph`; returns its version 1's id.
async fn version_of(app: &Router, tok: &str, graph: Value, visibility: &str) -> String {
    let r = call(app, Method::POST, "/api/v1/strategies", Some(tok), Some(json!({"title": "S", "visibility": visibility, "graphJson": graph}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = call(app, Method::GET, &format!("/api/v1/strategies/{}/versions", r.body["id"].as_str().unwrap()), Some(tok), None).await;
    v.body["items"][0]["id"].as_str().unwrap().to_string()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339()
}

/// The POST body of a reference case.
fn request_of(case: &str, version: &str) -> Value {
    let p: Value = serde_json::from_str(&std::fs::read_to_string(fixtures(case).join("params.json")).unwrap()).unwrap();
    json!({"strategyVersionId": version, "exchange": p["exchange"], "symbol": p["symbol"], "timeframe": p["timeframe"],
        "from": iso(p["start"].as_i64().unwrap()), "to": iso(p["end"].as_i64().unwrap()), "initialCapital": p["initial_capital"],
        "feeRate": p["fee_rate"], "slippage": p["slippage"], "fillPolicy": p["fill_policy"], "params": p["params"]})
}

fn graph_of(case: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixtures(case).join("strategy.json")).unwrap()).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn camel(k: &str) -> String {
    let mut parts = k.split('_');
    let mut out = parts.next().unwrap().to_string();
    for p in parts {
        out.push_str(&p[..1].to_uppercase());
        out.push_str(&p[1..]);
    }
    out
}

/// Every metric of the reference `metrics.json` equals the API's (camelCase) to 1e-9.
fn assert_metrics(api: &Value, reference: &Path) {
    let want: Value = serde_json::from_str(&std::fs::read_to_string(reference).unwrap()).unwrap();
    for (k, v) in want.as_object().unwrap() {
        let got = &api[camel(k)];
        match (v.as_f64(), got.as_f64()) {
            (Some(a), Some(b)) => assert!(close(a, b), "{k}: api {b}, reference {a}"),
            _ => assert_eq!(got, v, "{k}"),
        }
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

async fn lake_count(lake: &lake::Lake, sql: &str) -> i64 {
    let ctx = query::session(lake).await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(batches[0].column(0).as_ref()).value(0)
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_run_goes_from_post_to_succeeded_with_the_reference_metrics(pool: PgPool) {
    let case = "bollinger_breakout_slippage";
    let (_dir, lake) = lake_with(&["harthor-marketlab/BTC_USDT-5m.feather"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("ana@example.com", "builder", None);
    let version = version_of(&app, &tok, graph_of(case), "private").await;

    let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(request_of(case, &version))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "queued");
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.headers["location"], format!("/api/v1/backtests/{id}").as_str());
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}/trades"), Some(&tok), None).await;
    assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::CONFLICT, "conflict"), "no results before the run succeeds");

    assert!(worker(&pool, &lake).step().await.unwrap(), "the worker took the job");
    let run = call(&app, Method::GET, &format!("/api/v1/backtests/{id}"), Some(&tok), None).await.body;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_metrics(&run["metrics"], &fixtures(case).join("metrics.json"));
    assert_eq!(run["candlesVersion"], 1);
    assert_eq!(run["attempts"], 1);
    assert_eq!(run["progress"], 1.0);
    for k in ["createdAt", "startedAt", "finishedAt"] {
        assert!(run[k].is_string(), "{k}: {run}");
    }
    assert!(run["anomalies"].is_array());

    // trades, page by page, equal the reference trade log
    let reference: Vec<Vec<String>> = std::fs::read_to_string(fixtures(case).join("trades.csv")).unwrap().lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect();
    let mut trades = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}/trades?limit=50{cursor}"), Some(&tok), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        trades.extend(r.body["items"].as_array().unwrap().clone());
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(trades.len(), reference.len());
    for (t, want) in trades.iter().zip(&reference) {
        assert_eq!(t["side"], want[0].as_str());
        assert_eq!(chrono::DateTime::parse_from_rfc3339(t["entryTime"].as_str().unwrap()).unwrap().timestamp_millis().to_string(), want[1]);
        assert!(close(t["pnl"].as_f64().unwrap(), want[7].parse().unwrap()), "{t} vs {want:?}");
        assert_eq!(t["exitReason"], want[9].as_str());
    }
    // the equity curve: every point of the reference, in order
    let reference: Vec<f64> = std::fs::read_to_string(fixtures(case).join("equity.csv")).unwrap().lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}/equity?limit=10000"), Some(&tok), None).await;
    let points = r.body["items"].as_array().unwrap();
    assert_eq!(points.len(), reference.len());
    assert!(points.iter().zip(&reference).all(|(p, e)| close(p["equity"].as_f64().unwrap(), *e)));
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}/equity?limit=100"), Some(&tok), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 100);
    let next = call(&app, Method::GET, &format!("/api/v1/backtests/{id}/equity?limit=100&cursor={}", r.body["nextCursor"].as_str().unwrap()), Some(&tok), None).await;
    assert_eq!(next.body["items"][0]["equity"].as_f64().unwrap(), points[100]["equity"].as_f64().unwrap());
    // the chart
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}/equity.svg"), Some(&tok), None).await;
    assert_eq!(r.headers["content-type"], "image/svg+xml");
    let svg = r.body.as_str().unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("drawdown"), "{svg}");
    assert!(svg.contains(&format!("max drawdown {:.2} %", run["metrics"]["maxDrawdownPct"].as_f64().unwrap())), "the legend's drawdown is the run's");

    // the lake holds one copy of the results; storing them again (a retried job) keeps one copy
    let metrics_rows = format!("SELECT count(*) FROM backtest_metrics WHERE run_id = '{id}'");
    let trade_rows = format!("SELECT count(*) FROM backtest_trades WHERE run_id = '{id}'");
    assert_eq!(lake_count(&lake, &metrics_rows).await, 1);
    assert_eq!(lake_count(&lake, &trade_rows).await, reference_trades(case));
    let graph = pipelines::graph::validate(&graph_of(case)).unwrap();
    let p: pipelines::backtest::BacktestParams = serde_json::from_str(&std::fs::read_to_string(fixtures(case).join("params.json")).unwrap()).unwrap();
    let (out, v) = pipelines::backtest::run_on_lake(&lake, &graph, &p, true).await.unwrap();
    pipelines::backtest::store::save(&lake, &id, &p, &out, Some(v)).await.unwrap();
    assert_eq!(lake_count(&lake, &metrics_rows).await, 1);
    assert_eq!(lake_count(&lake, &trade_rows).await, reference_trades(case));

    // a notification, the quota used, the run listed
    let n = call(&app, Method::GET, "/api/v1/notifications", Some(&tok), None).await.body;
    assert_eq!(n["items"].as_array().unwrap().len(), 1);
    assert_eq!(n["items"][0]["type"], "backtest_complete");
    assert_eq!(n["items"][0]["payload"]["runId"], id.as_str());
    assert!(close(n["items"][0]["payload"]["sharpe"].as_f64().unwrap(), run["metrics"]["sharpe"].as_f64().unwrap()));
    let u = call(&app, Method::GET, "/api/v1/plan-usage", Some(&tok), None).await.body;
    let b = u["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "backtests").unwrap();
    assert_eq!((b["used"].as_i64(), b["limit"].as_i64(), b["remaining"].as_i64()), (Some(1), Some(3), Some(2)));
    let strategy = run["strategyId"].as_str().unwrap();
    let l = call(&app, Method::GET, &format!("/api/v1/backtests?strategyId={strategy}"), Some(&tok), None).await.body;
    assert_eq!(l["items"][0]["id"], id.as_str());
    let l = call(&app, Method::GET, &format!("/api/v1/backtests?strategyId={}", Uuid::new_v4()), Some(&tok), None).await.body;
    assert!(l["items"].as_array().unwrap().is_empty());
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs WHERE status = 'succeeded' AND attempts = 1").await, 1);
}

fn reference_trades(case: &str) -> i64 {
    std::fs::read_to_string(fixtures(case).join("trades.csv")).unwrap().lines().count() as i64 - 1
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_sweep_stores_every_combination_and_compares_runs(pool: PgPool) {
    let (_dir, lake) = lake_with(&["djienne-3ema-srsi-atr/BTC_USDT-1h.json"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("sam@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, graph_of("param_sweep_sma"), "private").await;
    let body = |params: Value| json!({"strategyVersionId": version, "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h",
        "from": "2021-01-01T00:00:00Z", "to": "2021-07-01T00:00:00Z", "params": params});
    let a = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body(json!({"fast": [5, 10], "slow": [30, 50, 100]})))).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(a.body["combinations"], 6);
    let b = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body(json!({"fast": 8, "slow": 40})))).await;
    let w = worker(&pool, &lake);
    assert!(w.step().await.unwrap() && w.step().await.unwrap());
    assert!(!w.step().await.unwrap(), "the queue is empty");
    let (a, b) = (a.body["id"].as_str().unwrap(), b.body["id"].as_str().unwrap());
    let run = call(&app, Method::GET, &format!("/api/v1/backtests/{a}"), Some(&tok), None).await.body;
    let combos = run["comboMetrics"].as_array().unwrap();
    assert_eq!(combos.len(), 6);
    // the headline metrics are the best combination's by Sharpe ratio
    let best = run["bestCombo"].as_u64().unwrap() as usize;
    assert!(combos.iter().all(|c| c["metrics"]["sharpe"].as_f64().unwrap() <= combos[best]["metrics"]["sharpe"].as_f64().unwrap()));
    assert_eq!(run["metrics"], combos[best]["metrics"]);
    assert_eq!(combos[0]["params"], json!({"fast": 5.0, "slow": 30.0}), "the grid runs names in alphabetical order, the first slowest");
    assert_eq!(lake_count(&lake, &format!("SELECT count(*) FROM backtest_metrics WHERE run_id = '{a}'")).await, 6);
    // 2021H1 on 1h: Binance's maintenance windows are flagged as gaps
    assert!(run["anomalies"].as_array().unwrap().iter().any(|f| f["code"] == "data_gaps"), "{}", run["anomalies"]);
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{a}/trades?combo=5"), Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{a}/trades?combo=6"), Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let c = call(&app, Method::GET, &format!("/api/v1/backtests/compare?ids={a},{b}&maxPoints=5000"), Some(&tok), None).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    let times = c.body["times"].as_array().unwrap();
    let equity = c.body["equity"].as_array().unwrap();
    assert_eq!(c.body["runs"][1]["id"], b);
    assert_eq!(equity.len(), 2);
    assert!(equity.iter().all(|e| e.as_array().unwrap().len() == times.len()));
    // both runs cover the same bars, so every aligned point has both values, and the first is the capital
    assert!(equity.iter().all(|e| e.as_array().unwrap().iter().all(Value::is_f64)));
    assert_eq!(equity[0][0], 10000.0);
    let thin = call(&app, Method::GET, &format!("/api/v1/backtests/compare?ids={a},{b}&maxPoints=50"), Some(&tok), None).await;
    assert_eq!(thin.body["times"].as_array().unwrap().len(), 50);
    assert_eq!(thin.body["times"][0], times[0]);
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/compare?ids={a}"), Some(&tok), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn rejected_requests_consume_nothing_and_name_the_problem(pool: PgPool) {
    let (_dir, lake) = lake_with(&["djienne-3ema-srsi-atr/BTC_USDT-1h.json"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("ana@example.com", "builder", None);
    let other = token("bob@example.com", "builder", None);
    let version = version_of(&app, &tok, graph_of("param_sweep_sma"), "private").await;
    let ok = json!({"strategyVersionId": version, "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h",
        "from": "2021-01-01T00:00:00Z", "to": "2021-02-01T00:00:00Z", "params": {"fast": 5, "slow": 20}});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, StatusCode, &str, &str)> = vec![
        (with("symbol", json!("DOGEUSDT")), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "unknown market"),
        (with("from", json!("2030-01-01T00:00:00Z")), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "to must be after from"),
        (with("to", json!("2010-02-01T00:00:00Z")).tap_from("2010-01-01T00:00:00Z"), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "no binance BTCUSDT 1h candles between"),
        (with("timeframe", json!("7x")), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "7x"),
        (with("params", json!({"fast": -3, "slow": 20})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "fast"),
        (with("params", json!({"fast": "five"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "params.fast"),
        (with("feeRate", json!(-0.1)), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "feeRate"),
        (with("fillPolicy", json!("vwap")), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "fillPolicy"),
        (with("from", json!("yesterday")), StatusCode::BAD_REQUEST, "bad_request", "from"),
        (with("strategyVersionId", json!(Uuid::new_v4())), StatusCode::NOT_FOUND, "not_found", "strategy version"),
    ];
    for (body, status, code, says) in cases {
        let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body.clone())).await;
        assert_eq!((r.status, error_code(&r).as_str()), (status, code), "{body}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(says), "{says}: {}", r.body);
    }
    // another user cannot run a private strategy's version
    let r = call(&app, Method::POST, "/api/v1/backtests", Some(&other), Some(ok.clone())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&pool, "SELECT count(*) FROM backtest_runs").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 0);
    assert_eq!(count(&pool, "SELECT coalesce(sum(used), 0)::bigint FROM plan_usage").await, 0);
}

trait TapFrom {
    fn tap_from(self, from: &str) -> Self;
}
impl TapFrom for Value {
    fn tap_from(mut self, from: &str) -> Self {
        self["from"] = json!(from);
        self
    }
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn two_hundred_concurrent_requests_of_a_free_user_accept_exactly_three(pool: PgPool) {
    let (_dir, lake) = lake_with(&["djienne-3ema-srsi-atr/BTC_USDT-1h.json"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("eve@example.com", "builder", Some("free"));
    let version = version_of(&app, &tok, graph_of("param_sweep_sma"), "private").await;
    let body = json!({"strategyVersionId": version, "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h",
        "from": "2021-01-01T00:00:00Z", "to": "2021-02-01T00:00:00Z", "params": {"fast": 5, "slow": 20}});
    let replies = futures::future::join_all((0..200).map(|_| {
        let (app, tok, body) = (app.clone(), tok.clone(), body.clone());
        tokio::spawn(async move { call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body)).await })
    }))
    .await;
    let replies: Vec<_> = replies.into_iter().map(Result::unwrap).collect();
    let accepted = replies.iter().filter(|r| r.status == StatusCode::ACCEPTED).count();
    assert_eq!(accepted, 3);
    let refused: Vec<_> = replies.iter().filter(|r| r.status == StatusCode::FORBIDDEN).collect();
    assert_eq!(refused.len(), 197, "every other request is refused by the quota");
    let e = &refused[0].body["error"];
    assert_eq!(e["code"], "quota_exceeded");
    assert_eq!(e["details"]["limit"], 3);
    assert!(e["details"]["windowEnd"].as_str().unwrap().contains("T00:00:00"));
    assert!(e["message"].as_str().unwrap().contains("Upgrade"));
    assert_eq!(count(&pool, "SELECT count(*) FROM backtest_runs").await, 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM jobs").await, 3);
    assert_eq!(count(&pool, "SELECT sum(used)::bigint FROM plan_usage").await, 3);
    let u = call(&app, Method::GET, "/api/v1/plan-usage", Some(&tok), None).await.body;
    assert_eq!(u["plan"], "free");
    let b = u["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "backtests").unwrap().clone();
    assert_eq!((b["used"].as_i64(), b["remaining"].as_i64()), (Some(3), Some(0)));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn failures_are_retried_with_backoff_then_dead_lettered(pool: PgPool) {
    let (_dir, lake) = lake_with(&["djienne-3ema-srsi-atr/BTC_USDT-1h.json"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("ana@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, graph_of("param_sweep_sma"), "private").await;
    let body = json!({"strategyVersionId": version, "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h",
        "from": "2021-01-01T00:00:00Z", "to": "2021-02-01T00:00:00Z", "params": {"fast": 5, "slow": 20}});
    let run = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body.clone())).await.body;
    let id = Uuid::parse_str(run["id"].as_str().unwrap()).unwrap();

    // a worker whose lake cannot be read fails with a transient error: retried, then dead
    let blocked = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(blocked.path().join("candles/_delta_log")).unwrap();
    std::fs::write(blocked.path().join("candles/_delta_log/00000000000000000000.json"), "not json").unwrap();
    let broken = lake::Lake::new(lake::LakeConfig::new(blocked.path().display().to_string())).unwrap();
    let w = worker(&pool, &broken);
    sqlx::query("UPDATE jobs SET max_attempts = 2").execute(&pool).await.unwrap();
    assert!(w.step().await.unwrap());
    let (status, attempts, err, after): (String, i32, String, bool) =
        sqlx::query_as("SELECT status, attempts, last_error, run_after > now() FROM jobs").fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), attempts, after), ("queued", 1, true), "{err}");
    assert!(err.starts_with("attempt 1 of 2: "), "{err}");
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}"), Some(&tok), None).await.body;
    assert_eq!(r["status"], "queued");
    assert!(r["error"].as_str().unwrap().contains("retrying"), "{r}");
    assert!(!w.step().await.unwrap(), "not before the backoff");
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(w.step().await.unwrap());
    let (status, attempts, err): (String, i32, String) = sqlx::query_as("SELECT status, attempts, last_error FROM jobs").fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), attempts), ("dead", 2));
    assert!(err.starts_with("attempt 2 of 2: "), "{err}");
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{id}"), Some(&tok), None).await.body;
    assert_eq!(r["status"], "failed");
    assert!(r["finishedAt"].is_string());
    let n = call(&app, Method::GET, "/api/v1/notifications", Some(&tok), None).await.body;
    assert_eq!(n["items"][0]["type"], "backtest_failed");
    assert_eq!(n["items"][0]["payload"]["runId"], id.to_string());

    // a permanent error (the graph no longer validates) is dead at once
    let run = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body.clone())).await.body;
    sqlx::query("UPDATE strategy_versions SET graph_json = '{\"nodes\": []}'").execute(&pool).await.unwrap();
    assert!(worker(&pool, &lake).step().await.unwrap());
    let (status, attempts): (String, i32) = sqlx::query_as("SELECT status, attempts FROM jobs WHERE run_id = $1")
        .bind(Uuid::parse_str(run["id"].as_str().unwrap()).unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("dead", 1));

    // a job whose worker vanished on its last attempt is dead-lettered once the lease expires
    sqlx::query("UPDATE strategy_versions SET graph_json = $1").bind(graph_of("param_sweep_sma")).execute(&pool).await.unwrap();
    let run = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body)).await.body;
    let rid = Uuid::parse_str(run["id"].as_str().unwrap()).unwrap();
    sqlx::query("UPDATE jobs SET max_attempts = 1 WHERE run_id = $1").bind(rid).execute(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let job = api::services::jobs::claim(&mut tx, "gone", Duration::from_millis(1), true).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(job.run_id, Some(rid));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!worker(&pool, &lake).step().await.unwrap(), "no attempts left to take over");
    let (status, err): (String, String) = sqlx::query_as("SELECT status, last_error FROM jobs WHERE run_id = $1").bind(rid).fetch_one(&pool).await.unwrap();
    assert_eq!(status, "dead");
    assert!(err.contains("worker gone stopped renewing its lease"), "{err}");
    let r = call(&app, Method::GET, &format!("/api/v1/backtests/{rid}"), Some(&tok), None).await.body;
    assert_eq!(r["status"], "failed");
}

/// Reads Server-Sent Events from a streaming response until `until` holds for one, or the timeout.
pub(crate) async fn sse_events(res: &mut reqwest::Response, timeout: Duration, until: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
    let mut buf = String::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, res.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => return events,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut name, mut data) = (String::from("message"), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if data.is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(&data).unwrap();
            let stop = until(&name, &value);
            events.push((name, value));
            if stop {
                return events;
            }
        }
    }
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn events_stream_over_http_to_the_owner_only(pool: PgPool) {
    let (_dir, lake) = lake_with(&["djienne-3ema-srsi-atr/BTC_USDT-1h.json"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let (ana, bob) = (token("ana@example.com", "builder", Some("premium")), token("bob@example.com", "builder", Some("premium")));
    let get = |path: String, tok: String| {
        let req = http.get(format!("{base}{path}")).bearer_auth(tok);
        async move { req.send().await.unwrap() }
    };
    let post = |path: &str, tok: &str, body: Value| {
        http.post(format!("{base}{path}")).bearer_auth(tok).header("content-type", "application/json").body(body.to_string()).send()
    };
    let r = post("/strategies", &ana, json!({"title": "S", "graphJson": graph_of("param_sweep_sma")})).await.unwrap();
    let strategy: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let versions: Value = serde_json::from_slice(&get(format!("/strategies/{}/versions", strategy["id"].as_str().unwrap()), ana.clone()).await.bytes().await.unwrap()).unwrap();
    let body = json!({"strategyVersionId": versions["items"][0]["id"], "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h",
        "from": "2020-01-01T00:00:00Z", "to": "2022-01-01T00:00:00Z", "params": {"fast": [5, 10, 20], "slow": [30, 50, 100, 200]}});

    // notification streams of both users are open before the run
    let mut ana_notes = get("/notifications/stream".into(), ana.clone()).await;
    let mut bob_notes = get("/notifications/stream".into(), bob.clone()).await;
    assert_eq!(ana_notes.headers()["content-type"], "text/event-stream");
    let first = sse_events(&mut ana_notes, Duration::from_secs(10), |n, _| n == "ready").await;
    assert_eq!(first.last().unwrap().1["unread"], 0);
    sse_events(&mut bob_notes, Duration::from_secs(10), |n, _| n == "ready").await;

    let r = post("/backtests", &ana, body).await.unwrap();
    assert_eq!(r.status(), 202);
    let run: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let id = run["id"].as_str().unwrap().to_string();

    // bob sees nothing of ana's run
    for path in [format!("/backtests/{id}"), format!("/backtests/{id}/events"), format!("/backtests/{id}/trades"), format!("/backtests/{id}/equity.svg"), format!("/backtests/compare?ids={id},{id}")] {
        assert_eq!(get(path.clone(), bob.clone()).await.status(), 404, "{path}");
    }
    let mut events = get(format!("/backtests/{id}/events"), ana.clone()).await;
    assert_eq!(events.status(), 200);
    // the first event (the current state) is read before the worker starts, so it is `queued`
    let mut seen = sse_events(&mut events, Duration::from_secs(10), |n, _| n == "status").await;
    let w = worker(&pool, &lake);
    let job = tokio::spawn(async move { w.step().await.unwrap() });
    seen.extend(sse_events(&mut events, Duration::from_secs(60), |_, v| v["status"] == "succeeded" || v["status"] == "failed").await);
    assert!(job.await.unwrap());
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    let statuses: Vec<&str> = seen.iter().filter(|(n, _)| n == "status").map(|(_, v)| v["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"queued"), "the first event is the current state: {seen:?}");
    assert_eq!(statuses.last(), Some(&"succeeded"), "{names:?}");
    assert!(statuses.contains(&"running"), "{names:?}");
    let last = &seen.last().unwrap().1;
    assert!(last["metrics"]["sharpe"].is_number() && last["progress"] == 1.0, "{last}");
    // progress events carry the bar and combination counts
    let progress: Vec<&Value> = seen.iter().filter(|(_, v)| v["progressDetail"].is_object()).map(|(_, v)| &v["progressDetail"]).collect();
    assert!(!progress.is_empty(), "{seen:?}");
    assert!(progress.iter().all(|d| d["barsTotal"].as_u64().unwrap() > 8_000 && [0, 12].contains(&d["combosTotal"].as_u64().unwrap())), "{progress:?}");
    assert!(seen.windows(2).all(|w| w[0].1["progress"].as_f64() <= w[1].1["progress"].as_f64()), "progress never goes back");
    // the stream ends after the last status
    assert!(tokio::time::timeout(Duration::from_secs(5), events.chunk()).await.unwrap().unwrap().is_none());

    // the notification reaches ana's stream, not bob's
    let got = sse_events(&mut ana_notes, Duration::from_secs(10), |n, _| n == "notification").await;
    let (name, note) = got.last().unwrap();
    assert_eq!((name.as_str(), note["type"].as_str()), ("notification", Some("backtest_complete")));
    assert_eq!(note["payload"]["runId"], id.as_str());
    assert!(sse_events(&mut bob_notes, Duration::from_millis(1500), |n, _| n == "notification").await.is_empty());
    // a finished run's stream says so at once and ends
    let mut again = get(format!("/backtests/{id}/events"), ana.clone()).await;
    let seen = sse_events(&mut again, Duration::from_secs(5), |_, v| v["status"] == "succeeded").await;
    assert_eq!(seen.len(), 1);

    // read state
    let note_id = note["id"].as_str().unwrap();
    let unread: Value = serde_json::from_slice(&get("/notifications/unread-count".into(), ana.clone()).await.bytes().await.unwrap()).unwrap();
    assert_eq!(unread["unread"], 1);
    assert_eq!(post(&format!("/notifications/{note_id}/read"), &bob, json!({})).await.unwrap().status(), 404);
    assert_eq!(post(&format!("/notifications/{note_id}/read"), &ana, json!({})).await.unwrap().status(), 200);
    let unread: Value = serde_json::from_slice(&get("/notifications/unread-count".into(), ana.clone()).await.bytes().await.unwrap()).unwrap();
    assert_eq!(unread["unread"], 0);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn notifications_list_unread_first_and_mark_all_read(pool: PgPool) {
    let (app, _) = app_and_state(&pool, &crate::http::scratch_lake()).await;
    let tok = token("ana@example.com", "builder", None);
    call(&app, Method::GET, "/api/v1/me", Some(&tok), None).await;
    let user = api::auth::jwt::user_id_for_email("ana@example.com");
    let mut ids = Vec::new();
    let mut c = pool.acquire().await.unwrap();
    for i in 0..5 {
        ids.push(api::services::notifications::insert(&mut c, user, api::model::NotificationType::System, &json!({"n": i})).await.unwrap());
    }
    // the oldest two are read
    for id in &ids[..2] {
        assert_eq!(call(&app, Method::POST, &format!("/api/v1/notifications/{id}/read"), Some(&tok), None).await.status, StatusCode::OK);
    }
    let page = call(&app, Method::GET, "/api/v1/notifications?limit=2", Some(&tok), None).await.body;
    let n: Vec<i64> = page["items"].as_array().unwrap().iter().map(|i| i["payload"]["n"].as_i64().unwrap()).collect();
    assert_eq!(n, vec![4, 3]);
    let page2 = call(&app, Method::GET, &format!("/api/v1/notifications?limit=10&cursor={}", page["nextCursor"].as_str().unwrap()), Some(&tok), None).await.body;
    let n: Vec<i64> = page2["items"].as_array().unwrap().iter().map(|i| i["payload"]["n"].as_i64().unwrap()).collect();
    assert_eq!(n, vec![2, 1, 0], "unread first, then the read ones, newest first");
    let only = call(&app, Method::GET, "/api/v1/notifications?unread=true", Some(&tok), None).await.body;
    assert_eq!(only["items"].as_array().unwrap().len(), 3);
    let r = call(&app, Method::POST, "/api/v1/notifications/read-all", Some(&tok), None).await.body;
    assert_eq!(r["marked"], 3);
    let c = call(&app, Method::GET, "/api/v1/notifications/unread-count", Some(&tok), None).await.body;
    assert_eq!(c["unread"], 0);
}

/// The URL of the test's own database (the harness names it; `DATABASE_URL` points at the cluster).
async fn url_of(pool: &PgPool) -> String {
    let db: String = sqlx::query_scalar("SELECT current_database()").fetch_one(pool).await.unwrap();
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(&format!("/{db}"));
    url.to_string()
}

fn spawn_worker(url: &str, lake: &Path, id: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_bb"))
        .args(["worker", "--lease-secs", "2", "--poll-secs", "0.2", "--worker-id", id])
        .env("DATABASE_URL", url)
        .env("BB_LAKE_URI", lake)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_worker_killed_mid_job_is_taken_over_and_the_run_finishes_exactly_once(pool: PgPool) {
    let (dir, lake) = lake_with(&["filimonov-freqtrade/BTC_USDT-1m.feather"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("ana@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, graph_of("param_sweep_sma"), "private").await;
    // 64 combinations over ~130k 1m bars: seconds of work, so the kill lands mid-job
    let body = json!({"strategyVersionId": version, "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1m",
        "from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z",
        "params": {"fast": [3, 5, 8, 10, 12, 15, 20, 25], "slow": [30, 40, 50, 60, 80, 100, 150, 200]}});
    let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = Uuid::parse_str(r.body["id"].as_str().unwrap()).unwrap();
    let url = url_of(&pool).await;
    let lake_dir = dir.path().join("lake");

    let mut first = spawn_worker(&url, &lake_dir, "doomed");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, detail): (String, Option<Value>) = sqlx::query_as("SELECT status, progress_detail FROM backtest_runs WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
        if status == "running" && detail.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the first worker never started the job ({status})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let (status, worker): (String, String) = sqlx::query_as("SELECT r.status, j.worker FROM backtest_runs r JOIN jobs j ON j.run_id = r.id WHERE r.id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), worker.as_str()), ("running", "doomed"), "killed mid-job: the run is still running, the job still leased");

    let mut second = spawn_worker(&url, &lake_dir, "heir");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        let status: String = sqlx::query_scalar("SELECT status FROM backtest_runs WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
        if status == "succeeded" || status == "failed" || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(status, "succeeded");
    let (job_status, attempts, worker): (String, i32, String) = sqlx::query_as("SELECT status, attempts, worker FROM jobs WHERE run_id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!((job_status.as_str(), attempts, worker.as_str()), ("succeeded", 2, "heir"));
    assert_eq!(count(&pool, "SELECT count(*) FROM notifications").await, 1, "one notification");
    // the lake holds exactly one copy of the run's results
    let q = |sql: String| {
        let lake = lake.clone();
        async move { lake_count(&lake, &sql).await }
    };
    assert_eq!(q(format!("SELECT count(*) FROM backtest_metrics WHERE run_id = '{id}'")).await, 64);
    let trades = q(format!("SELECT count(*) FROM backtest_trades WHERE run_id = '{id}'")).await;
    let distinct = q(format!("SELECT count(*) FROM (SELECT DISTINCT combo, trade_no FROM backtest_trades WHERE run_id = '{id}')")).await;
    assert_eq!(trades, distinct, "no trade stored twice");
    let sum: i64 = sqlx::query_scalar("SELECT sum((c -> 'metrics' ->> 'trades')::bigint)::bigint FROM backtest_runs, jsonb_array_elements(combo_metrics) c WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(trades, sum, "the lake's trades are the run's");
    let bars = q(format!("SELECT count(*) FROM backtest_equity WHERE run_id = '{id}' AND combo = 0")).await;
    let distinct = q(format!("SELECT count(DISTINCT equity_time) FROM backtest_equity WHERE run_id = '{id}' AND combo = 0")).await;
    assert_eq!(bars, distinct);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_backtest_request_resolves_any_spelling_of_its_market(pool: PgPool) {
    let (_dir, lake) = lake_with(&["djienne-3ema-srsi-atr/BTC_USDT-1h.json"]).await;
    let (app, _) = app_and_state(&pool, &lake).await;
    let tok = token("sam@example.com", "builder", Some("premium"));
    let version = version_of(&app, &tok, graph_of("param_sweep_sma"), "private").await;
    let body = |exchange: &str, symbol: &str, timeframe: &str| json!({"strategyVersionId": version, "exchange": exchange, "symbol": symbol,
        "timeframe": timeframe, "from": "2021-01-01T00:00:00Z", "to": "2021-02-01T00:00:00Z", "params": {"fast": 5, "slow": 20}});
    let mut ids = Vec::new();
    for (exchange, symbol, timeframe) in [("binance", "BTCUSDT", "1h"), ("Binance", "btc/usdt", "60m"), ("binance", "BTC_USDT", "60m"), ("binance", "btc-usdt", "1h")] {
        let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body(exchange, symbol, timeframe))).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{symbol} {timeframe}: {}", r.body);
        assert_eq!((r.body["exchange"].as_str(), r.body["symbol"].as_str(), r.body["timeframe"].as_str()), (Some("binance"), Some("BTCUSDT"), Some("1h")));
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let w = worker(&pool, &lake);
    while w.step().await.unwrap() {}
    let mut metrics: Vec<Value> = Vec::new();
    for id in &ids {
        metrics.push(call(&app, Method::GET, &format!("/api/v1/backtests/{id}"), Some(&tok), None).await.body["metrics"].clone());
    }
    assert!(metrics[0]["trades"].as_i64().unwrap() > 0, "{}", metrics[0]);
    assert!(metrics.iter().all(|m| *m == metrics[0]), "every spelling ran the same candles");
    let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body("binance", "BTC$USDT", "1h"))).await;
    assert_eq!((r.status, r.body["error"]["details"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("symbol")), "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("invalid symbol 'BTC$USDT'"), "{}", r.body);
}
