//! Reading a table as it was at an older version: `register_as(.., Some(v))` and `provider(.., Some(v))`.

use datafusion::prelude::SessionContext;
use lake::{Error, LakeTable};

use crate::{batch, candle, candles, read_candles, scalar, temp_lake};

/// Version 1: BTC minutes 0..2; version 2: + minute 2; version 3: minute 0 revised to close 500.
async fn three_versions(lake: &lake::Lake) {
    assert_eq!(lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 0..2))]).await.unwrap(), Some(1));
    assert_eq!(lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 2..3))]).await.unwrap(), Some(2));
    let m = lake.merge(LakeTable::Candles, vec![batch(&[candle("BTCUSDT", 0, 500.0)])]).await.unwrap();
    assert_eq!(m.version, Some(3));
}

#[tokio::test]
async fn register_as_an_old_version_reads_the_table_as_it_was() {
    let (_dir, lake) = temp_lake();
    three_versions(&lake).await;

    let ctx = SessionContext::new();
    assert_eq!(lake.register_as(&ctx, LakeTable::Candles, "at_v1", Some(1)).await.unwrap(), Some(1));
    assert_eq!(lake.register_as(&ctx, LakeTable::Candles, "at_v2", Some(2)).await.unwrap(), Some(2));
    assert_eq!(lake.register_as(&ctx, LakeTable::Candles, "latest", None).await.unwrap(), Some(3));

    assert_eq!(read_candles(&ctx, "at_v1").await, candles("BTCUSDT", 0..2));
    assert_eq!(read_candles(&ctx, "at_v2").await, candles("BTCUSDT", 0..3));
    let mut now = candles("BTCUSDT", 0..3);
    now[0] = candle("BTCUSDT", 0, 500.0);
    assert_eq!(read_candles(&ctx, "latest").await, now);

    // version 0 is the empty table as created
    assert_eq!(lake.register_as(&ctx, LakeTable::Candles, "at_v0", Some(0)).await.unwrap(), Some(0));
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM at_v0").await, 0);

    // registering again under the same name replaces the old registration
    lake.register_as(&ctx, LakeTable::Candles, "at_v1", Some(2)).await.unwrap();
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM at_v1").await, 3);
}

#[tokio::test]
async fn provider_at_an_old_version_reads_that_version() {
    let (_dir, lake) = temp_lake();
    three_versions(&lake).await;

    let ctx = SessionContext::new();
    ctx.register_table("v2", lake.provider(LakeTable::Candles, Some(2)).await.unwrap()).unwrap();
    ctx.register_table("now", lake.provider(LakeTable::Candles, None).await.unwrap()).unwrap();
    assert_eq!(read_candles(&ctx, "v2").await, candles("BTCUSDT", 0..3));
    assert_eq!(scalar(&ctx, "SELECT CAST(close AS BIGINT) FROM v2 WHERE open_time = (SELECT min(open_time) FROM v2)").await, 100);
    assert_eq!(scalar(&ctx, "SELECT CAST(close AS BIGINT) FROM now WHERE open_time = (SELECT min(open_time) FROM now)").await, 500);
}

#[tokio::test]
async fn a_version_that_does_not_exist_is_an_error() {
    let (_dir, lake) = temp_lake();
    three_versions(&lake).await;

    assert!(lake.provider(LakeTable::Candles, Some(4)).await.is_err(), "version 4 was never written");
    assert!(lake.provider(LakeTable::Candles, Some(99)).await.is_err());
    let ctx = SessionContext::new();
    assert!(lake.register_as(&ctx, LakeTable::Candles, "future", Some(99)).await.is_err());
    assert!(!ctx.table_exist("future").unwrap(), "a failed registration registers nothing");
}

#[tokio::test]
async fn time_travel_on_a_table_never_written_is_table_not_found() {
    let (_dir, lake) = temp_lake();
    let ctx = SessionContext::new();
    let err = lake.register_as(&ctx, LakeTable::Candles, "c", Some(0)).await.unwrap_err();
    assert!(matches!(&err, Error::TableNotFound(t) if t == "candles"), "{err}");
    let err = lake.provider(LakeTable::Candles, None).await.unwrap_err();
    assert!(matches!(&err, Error::TableNotFound(t) if t == "candles"), "{err}");
    assert_eq!(err.to_string(), "table 'candles' does not exist in the lake yet");
}
