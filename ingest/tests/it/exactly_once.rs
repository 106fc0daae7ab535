//! One row per (exchange, symbol, timeframe, open_time), whatever is ingested twice or overlaps.

use arrow::array::AsArray;
use lake::LakeTable;

use crate::*;

#[tokio::test]
async fn reingesting_the_same_file_adds_no_rows_and_no_version() {
    let (_d, lake) = temp_lake();
    let f = shared("djienne-3ema-srsi-atr/ETH_USDT-1d.json");
    let first = ingest(&lake, &f).await;
    let v1 = lake.version(LakeTable::Candles).await.unwrap();
    let again = ingest(&lake, &f).await;
    assert_eq!(again.candles.inserted, 0);
    assert_eq!(again.candles.unchanged, first.candles.inserted);
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), v1, "nothing to write, no commit");
    assert_eq!(candles(&lake, "ETHUSDT", "1d").await, first.rows_read as i64);
}

#[tokio::test]
async fn overlapping_files_from_three_sources_stitch_into_one_series() {
    // PROVENANCE: BTC/USDT 1d 2017-08-17 → 2026-01-31 from three repositories, 3,090 days, no missing day
    let (_d, lake) = temp_lake();
    let mut merged = 0;
    for f in ["djienne-3ema-srsi-atr/BTC_USDT-1d.json", "mounik-sample-scalping/BTC_USDT-1d.feather", "harthor-marketlab/BTC_USDT-1d.feather"] {
        let r = ingest(&lake, &shared(f)).await;
        assert_eq!(r.candles.disagreed, 0, "{f}: {:?}", r.candles.first_disagreement);
        merged += r.candles.already_present();
    }
    assert!(merged > 0, "the files overlap");
    assert_eq!(candles(&lake, "BTCUSDT", "1d").await, 3_090);
    let dupes = count(&lake, "SELECT count(*) FROM (SELECT open_time FROM candles GROUP BY exchange, symbol, timeframe, open_time HAVING count(*) > 1)").await;
    assert_eq!(dupes, 0);
    let r = ingest::GapReport::of(
        {
            let b = sql(&lake, "SELECT open_time FROM candles ORDER BY open_time").await;
            b.iter()
                .flat_map(|b| b.column(0).as_primitive::<arrow::datatypes::TimestampMicrosecondType>().values().to_vec())
                .collect::<Vec<_>>()
        },
        lake::Timeframe::parse("1d").unwrap(),
    );
    assert_eq!(r.missing, 0);
}

#[tokio::test]
async fn disagreeing_overlap_is_reported_and_the_last_file_wins() {
    let (dir, lake) = temp_lake();
    let src = shared("djienne-3ema-srsi-atr/SOL_USDT-1d.json");
    ingest(&lake, &src).await;
    let v_before = lake.version(LakeTable::Candles).await.unwrap().unwrap();
    // a copy in which two days have a different close (and a matching high)
    let mut rows: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    let original_close = rows[10][4].as_f64().unwrap();
    for i in [10, 20] {
        rows[i][4] = serde_json::json!(rows[i][2].as_f64().unwrap());
    }
    let changed_time = rows[10][0].as_i64().unwrap();
    let p = dir.path().join("SOL_USDT-1d.json");
    std::fs::write(&p, serde_json::to_vec(&rows).unwrap()).unwrap();
    let r = ingest(&lake, &p).await;
    assert_eq!((r.candles.inserted, r.candles.disagreed), (0, 2));
    let first = r.candles.first_disagreement.unwrap();
    assert!(first.starts_with(&ingest::fmt_us(changed_time * 1000)), "{first}");
    assert_eq!(candles(&lake, "SOLUSDT", "1d").await, rows.len() as i64);
    let close = sql(&lake, &format!("SELECT close, high FROM candles WHERE open_time = to_timestamp_millis({changed_time})")).await;
    let c = close[0].column(0).as_primitive::<arrow::datatypes::Float64Type>().value(0);
    let h = close[0].column(1).as_primitive::<arrow::datatypes::Float64Type>().value(0);
    assert_eq!(c, h, "the file ingested last wins");
    // time travel: the version before still has the original close
    let ctx = datafusion::prelude::SessionContext::new();
    lake.register_as(&ctx, LakeTable::Candles, "old", Some(v_before)).await.unwrap();
    let old = ctx
        .sql(&format!("SELECT close FROM old WHERE open_time = to_timestamp_millis({changed_time})"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(old[0].column(0).as_primitive::<arrow::datatypes::Float64Type>().value(0), original_close);
}

#[tokio::test]
async fn compaction_and_vacuum_keep_the_data() {
    let (_d, lake) = temp_lake();
    for f in ["djienne-3ema-srsi-atr/BTC_USDT-1d.json", "djienne-3ema-srsi-atr/ETH_USDT-1d.json", "djienne-3ema-srsi-atr/XRP_USDT-1d.json"] {
        ingest(&lake, &shared(f)).await;
    }
    let before = count(&lake, "SELECT count(*) FROM candles").await;
    let info = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!(info.partitions.len(), 3);
    assert_eq!(info.rows as i64, before);
    lake.compact(LakeTable::Candles).await.unwrap();
    lake.vacuum(LakeTable::Candles, std::time::Duration::ZERO, false).await.unwrap();
    assert_eq!(count(&lake, "SELECT count(*) FROM candles").await, before);
}
