//! `LiveTable`: every scan reads the table's latest version, unlike a table registered once.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use lake::{LakeTable, LiveTable};

use crate::{batch, candle, candles, read_candles, scalar, sorted, temp_lake};

#[tokio::test]
async fn a_live_table_sees_versions_written_after_it_was_created() {
    let (_dir, lake) = temp_lake();
    lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 0..2))]).await.unwrap();

    let ctx = SessionContext::new();
    ctx.register_table("live", Arc::new(LiveTable::new(&lake, LakeTable::Candles).await.unwrap())).unwrap();
    // for contrast: a table registered once stays at the version it was registered at
    assert_eq!(lake.register(&ctx, LakeTable::Candles).await.unwrap(), Some(1));
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM live").await, 2);

    lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 2..5))]).await.unwrap();
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM live").await, 5);
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM candles").await, 2, "the plainly registered table is pinned to version 1");

    // an update by merge (version 3) is seen too, values and all
    lake.merge(LakeTable::Candles, vec![batch(&[candle("BTCUSDT", 4, 777.0)])]).await.unwrap();
    let mut want = candles("BTCUSDT", 0..5);
    want[4] = candle("BTCUSDT", 4, 777.0);
    assert_eq!(read_candles(&ctx, "live").await, want);
    assert_eq!(scalar(&ctx, "SELECT CAST(max(close) AS BIGINT) FROM live WHERE symbol = 'BTCUSDT'").await, 777);
}

#[tokio::test]
async fn a_live_table_made_before_the_table_exists_is_empty_then_reads_the_first_write() {
    let (_dir, lake) = temp_lake();
    let ctx = SessionContext::new();
    ctx.register_table("live", Arc::new(LiveTable::new(&lake, LakeTable::Candles).await.unwrap())).unwrap();
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM live").await, 0);
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None, "a live view must not create the table");

    let mut rows = candles("BTCUSDT", 0..3);
    rows.extend(candles("ETHUSDT", 0..2));
    lake.append(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();

    assert_eq!(scalar(&ctx, "SELECT count(*) FROM live").await, 5);
    assert_eq!(read_candles(&ctx, "live").await, sorted(rows));
    // a projection and a filter that name columns pick the right ones
    assert_eq!(scalar(&ctx, "SELECT CAST(sum(close) AS BIGINT) FROM live WHERE symbol = 'ETHUSDT'").await, 100 + 101);
}
