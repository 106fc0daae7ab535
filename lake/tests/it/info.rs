//! `Lake::info` (what `bb lake ls` prints) and the lake URI.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::prelude::SessionContext;
use lake::{Error, Lake, LakeConfig, LakeRoot, LakeTable};

use crate::{batch, candle, candles, parquet_files, read_candles, sorted, temp_lake, T0};

#[tokio::test]
async fn info_reports_version_files_rows_and_partitions_as_written() {
    let (dir, lake) = temp_lake();
    // one commit over two partitions (two files), then one more file in a third partition
    let mut first = candles("BTCUSDT", 0..3);
    first.extend(candles("ETHUSDT", 0..2));
    lake.append(LakeTable::Candles, vec![batch(&first)]).await.unwrap();
    let mut five = candle("BTCUSDT", 0, 1.0);
    five.timeframe = "5m".into();
    lake.append(LakeTable::Candles, vec![batch(&[five])]).await.unwrap();

    let info = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!(info.table, LakeTable::Candles);
    assert_eq!(info.version, 2);
    assert_eq!(info.files, 3);
    assert_eq!(info.rows, 6);
    let want: BTreeMap<String, u64> =
        [("binance/BTCUSDT/1m", 3), ("binance/BTCUSDT/5m", 1), ("binance/ETHUSDT/1m", 2)].map(|(k, v)| (k.to_string(), v)).into();
    assert_eq!(info.partitions, want);
    let on_disk: u64 = parquet_files(&dir.path().join("candles")).iter().map(|p| p.metadata().unwrap().len()).sum();
    assert_eq!(info.bytes, on_disk, "bytes are the data files' sizes");
}

#[tokio::test]
async fn info_of_an_unpartitioned_table_has_no_partitions_and_of_a_missing_table_is_none() {
    let (_dir, lake) = temp_lake();
    assert!(lake.info(LakeTable::Quarantine).await.unwrap().is_none());

    let n = 3;
    let b = RecordBatch::try_new(
        LakeTable::Quarantine.schema(),
        vec![
            Arc::new(StringArray::from(vec!["a.csv"; n])),
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec!["x", "y", "z"])),
            Arc::new(StringArray::from(vec!["bad price"; n])),
            Arc::new(TimestampMicrosecondArray::from(vec![T0; n]).with_timezone("UTC")),
            Arc::new(StringArray::from(vec![Some("binance"), None, None])),
            Arc::new(StringArray::from(vec![None::<&str>; n])),
            Arc::new(StringArray::from(vec![None::<&str>; n])),
        ],
    )
    .unwrap();
    assert_eq!(lake.append(LakeTable::Quarantine, vec![b]).await.unwrap(), Some(1));
    let info = lake.info(LakeTable::Quarantine).await.unwrap().unwrap();
    assert_eq!((info.version, info.files, info.rows), (1, 1, 3));
    assert!(info.partitions.is_empty());
    assert!(info.bytes > 0);
    // the other tables are still not created
    assert!(lake.info(LakeTable::Candles).await.unwrap().is_none());
}

#[test]
fn an_unsupported_uri_scheme_is_refused_naming_it() {
    for (uri, scheme) in [("ftp://host/lake", "ftp"), ("gs://bucket/lake", "gs"), ("hdfs://nn/lake", "hdfs")] {
        let err = Lake::new(LakeConfig::new(uri)).unwrap_err();
        assert!(matches!(&err, Error::UnsupportedScheme { scheme: s, uri: u } if s == scheme && u == uri), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("'{scheme}'")) && msg.contains(uri), "{msg}");
    }
    assert!(matches!(Lake::new(LakeConfig::new("  ")).unwrap_err(), Error::InvalidUri { .. }));
    assert!(matches!(Lake::new(LakeConfig::new("s3://")).unwrap_err(), Error::InvalidUri { .. }));
}

#[tokio::test]
async fn a_file_uri_and_a_plain_path_open_the_same_lake() {
    let (dir, by_path) = temp_lake();
    let rows = candles("BTCUSDT", 0..3);
    by_path.append(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();

    let url = url::Url::from_directory_path(dir.path()).unwrap();
    let by_url = Lake::new(LakeConfig::new(url.as_str())).unwrap();
    assert_eq!(by_url.root(), &LakeRoot::Local(dir.path().to_path_buf()));
    assert_eq!(by_url.version(LakeTable::Candles).await.unwrap(), Some(1));
    let ctx = SessionContext::new();
    by_url.register(&ctx, LakeTable::Candles).await.unwrap();
    assert_eq!(read_candles(&ctx, "candles").await, rows);
}

#[tokio::test]
async fn symbols_with_a_slash_or_a_space_round_trip_through_merge_info_and_vacuum() {
    let (dir, lake) = temp_lake();
    let mut rows = candles("BTC/USDT", 0..2);
    rows.extend(candles("BTC USDT", 0..1));
    lake.merge(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();
    // merging again must match the escaped partition values, not insert copies
    let again = lake.merge(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();
    assert_eq!((again.inserted, again.updated), (0, 3));

    let ctx = SessionContext::new();
    lake.register(&ctx, LakeTable::Candles).await.unwrap();
    assert_eq!(read_candles(&ctx, "candles").await, sorted(rows.clone()));
    let info = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!(info.partitions.get("binance/BTC/USDT/1m"), Some(&2));
    assert_eq!(info.partitions.get("binance/BTC USDT/1m"), Some(&1));

    // the second merge rewrote both partitions' files; vacuum finds and deletes the escaped old ones
    let table_dir = dir.path().join("candles");
    assert_eq!(parquet_files(&table_dir).len(), 4);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let deleted = lake.vacuum(LakeTable::Candles, std::time::Duration::ZERO, false).await.unwrap();
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert_eq!(parquet_files(&table_dir).len(), 2);
    let ctx = SessionContext::new();
    lake.register(&ctx, LakeTable::Candles).await.unwrap();
    assert_eq!(read_candles(&ctx, "candles").await, sorted(rows));
}
