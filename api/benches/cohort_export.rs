//! Cohort analytics export: a cohort of 500 members, each with a clone of the educator's template
//! and 20 succeeded backtests (10,000 runs in Postgres, their metrics in the lake's
//! `backtest_metrics`). Times `analytics::cohort` (the Postgres snapshot and the DataFusion join)
//! and its encoding as CSV and Parquet, and reports rows per second. Needs PostgreSQL server
//! binaries (a private cluster in a temporary folder unless DATABASE_URL is set).
//!
//! `cargo bench -p api --bench cohort_export [-- MEMBERS RUNS_EACH]`

mod common;

use std::sync::Arc;
use std::time::Instant;

use api::services::analytics::{self, Format};
use api::services::users::User;
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::DataType;
use uuid::Uuid;

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (members, each) = (args.first().copied().unwrap_or(500), args.get(1).copied().unwrap_or(20));
    tokio::runtime::Runtime::new()?.block_on(bench(members, each))
}

/// `backtest_metrics` rows for `runs`, every metric a deterministic pseudo-random number.
fn metrics(runs: &[Uuid]) -> anyhow::Result<RecordBatch> {
    let schema = lake::LakeTable::BacktestMetrics.schema();
    let n = runs.len();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 20_000) as f64 / 1000.0 - 5.0
    };
    let now = chrono::Utc::now().timestamp_micros();
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> ArrayRef {
            match (f.name().as_str(), f.data_type()) {
                ("run_id", _) => Arc::new(StringArray::from(runs.iter().map(|r| r.to_string()).collect::<Vec<_>>())),
                ("params", _) => Arc::new(StringArray::from(vec!["{}"; n])),
                (_, DataType::Utf8) => Arc::new(StringArray::from(vec!["x"; n])),
                (_, DataType::Int64) => Arc::new(Int64Array::from(vec![0; n])),
                (_, DataType::Float64) => Arc::new(Float64Array::from((0..n).map(|_| next()).collect::<Vec<_>>())),
                _ => Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC")),
            }
        })
        .collect();
    Ok(RecordBatch::try_new(schema, columns)?)
}

async fn bench(members: usize, each: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let (pool, lake, _cluster) = common::setup(tmp.path()).await?;
    let graph: serde_json::Value = serde_json::from_str(include_str!("../../sample/sma_cross.json"))?;

    let setup = Instant::now();
    let mut tx = pool.begin().await?;
    let educator = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email, display_name, roles) VALUES ($1, 'ed@bench', 'ed', ARRAY['educator'])").bind(educator).execute(&mut *tx).await?;
    let cohort: Uuid = sqlx::query_scalar("INSERT INTO cohorts (educator_id, name) VALUES ($1, 'bench') RETURNING id").bind(educator).fetch_one(&mut *tx).await?;
    let strategy: Uuid = sqlx::query_scalar("INSERT INTO strategies (owner_id, title, slug) VALUES ($1, 'SMA', 'sma') RETURNING id").bind(educator).fetch_one(&mut *tx).await?;
    let version: Uuid = sqlx::query_scalar("INSERT INTO strategy_versions (strategy_id, version, graph_json, created_by) VALUES ($1, 1, $2, $3) RETURNING id")
        .bind(strategy)
        .bind(&graph)
        .bind(educator)
        .fetch_one(&mut *tx)
        .await?;
    let template: Uuid = sqlx::query_scalar("INSERT INTO template_shares (strategy_version_id, educator_id, audience_scope, cohort_id, status) VALUES ($1, $2, 'cohort', $3, 'published') RETURNING id")
        .bind(version)
        .bind(educator)
        .bind(cohort)
        .fetch_one(&mut *tx)
        .await?;
    let mut runs = Vec::with_capacity(members * each);
    for m in 0..members {
        let user = Uuid::new_v4();
        sqlx::query("INSERT INTO users (id, email, display_name, last_active_at) VALUES ($1, $2, $3, now())").bind(user).bind(format!("s{m}@bench")).bind(format!("s{m}")).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO cohort_members (cohort_id, user_id) VALUES ($1, $2)").bind(cohort).bind(user).execute(&mut *tx).await?;
        let s: Uuid = sqlx::query_scalar("INSERT INTO strategies (owner_id, title, slug, cloned_from_template_id) VALUES ($1, 'SMA (clone)', $2, $3) RETURNING id")
            .bind(user)
            .bind(format!("sma-clone-{m}"))
            .bind(template)
            .fetch_one(&mut *tx)
            .await?;
        let v: Uuid = sqlx::query_scalar("INSERT INTO strategy_versions (strategy_id, version, graph_json, created_by) VALUES ($1, 1, $2, $3) RETURNING id")
            .bind(s)
            .bind(&graph)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "INSERT INTO backtest_runs (user_id, strategy_version_id, status, exchange, symbol, timeframe, range_start, range_end, initial_capital, fee_rate, slippage, fill_policy)
             SELECT $1, $2, 'succeeded', 'binance', 'BTCUSDT', '1h', now() - interval '1 year', now(), 10000, 0.001, 0, 'next_open' FROM generate_series(1, $3) RETURNING id",
        )
        .bind(user)
        .bind(v)
        .bind(each as i32)
        .fetch_all(&mut *tx)
        .await?;
        runs.extend(ids);
    }
    tx.commit().await?;
    lake.append(lake::LakeTable::BacktestMetrics, vec![metrics(&runs)?]).await?;
    println!("cohort export: {members} members × {each} backtests ({} runs) set up in {:.1} s", runs.len(), setup.elapsed().as_secs_f64());

    let operator = User::operator("bench");
    for format in [Format::Csv, Format::Parquet] {
        let mut times = Vec::new();
        let mut size = (0, 0);
        for _ in 0..5 {
            let t = Instant::now();
            let rows = analytics::cohort(&pool, &lake, &operator, cohort).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let bytes = analytics::encode(&rows, format).map_err(|e| anyhow::anyhow!("{e}"))?;
            times.push(t.elapsed().as_secs_f64());
            size = (rows.len(), bytes.len());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "  {}: {} rows ({} bytes) in {:.0} ms median (min {:.0}, max {:.0}) over 5 runs: {:.0} runs·rows/s joined",
            format.extension(),
            size.0,
            size.1,
            times[2] * 1e3,
            times[0] * 1e3,
            times[4] * 1e3,
            runs.len() as f64 / times[2]
        );
    }
    pool.close().await;
    Ok(())
}
