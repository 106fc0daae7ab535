//! `bb demo`: the main job on embedded defaults — ingest the bundled sample into the local lake,
//! summarise it, backtest the bundled SMA-crossover strategy (once, then as a small sweep), then
//! serve the REST API over Postgres (a private cluster without DATABASE_URL) with a job worker,
//! store the strategy, run a backtest through it, and paper-trade it over a replayed day.

use std::process::ExitCode;

use clap::Args;
use ingest::{ingest_file, IngestOptions};

use super::output::{self, OutputFormat};
use super::global::GlobalArgs;

/// The bundled sample (real Binance candles, see sample/PROVENANCE.md), embedded in the binary.
const SAMPLE: &[(&str, &[u8])] = &[
    ("BTC_USDT-1h.json.gz", include_bytes!("../../../sample/BTC_USDT-1h.json.gz")),
    ("ETH_USDT-1h.json.gz", include_bytes!("../../../sample/ETH_USDT-1h.json.gz")),
    ("BTC_USDT-1m.json.gz", include_bytes!("../../../sample/BTC_USDT-1m.json.gz")),
    ("ETH_USDT-1m.json.gz", include_bytes!("../../../sample/ETH_USDT-1m.json.gz")),
];

/// The demo strategy (an SMA crossover with `$param`s fast and slow, stop-loss and take-profit).
const STRATEGY: &str = include_str!("../../../sample/sma_cross.json");

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Postgres URL (a private cluster in <data dir>/pg when unset).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    println!("lake: {}", lake.root());
    let sample_dir = global.data_dir.join("sample");
    std::fs::create_dir_all(&sample_dir)?;
    for (name, bytes) in SAMPLE {
        let path = sample_dir.join(name);
        std::fs::write(&path, bytes)?;
        let r = ingest_file(&lake, &path, &IngestOptions::default(), &|_| {}).await?;
        println!(
            "ingested {name}: {} rows, {} new, {} already present, {} quarantined, {}",
            r.rows_read,
            r.candles.inserted,
            r.candles.already_present(),
            r.quarantined,
            r.gaps
        );
    }
    let ctx = query::session(&lake).await?;
    let summary = query::sql(
        &ctx,
        "SELECT exchange, symbol, timeframe, count(*) AS candles, min(open_time) AS first, max(open_time) AS last, \
         round(avg(close), 2) AS avg_close, round(max(high) / min(low) - 1, 4) AS range_ratio \
         FROM candles GROUP BY exchange, symbol, timeframe ORDER BY symbol, timeframe",
    )
    .await?;
    println!("\ncandles in the lake:");
    output::write(&mut std::io::stdout().lock(), &summary, OutputFormat::Table)?;
    backtests(&lake).await?;
    api(global, &lake, args.database_url.as_deref()).await?;
    println!("\ntry: bb sql \"SELECT * FROM candles WHERE symbol = 'BTCUSDT' AND timeframe = '1h' ORDER BY open_time DESC LIMIT 5\"");
    println!("     bb sql \"SELECT run_id, combo, params, total_return_pct, sharpe, trades FROM backtest_metrics ORDER BY created_at DESC\"");
    Ok(ExitCode::SUCCESS)
}

/// Backtests the demo strategy on the sample's BTC/USDT 1h candles, then sweeps fast × slow.
async fn backtests(lake: &lake::Lake) -> anyhow::Result<()> {
    use pipelines::backtest::{run_on_lake, store, BacktestParams, ParamValues};
    let graph = pipelines::graph::validate(&serde_json::from_str(STRATEGY)?).map_err(pipelines::Error::Graph)?;
    let mut p: BacktestParams = serde_json::from_value(serde_json::json!({"exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h"}))?;
    let (out, version) = run_on_lake(lake, &graph, &p, true).await?;
    let run_id = uuid::Uuid::new_v4().to_string();
    store::save(lake, &run_id, &p, &out, Some(version)).await?;
    let m = &out.run.combos[0].metrics;
    println!(
        "\nbacktest of sample/sma_cross.json (SMA 10 × 30, stop-loss 3 %, take-profit 8 %) on binance BTCUSDT 1h, {} bars:",
        out.run.bars
    );
    println!(
        "  total return {:.2} % (buy and hold {:.2} %), {} trades, win rate {:.1} %, sharpe {:.3}, max drawdown {:.2} %, fees {:.2}",
        m.total_return_pct, m.buy_and_hold_return_pct, m.trades, m.win_rate_pct, m.sharpe, m.max_drawdown_pct, m.fees_paid
    );
    println!("  run {run_id} (candles version {version})");
    p.params = ParamValues::grid(&[("fast".into(), vec![5.0, 10.0, 20.0]), ("slow".into(), vec![30.0, 50.0, 100.0])]);
    let (out, version) = run_on_lake(lake, &graph, &p, false).await?;
    let run_id = uuid::Uuid::new_v4().to_string();
    store::save(lake, &run_id, &p, &out, Some(version)).await?;
    let mut best: Vec<usize> = (0..out.run.combos.len()).collect();
    best.sort_by(|a, b| out.run.combos[*b].metrics.sharpe.total_cmp(&out.run.combos[*a].metrics.sharpe));
    println!("sweep fast × slow ({} combinations), best three by sharpe:", out.run.combos.len());
    for &k in best.iter().take(3) {
        let (c, m) = (&out.combinations[k], &out.run.combos[k].metrics);
        println!("  fast {:>3} slow {:>3}: total return {:>7.2} %, sharpe {:>6.3}, {} trades", c["fast"], c["slow"], m.total_return_pct, m.sharpe, m.trades);
    }
    println!("  run {run_id}");
    Ok(())
}

/// Serves the REST API on a free local port with an embedded job worker, then does what the web
/// app does: stores the demo strategy (`POST /strategies`), submits a backtest of it (`POST
/// /backtests`), waits for the worker to finish it and prints the metrics the API returns; then
/// paper-trades it and replays a day of candles through the run.
async fn api(global: &GlobalArgs, lake: &lake::Lake, database_url: Option<&str>) -> anyhow::Result<()> {
    use std::time::Duration;

    use secrecy::SecretString;
    use serde_json::{json, Value};

    use crate::auth::jwt::{claims_for, sign_hs256, user_id_for_email, Verifier};
    use crate::jobs::{Worker, WorkerConfig};

    let (url, cluster) = super::db::database(&global.data_dir, database_url)?;
    let pool = crate::db::connect(&url).await?;
    let applied = crate::db::migrate(&pool).await?;
    // a one-off secret: the demo signs its own token, as `bb token` does with BB_JWT_SECRET
    let secret = SecretString::from(uuid::Uuid::new_v4().to_string());
    let state = crate::state::AppState::new(pool.clone(), Verifier::new(Some(secret.clone()), None), lake.clone()).await?;
    let app = crate::http::router(state.clone(), &crate::config::ApiConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}/api/v1", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let worker = Worker { pool: pool.clone(), lake: state.lake.clone(), config: WorkerConfig { poll: Duration::from_millis(200), ..WorkerConfig::default() }, paper: state.paper.clone(), notifier: state.notifier.clone() };
    let worker = tokio::spawn(worker.run(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    }));

    let email = "demo@blockbuilders.local";
    let claims = claims_for(&user_id_for_email(email).to_string(), Some(email), &["builder"], Some("premium"), Duration::from_secs(600));
    let token = sign_hs256(&secret, &claims)?;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = http.request(method, format!("{base}{path}")).bearer_auth(&token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        async move {
            let res = req.send().await?;
            let status = res.status();
            let body: Value = serde_json::from_slice(&res.bytes().await?).unwrap_or(Value::Null);
            anyhow::Ok((status, body))
        }
    };
    let body = json!({"title": "SMA cross (demo)", "visibility": "public", "tags": ["demo", "sma"], "graphJson": serde_json::from_str::<Value>(STRATEGY)?});
    let (status, created) = call(reqwest::Method::POST, "/strategies", Some(body)).await?;
    anyhow::ensure!(status == reqwest::StatusCode::CREATED, "POST /strategies answered {status}: {created}");
    println!("\nAPI on {base} over Postgres ({applied} migration(s) applied), with an embedded job worker:");
    println!("  POST /strategies → 201, strategy {} (slug {})", created["id"].as_str().unwrap_or_default(), created["slug"].as_str().unwrap_or_default());
    let (_, versions) = call(reqwest::Method::GET, &format!("/strategies/{}/versions", created["id"].as_str().unwrap_or_default()), None).await?;
    let version_id = versions["items"][0]["id"].as_str().unwrap_or_default().to_string();
    let request = json!({"strategyVersionId": version_id, "exchange": "binance", "symbol": "ETHUSDT", "timeframe": "1h",
        "from": "2022-03-17T03:00:00Z", "to": "2022-07-20T03:00:00Z", "initialCapital": 10000, "feeRate": 0.001,
        "params": {"fast": [5, 10], "slow": [30, 50]}});
    let (status, run) = call(reqwest::Method::POST, "/backtests", Some(request)).await?;
    anyhow::ensure!(status == reqwest::StatusCode::ACCEPTED, "POST /backtests answered {status}: {run}");
    let id = run["id"].as_str().unwrap_or_default().to_string();
    println!("  POST /backtests (ETHUSDT 1h, fast × slow sweep) → 202, run {id} {}", run["status"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let run = loop {
        let (_, run) = call(reqwest::Method::GET, &format!("/backtests/{id}"), None).await?;
        if matches!(run["status"].as_str(), Some("succeeded" | "failed")) || std::time::Instant::now() > deadline {
            break run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    anyhow::ensure!(run["status"] == "succeeded", "the backtest did not succeed: {run}");
    let m = &run["metrics"];
    let best = &run["comboMetrics"][run["bestCombo"].as_u64().unwrap_or(0) as usize]["params"];
    println!(
        "  GET /backtests/{id} → succeeded ({} combinations; best by sharpe: fast {} slow {}):",
        run["combinations"],
        pipelines::backtest::fmt_number(best["fast"].as_f64().unwrap_or(f64::NAN)),
        pipelines::backtest::fmt_number(best["slow"].as_f64().unwrap_or(f64::NAN))
    );
    println!(
        "    total return {:.2} %, sharpe {:.3}, max drawdown {:.2} %, {} trades, win rate {:.1} %",
        m["totalReturnPct"].as_f64().unwrap_or(f64::NAN),
        m["sharpe"].as_f64().unwrap_or(f64::NAN),
        m["maxDrawdownPct"].as_f64().unwrap_or(f64::NAN),
        m["trades"],
        m["winRatePct"].as_f64().unwrap_or(f64::NAN)
    );
    let flags: Vec<&str> = run["anomalies"].as_array().map(|a| a.iter().filter_map(|f| f["code"].as_str()).collect()).unwrap_or_default();
    println!("    anomaly flags: {}", if flags.is_empty() { "none".to_string() } else { flags.join(", ") });
    paper_trading(&pool, lake, &state, &call, &version_id).await?;
    let (_, unread) = call(reqwest::Method::GET, "/notifications/unread-count", None).await?;
    println!("  GET /notifications/unread-count → {}", unread["unread"]);
    println!("  serve it: BB_JWT_SECRET=... bb serve   (then: curl -H \"Authorization: Bearer $(bb token --email you@example.com)\" localhost:8000/api/v1/me)");
    let _ = stop_tx.send(true);
    let _ = worker.await;
    server.abort();
    pool.close().await;
    drop(cluster);
    Ok(())
}

/// Starts a paper trade of the demo strategy (`POST /paper-trades`) on the sample's BTCUSDT 1m
/// candles from a day before the last one, replays that day bar by bar as `bb paper replay` does,
/// and prints what the API then shows of the run.
async fn paper_trading<F, Fut>(pool: &sqlx::PgPool, lake: &lake::Lake, state: &crate::state::AppState, call: &F, version_id: &str) -> anyhow::Result<()>
where
    F: Fn(reqwest::Method, &str, Option<serde_json::Value>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(reqwest::StatusCode, serde_json::Value)>>,
{
    use crate::services::paper_trades as paper;
    let market = lake::Market::new("binance", "BTCUSDT", lake::Timeframe::parse("1m")?)?;
    let candles = pipelines::paper::read_candles(lake, &market, lake::Span::ALL).await?;
    let last = candles.last().ok_or_else(|| anyhow::anyhow!("the sample has no BTCUSDT 1m candles"))?.open_time;
    let day: Vec<_> = candles.iter().filter(|c| c.open_time > last - 86_400_000).collect();
    let start = day[0].open_time;
    let start_at = chrono::DateTime::from_timestamp_millis(start).unwrap_or_default().to_rfc3339();
    let body = serde_json::json!({"strategyVersionId": version_id, "schedule": {"exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1m",
        "capital": 10000, "feeRate": 0.001, "fillPolicy": "next_open", "params": {"fast": 10, "slow": 30}, "startAt": start_at},
        "alertConfig": {"maxDrawdownPct": 2, "cooldownMinutes": 240}});
    let (status, run) = call(reqwest::Method::POST, "/paper-trades", Some(body)).await?;
    anyhow::ensure!(status == reqwest::StatusCode::CREATED, "POST /paper-trades answered {status}: {run}");
    let id: uuid::Uuid = run["id"].as_str().unwrap_or_default().parse()?;
    println!("  POST /paper-trades (BTCUSDT 1m from {start_at}, fast 10 slow 30, drawdown alert at 2 %) → 201, run {id} {}", run["status"]);
    let started = std::time::Instant::now();
    for c in &day {
        paper::tick(pool, lake, &state.paper, id, Some(c.open_time)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    paper::flush(pool, lake).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = query::session(lake).await?;
    let count = |table: &'static str| {
        let ctx = ctx.clone();
        async move {
            let b = ctx.sql(&format!("SELECT count(*) FROM {table} WHERE run_id = '{id}'")).await?.collect().await?;
            anyhow::Ok(arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b[0].column(0).as_ref()).value(0))
        }
    };
    println!(
        "  replayed the last day bar by bar ({} candles in {elapsed:.1} s, {:.0} ticks/s); the lake's paper_fills and paper_equity hold {} fills and {} equity points of the run",
        day.len(),
        day.len() as f64 / elapsed.max(1e-9),
        count("paper_fills").await?,
        count("paper_equity").await?
    );
    let (_, run) = call(reqwest::Method::GET, &format!("/paper-trades/{id}"), None).await?;
    let s = &run["performanceSnapshot"];
    println!(
        "  GET /paper-trades/{id} → {}: equity {:.2} ({:+.2} %), max drawdown {:.2} %, {} trades, win rate {}, position {}",
        run["status"],
        s["equity"].as_f64().unwrap_or(f64::NAN),
        s["returnPct"].as_f64().unwrap_or(f64::NAN),
        s["maxDrawdownPct"].as_f64().unwrap_or(f64::NAN),
        s["trades"],
        s["winRatePct"].as_f64().map_or("-".into(), |w| format!("{w:.1} %")),
        s["openPosition"]["side"].as_str().unwrap_or("flat"),
    );
    let (_, fills) = call(reqwest::Method::GET, &format!("/paper-trades/{id}/fills?limit=3"), None).await?;
    for f in fills["items"].as_array().into_iter().flatten() {
        println!("    fill {}: {} {} {:.6} at {:.2} ({})", f["seq"], f["time"].as_str().unwrap_or(""), f["action"].as_str().unwrap_or(""), f["qty"].as_f64().unwrap_or(0.0), f["price"].as_f64().unwrap_or(0.0), f["exitReason"].as_str().unwrap_or("entry"));
    }
    let (_, stopped) = call(reqwest::Method::PATCH, &format!("/paper-trades/{id}"), Some(serde_json::json!({"status": "stopped"}))).await?;
    println!("  PATCH /paper-trades/{id} {{status: stopped}} → {}, final equity {:.2}", stopped["status"], stopped["performanceSnapshot"]["equity"].as_f64().unwrap_or(f64::NAN));
    println!("  then: bb sql \"SELECT action, count(*), sum(pnl) FROM paper_fills GROUP BY action\"");
    Ok(())
}
