//! `Lake::merge` (upsert on the natural key) and `Lake::replace_where_eq` (partition replace):
//! re-running an ingest or a store never duplicates rows.

use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::prelude::SessionContext;
use lake::{Error, LakeTable, MergeOutcome};

use crate::{batch, candle, candles, read_candles, scalar, sorted, temp_lake, MINUTE, T0};

async fn read_all(lake: &lake::Lake) -> Vec<crate::Candle> {
    let ctx = SessionContext::new();
    lake.register(&ctx, LakeTable::Candles).await.unwrap();
    read_candles(&ctx, "candles").await
}

#[tokio::test]
async fn merging_the_same_candles_twice_adds_no_rows() {
    let (_dir, lake) = temp_lake();
    let rows = candles("BTCUSDT", 0..5);

    let first = lake.merge(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();
    assert_eq!(first, MergeOutcome { version: Some(1), inserted: 5, updated: 0 });

    let second = lake.merge(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();
    // no key is new: nothing inserted; the five matched rows are rewritten with equal values
    // (the crate reports them as updated and commits a new version)
    assert_eq!(second, MergeOutcome { version: Some(2), inserted: 0, updated: 5 });
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(2));

    assert_eq!(read_all(&lake).await, rows);
    let info = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!(info.rows, 5, "the Delta log must not count the rewritten rows twice");
}

#[tokio::test]
async fn overlapping_merges_insert_only_the_new_keys() {
    let (_dir, lake) = temp_lake();
    lake.merge(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 0..5))]).await.unwrap();

    // minutes 3 and 4 are already stored, 5..8 are new; split over two batches of one call
    let outcome = lake
        .merge(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 3..6)), batch(&candles("BTCUSDT", 6..8))])
        .await
        .unwrap();
    assert_eq!(outcome, MergeOutcome { version: Some(2), inserted: 3, updated: 2 });

    let got = read_all(&lake).await;
    assert_eq!(got, candles("BTCUSDT", 0..8));
    let ctx = SessionContext::new();
    lake.register(&ctx, LakeTable::Candles).await.unwrap();
    assert_eq!(scalar(&ctx, "SELECT count(DISTINCT open_time) FROM candles").await, 8);
}

#[tokio::test]
async fn a_merged_row_that_disagrees_replaces_the_stored_one() {
    let (_dir, lake) = temp_lake();
    let stored = candles("BTCUSDT", 0..4);
    lake.merge(LakeTable::Candles, vec![batch(&stored)]).await.unwrap();

    // the exchange revised minute 2: another close, and its trade count is now unknown
    let mut revised = candle("BTCUSDT", 2, 999.0);
    revised.trade_count = None;
    revised.quote_volume = Some(1.5);
    let outcome = lake.merge(LakeTable::Candles, vec![batch(std::slice::from_ref(&revised))]).await.unwrap();
    assert_eq!(outcome, MergeOutcome { version: Some(2), inserted: 0, updated: 1 });

    let got = read_all(&lake).await;
    assert_eq!(got.len(), 4);
    assert_eq!(got[2], revised);
    assert_eq!(got[2].close, 999.0);
    assert_eq!(got[2].trade_count, None);
    // the other rows are untouched
    assert_eq!(got[0], stored[0]);
    assert_eq!(got[1], stored[1]);
    assert_eq!(got[3], stored[3]);
}

#[tokio::test]
async fn the_same_open_time_in_another_market_is_a_new_row() {
    let (_dir, lake) = temp_lake();
    let btc = candles("BTCUSDT", 0..3);
    lake.merge(LakeTable::Candles, vec![batch(&btc)]).await.unwrap();

    let mut eth = candles("ETHUSDT", 0..3);
    let mut btc_5m = candle("BTCUSDT", 0, 7.0);
    btc_5m.timeframe = "5m".into();
    eth.push(btc_5m);
    let outcome = lake.merge(LakeTable::Candles, vec![batch(&eth)]).await.unwrap();
    assert_eq!(outcome.inserted, 4);
    assert_eq!(outcome.updated, 0);

    assert_eq!(read_all(&lake).await, sorted(btc.into_iter().chain(eth).collect()));
}

#[tokio::test]
async fn merging_no_rows_writes_nothing_and_reports_the_current_version() {
    let (_dir, lake) = temp_lake();
    let outcome = lake.merge(LakeTable::Candles, vec![batch(&[])]).await.unwrap();
    assert_eq!(outcome, MergeOutcome { version: None, inserted: 0, updated: 0 });
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None);

    lake.merge(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 0..2))]).await.unwrap();
    let outcome = lake.merge(LakeTable::Candles, vec![]).await.unwrap();
    assert_eq!(outcome, MergeOutcome { version: Some(1), inserted: 0, updated: 0 });
}

#[tokio::test]
async fn merging_into_a_table_without_a_natural_key_is_refused() {
    let (_dir, lake) = temp_lake();
    let b = RecordBatch::new_empty(LakeTable::Quarantine.schema());
    let err = lake.merge(LakeTable::Quarantine, vec![b]).await.unwrap_err();
    assert!(matches!(&err, Error::SchemaMismatch { table, reason } if table == "quarantine" && reason.contains("no natural key")), "{err}");
    assert_eq!(lake.version(LakeTable::Quarantine).await.unwrap(), None);
}

/// Equity rows of backtest `run_id`, combo 0, one per minute, `equity = base + minute`.
fn equity(run_id: &str, minutes: std::ops::Range<i64>, base: f64) -> RecordBatch {
    let n = (minutes.end - minutes.start) as usize;
    RecordBatch::try_new(
        LakeTable::BacktestEquity.schema(),
        vec![
            Arc::new(StringArray::from(vec![run_id; n])),
            Arc::new(Int64Array::from(vec![0; n])),
            Arc::new(TimestampMicrosecondArray::from_iter_values(minutes.clone().map(|m| T0 + m * MINUTE)).with_timezone("UTC")),
            Arc::new(Float64Array::from_iter_values(minutes.map(|m| base + m as f64))),
        ],
    )
    .unwrap()
}

#[tokio::test]
async fn replacing_a_run_twice_leaves_exactly_one_copy_and_other_runs_untouched() {
    let (_dir, lake) = temp_lake();
    let t = LakeTable::BacktestEquity;
    lake.append(t, vec![equity("run-a", 0..4, 1000.0), equity("run-b", 0..2, 5000.0)]).await.unwrap();

    let v2 = lake.replace_where_eq(t, "run_id", "run-a", vec![equity("run-a", 0..3, 2000.0)]).await.unwrap();
    assert_eq!(v2, Some(2));
    // the retried job stores the same results again
    let v3 = lake.replace_where_eq(t, "run_id", "run-a", vec![equity("run-a", 0..3, 2000.0)]).await.unwrap();
    assert_eq!(v3, Some(3));

    let ctx = SessionContext::new();
    lake.register(&ctx, t).await.unwrap();
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM backtest_equity WHERE run_id = 'run-a'").await, 3);
    assert_eq!(scalar(&ctx, "SELECT CAST(sum(equity) AS BIGINT) FROM backtest_equity WHERE run_id = 'run-a'").await, 2000 + 2001 + 2002);
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM backtest_equity WHERE run_id = 'run-b'").await, 2);
    assert_eq!(scalar(&ctx, "SELECT CAST(sum(equity) AS BIGINT) FROM backtest_equity WHERE run_id = 'run-b'").await, 5000 + 5001);
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM backtest_equity").await, 5);
}

#[tokio::test]
async fn replacing_a_run_that_was_never_stored_inserts_it() {
    let (_dir, lake) = temp_lake();
    let t = LakeTable::BacktestEquity;
    let v = lake.replace_where_eq(t, "run_id", "run-new", vec![equity("run-new", 0..2, 10.0)]).await.unwrap();
    assert_eq!(v, Some(1));
    let ctx = SessionContext::new();
    lake.register(&ctx, t).await.unwrap();
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM backtest_equity WHERE run_id = 'run-new'").await, 2);
}
