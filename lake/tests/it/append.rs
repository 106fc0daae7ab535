//! `Lake::append`: one commit per call, rows read back as written, schema checked.

use datafusion::prelude::SessionContext;
use lake::{Error, LakeTable};

use crate::{batch, candle, candles, read_candles, scalar, sorted, temp_lake};

#[tokio::test]
async fn each_append_creates_the_table_once_and_a_new_version_per_call() {
    let (_dir, lake) = temp_lake();
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None);

    // version 0 is the table's creation, version 1 the first write
    assert_eq!(lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 0..3))]).await.unwrap(), Some(1));
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(1));
    assert_eq!(lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 3..5))]).await.unwrap(), Some(2));
    // several batches in one call are still one commit
    let v = lake
        .append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 5..6)), batch(&candles("ETHUSDT", 0..2))])
        .await
        .unwrap();
    assert_eq!(v, Some(3));
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(3));

    let ctx = SessionContext::new();
    assert_eq!(lake.register(&ctx, LakeTable::Candles).await.unwrap(), Some(3));
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM candles").await, 8);
    // only the candles table was created
    assert_eq!(lake.version(LakeTable::TradesRaw).await.unwrap(), None);
}

#[tokio::test]
async fn appended_rows_read_back_equal_to_what_was_written() {
    let (_dir, lake) = temp_lake();
    let first = candles("BTCUSDT", 0..4);
    let mut second = candles("ETHUSDT", 0..3);
    second[1].trade_count = None;
    second.push(candle("BTCUSDT", 4, 12_345.5));
    lake.append(LakeTable::Candles, vec![batch(&first)]).await.unwrap();
    lake.append(LakeTable::Candles, vec![batch(&second)]).await.unwrap();

    let ctx = SessionContext::new();
    lake.register(&ctx, LakeTable::Candles).await.unwrap();
    let got = read_candles(&ctx, "candles").await;
    let want = sorted(first.into_iter().chain(second).collect());
    assert_eq!(got.len(), 8);
    assert_eq!(got, want);

    // filters on partition and data columns select the right row
    let close = scalar(&ctx, &format!("SELECT CAST(close AS BIGINT) FROM candles WHERE symbol = 'BTCUSDT' AND open_time = to_timestamp_micros({})", crate::T0 + 4 * crate::MINUTE)).await;
    assert_eq!(close, 12_345);
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM candles WHERE trade_count IS NULL").await, 1);
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM candles WHERE quote_volume IS NULL").await, 3);
}

#[tokio::test]
async fn appending_only_empty_batches_makes_no_commit() {
    let (_dir, lake) = temp_lake();
    let empty = batch(&[]);
    assert_eq!(lake.append(LakeTable::Candles, vec![empty.clone()]).await.unwrap(), None);
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None, "no rows must not create the table");

    lake.append(LakeTable::Candles, vec![batch(&candles("BTCUSDT", 0..2))]).await.unwrap();
    assert_eq!(lake.append(LakeTable::Candles, vec![empty]).await.unwrap(), Some(1));
    assert_eq!(lake.append(LakeTable::Candles, vec![]).await.unwrap(), Some(1));
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(1));
}

#[tokio::test]
async fn a_batch_of_another_tables_schema_is_refused_and_nothing_is_written() {
    let (_dir, lake) = temp_lake();
    let wrong = arrow::array::RecordBatch::new_empty(LakeTable::BacktestEquity.schema());
    let err = lake.append(LakeTable::Candles, vec![wrong]).await.unwrap_err();
    assert!(matches!(&err, Error::SchemaMismatch { table, .. } if table == "candles"), "{err}");
    assert!(err.to_string().contains("table 'candles'"), "{err}");

    // a batch whose columns are right but one type differs (close as text) is refused too
    let good = batch(&candles("BTCUSDT", 0..1));
    let mut fields: Vec<arrow::datatypes::Field> = good.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[7] = arrow::datatypes::Field::new("close", arrow::datatypes::DataType::Utf8, false);
    let mut columns = good.columns().to_vec();
    columns[7] = std::sync::Arc::new(arrow::array::StringArray::from(vec!["100"]));
    let retyped = arrow::array::RecordBatch::try_new(std::sync::Arc::new(arrow::datatypes::Schema::new(fields)), columns).unwrap();
    let err = lake.append(LakeTable::Candles, vec![good, retyped]).await.unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err}");

    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None, "a refused batch must not create the table");
}

#[tokio::test]
async fn registering_a_table_never_written_gives_an_empty_table_of_its_schema() {
    let (_dir, lake) = temp_lake();
    let ctx = SessionContext::new();
    assert_eq!(lake.register(&ctx, LakeTable::BacktestMetrics).await.unwrap(), None);
    assert_eq!(scalar(&ctx, "SELECT count(*) FROM backtest_metrics").await, 0);
    let schema = ctx.table("backtest_metrics").await.unwrap().schema().as_arrow().clone();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let want: Vec<&str> = LakeTable::BacktestMetrics.columns().iter().map(|c| c.name).collect();
    assert_eq!(names, want);
    assert_eq!(lake.version(LakeTable::BacktestMetrics).await.unwrap(), None, "registering must not create the table");
}
