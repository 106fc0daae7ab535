//! Indicators over the lake's candles table, partitioned by market, and listed by SHOW FUNCTIONS.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use ingest::{ingest_file, IngestOptions};
use lake::{Lake, LakeConfig};

#[tokio::test]
async fn partitions_do_not_leak_into_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().to_string_lossy().into_owned())).unwrap();
    let data = crate::crate_dir().join("../../shared/data/djienne-3ema-srsi-atr");
    for f in ["BTC_USDT-1h.json", "ETH_USDT-1h.json"] {
        ingest_file(&lake, &data.join(f), &IngestOptions::default(), &|_| {}).await.unwrap();
    }
    let ctx = query::session(&lake).await.unwrap();
    let q = "SELECT symbol, ema(close, 12) OVER w AS e, rsi(close, 14) OVER w AS r, atr(high, low, close, 14) OVER w AS a \
             FROM candles WHERE timeframe = '1h' \
             WINDOW w AS (PARTITION BY exchange, symbol, timeframe ORDER BY open_time) ORDER BY symbol, open_time";
    let batches = ctx.sql(q).await.unwrap().collect().await.unwrap();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let symbols: Vec<String> = {
        let s = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        s.as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect()
    };
    let eth_start = symbols.iter().position(|s| s == "ETHUSDT").unwrap();
    for (col, warm) in [(1, 11), (2, 14), (3, 14)] {
        let a = b.column(col).as_primitive::<Float64Type>();
        for start in [0, eth_start] {
            assert!((start..start + warm).all(|i| a.is_null(i)), "column {col}: warm-up restarts per partition");
            assert!(a.is_valid(start + warm), "column {col}");
        }
    }
}

#[tokio::test]
async fn stddev_is_the_indicator_and_the_aggregate_lives_on_as_stddev_samp() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().to_string_lossy().into_owned())).unwrap();
    let ctx = query::session(&lake).await.unwrap();
    let b = ctx
        .sql("SELECT stddev_samp(x) AS s FROM (VALUES (1.0), (2.0), (3.0), (4.0)) v(x)")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let s = b[0].column(0).as_primitive::<Float64Type>().value(0);
    assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-15, "{s}");
    let b = ctx
        .sql("SELECT stddev(x, 2) OVER (ORDER BY x) AS s FROM (VALUES (1.0), (2.0), (3.0), (4.0)) v(x)")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let s = b[0].column(0).as_primitive::<Float64Type>();
    assert!(s.is_null(0) && s.value(1) == 0.5, "TA-Lib STDDEV(2) is the population deviation");
}

#[tokio::test]
async fn show_functions_lists_the_indicators_with_their_docs() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().to_string_lossy().into_owned())).unwrap();
    let ctx = query::session(&lake).await.unwrap();
    let b = ctx.sql("SHOW FUNCTIONS LIKE 'stoch%'").await.unwrap().collect().await.unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&b).unwrap().to_string();
    assert!(text.contains("stoch_k") && text.contains("stoch_d"), "{text}");
    assert!(text.contains("STOCH"), "documentation names the TA-Lib function: {text}");
}

/// One count from a session.
async fn count(ctx: &datafusion::prelude::SessionContext, sql: &str) -> i64 {
    let b = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    b[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0)
}

#[tokio::test]
async fn a_session_pins_tables_at_a_version_and_registers_only_what_it_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().to_string_lossy().into_owned())).unwrap();
    let data = crate::crate_dir().join("../../shared/data/djienne-3ema-srsi-atr");
    ingest_file(&lake, &data.join("BTC_USDT-1d.json"), &IngestOptions::default(), &|_| {}).await.unwrap();
    let v1 = lake.version(lake::LakeTable::Candles).await.unwrap().unwrap();
    let btc = count(&query::session(&lake).await.unwrap(), "SELECT count(*) FROM candles").await;
    ingest_file(&lake, &data.join("ETH_USDT-1d.json"), &IngestOptions::default(), &|_| {}).await.unwrap();
    let latest = query::session(&lake).await.unwrap();
    assert!(count(&latest, "SELECT count(*) FROM candles").await > btc);
    let pinned = query::session_with(&lake, &query::Tables::none().at(lake::LakeTable::Candles, v1)).await.unwrap();
    assert_eq!(count(&pinned, "SELECT count(*) FROM candles").await, btc, "time travel to the first ingest");
    assert!(pinned.sql("SELECT * FROM backtest_trades").await.is_err(), "only the tables asked for");
    assert_eq!(count(&pinned, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'candles'").await, 1, "the shared planner settings");
    assert!(query::session_with(&lake, &query::Tables::none().at(lake::LakeTable::Candles, 99)).await.is_err(), "a version that does not exist");
    // the indicators and the market spellings are there
    let q = "SELECT count(e) FROM (SELECT ema(close, 3) OVER (ORDER BY open_time) AS e FROM candles \
             WHERE symbol = canonical_symbol('btc/usdt') AND timeframe = canonical_timeframe('1440m'))";
    assert_eq!(count(&pinned, q).await, btc - 2);
}
