//! `bb demo`: the main job on embedded defaults — ingest the bundled sample into the local lake,
//! summarise it, backtest the bundled SMA-crossover strategy (once, then as a small sweep), then
//! serve the REST API over Postgres (a private cluster without DATABASE_URL) with a job worker and
//! store the strategy and run a backtest through it.

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
/// /backtests`), waits for the worker to finish it and prints the metrics the API returns.
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
    let worker = Worker { pool: pool.clone(), lake: state.lake.clone(), config: WorkerConfig { poll: Duration::from_millis(200), ..WorkerConfig::default() } };
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
