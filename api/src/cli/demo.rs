//! `bb demo`: the main job on embedded defaults — ingest the bundled sample into the local lake,
//! summarise it, backtest the bundled SMA-crossover strategy (once, then as a small sweep), and
//! store the strategy through the REST API over Postgres (a private cluster without DATABASE_URL).

use std::process::ExitCode;

use clap::Args;
use ingest::{ingest_file, IngestOptions};

use super::output::{self, OutputFormat};
use super::GlobalArgs;

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
    api(global, args.database_url.as_deref()).await?;
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

/// Migrates Postgres and stores the demo strategy through the REST API (in-process), as the web app would.
async fn api(global: &GlobalArgs, database_url: Option<&str>) -> anyhow::Result<()> {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use secrecy::SecretString;
    use tower::ServiceExt;

    use crate::auth::jwt::{claims_for, sign_hs256, user_id_for_email, Verifier};

    let (url, cluster) = super::db::database(&global.data_dir, database_url)?;
    let pool = crate::db::connect(&url).await?;
    let applied = crate::db::migrate(&pool).await?;
    // a one-off secret: the demo signs its own token, as `bb token` does with BB_JWT_SECRET
    let secret = SecretString::from(uuid::Uuid::new_v4().to_string());
    let verifier = Verifier::new(Some(secret.clone()), None);
    let app = crate::http::router(crate::http::AppState { pool: pool.clone(), verifier: Arc::new(verifier) }, &crate::config::ApiConfig::default());
    let email = "demo@blockbuilders.local";
    let claims = claims_for(&user_id_for_email(email).to_string(), Some(email), &["builder"], Some("free"), std::time::Duration::from_secs(300));
    let token = sign_hs256(&secret, &claims)?;
    let body = serde_json::json!({"title": "SMA cross (demo)", "visibility": "public", "tags": ["demo", "sma"], "graphJson": serde_json::from_str::<serde_json::Value>(STRATEGY)?});
    let req = Request::post("/api/v1/strategies")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))?;
    let res = app.oneshot(req).await?;
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await?;
    anyhow::ensure!(status == StatusCode::CREATED, "POST /api/v1/strategies answered {status}: {}", String::from_utf8_lossy(&bytes));
    let created: serde_json::Value = serde_json::from_slice(&bytes)?;
    println!(
        "\nAPI over Postgres ({applied} migration(s) applied): POST /api/v1/strategies → 201, strategy {} (slug {}, version {})",
        created["id"].as_str().unwrap_or_default(),
        created["slug"].as_str().unwrap_or_default(),
        created["latestVersion"]
    );
    println!("  serve it: BB_JWT_SECRET=... bb serve   (then: curl -H \"Authorization: Bearer $(bb token --email you@example.com)\" localhost:8000/api/v1/me)");
    pool.close().await;
    drop(cluster);
    Ok(())
}
