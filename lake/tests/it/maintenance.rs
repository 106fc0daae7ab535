//! `Lake::compact` and `Lake::vacuum`: fewer files, the same data; unreferenced files deleted
//! only when asked and only past the retention.

use std::collections::BTreeSet;
use std::time::Duration;

use datafusion::prelude::SessionContext;
use lake::{Lake, LakeTable};

use crate::{batch, candles, parquet_files, read_candles, sorted, temp_lake, Candle};

/// Ten one-row appends to BTC and two to ETH: twelve small files, versions 1..=12.
async fn many_small_appends(lake: &Lake) -> Vec<Candle> {
    let mut written = Vec::new();
    for m in 0..10 {
        let rows = candles("BTCUSDT", m..m + 1);
        lake.append(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();
        written.extend(rows);
    }
    for m in 0..2 {
        let rows = candles("ETHUSDT", m..m + 1);
        lake.append(LakeTable::Candles, vec![batch(&rows)]).await.unwrap();
        written.extend(rows);
    }
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(12));
    sorted(written)
}

async fn read_all(lake: &Lake) -> Vec<Candle> {
    let ctx = SessionContext::new();
    lake.register(&ctx, LakeTable::Candles).await.unwrap();
    read_candles(&ctx, "candles").await
}

fn file_names(paths: impl IntoIterator<Item = impl AsRef<std::path::Path>>) -> BTreeSet<String> {
    paths.into_iter().map(|p| p.as_ref().file_name().unwrap().to_string_lossy().into_owned()).collect()
}

#[tokio::test]
async fn compacting_many_small_appends_reduces_the_file_count_and_keeps_the_data() {
    let (dir, lake) = temp_lake();
    let written = many_small_appends(&lake).await;
    let before = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!((before.files, before.rows), (12, 12));

    let outcome = lake.compact(LakeTable::Candles).await.unwrap();
    assert_eq!(outcome.version, Some(13));
    assert_eq!(outcome.files_removed, 12);
    assert_eq!(outcome.files_added, 2, "one file per partition (BTC, ETH)");

    let after = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!((after.version, after.files, after.rows), (13, 2, 12));
    assert_eq!(after.partitions, before.partitions);
    assert_eq!(read_all(&lake).await, written);
    // nothing is deleted yet: the old files stay for time travel until a vacuum
    assert_eq!(parquet_files(&dir.path().join("candles")).len(), 14);
}

#[tokio::test]
async fn compacting_a_compact_table_or_a_missing_one_changes_nothing() {
    let (_dir, lake) = temp_lake();
    let missing = lake.compact(LakeTable::Candles).await.unwrap();
    assert_eq!((missing.version, missing.files_added, missing.files_removed), (None, 0, 0));
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None);

    many_small_appends(&lake).await;
    lake.compact(LakeTable::Candles).await.unwrap();
    let again = lake.compact(LakeTable::Candles).await.unwrap();
    assert_eq!((again.files_added, again.files_removed), (0, 0));
    assert_eq!(again.version, Some(13), "nothing to rewrite, no new version");
    assert_eq!(lake.info(LakeTable::Candles).await.unwrap().unwrap().files, 2);
}

#[tokio::test]
async fn vacuum_with_zero_retention_deletes_the_files_compaction_replaced_after_a_dry_run_deletes_nothing() {
    let (dir, lake) = temp_lake();
    let table_dir = dir.path().join("candles");
    let written = many_small_appends(&lake).await;
    let small = file_names(parquet_files(&table_dir));
    assert_eq!(small.len(), 12);
    lake.compact(LakeTable::Candles).await.unwrap();
    let on_disk = file_names(parquet_files(&table_dir));
    assert_eq!(on_disk.len(), 14);
    let compacted: BTreeSet<String> = on_disk.difference(&small).cloned().collect();
    assert_eq!(compacted.len(), 2);
    // the compaction's tombstones must be strictly older than "now" for a zero retention
    tokio::time::sleep(Duration::from_millis(5)).await;

    let dry = lake.vacuum(LakeTable::Candles, Duration::ZERO, true).await.unwrap();
    assert_eq!(dry.len(), 12);
    assert_eq!(file_names(&dry), small, "the dry run lists exactly the replaced small files");
    assert_eq!(file_names(parquet_files(&table_dir)), on_disk, "a dry run deletes nothing");
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(13), "a dry run commits nothing");

    let deleted = lake.vacuum(LakeTable::Candles, Duration::ZERO, false).await.unwrap();
    assert_eq!(file_names(&deleted), small);
    assert_eq!(file_names(parquet_files(&table_dir)), compacted, "only the compacted files remain");
    // vacuum records its start and end in the log
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(15));

    assert_eq!(read_all(&lake).await, written);
    let info = lake.info(LakeTable::Candles).await.unwrap().unwrap();
    assert_eq!((info.files, info.rows), (2, 12));

    // a second vacuum has nothing left to delete
    // a second vacuum has nothing left to delete, says so, and commits nothing
    assert_eq!(lake.vacuum(LakeTable::Candles, Duration::ZERO, true).await.unwrap(), Vec::<String>::new());
    assert_eq!(lake.vacuum(LakeTable::Candles, Duration::ZERO, false).await.unwrap(), Vec::<String>::new());
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(15));
    assert_eq!(file_names(parquet_files(&table_dir)), compacted);
}

#[tokio::test]
async fn vacuum_keeps_unreferenced_files_younger_than_the_retention() {
    let (dir, lake) = temp_lake();
    let written = many_small_appends(&lake).await;
    lake.compact(LakeTable::Candles).await.unwrap();

    let deleted = lake.vacuum(LakeTable::Candles, Duration::from_secs(3600), false).await.unwrap();
    assert!(deleted.is_empty(), "{deleted:?}");
    assert_eq!(parquet_files(&dir.path().join("candles")).len(), 14);
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), Some(13));

    // so time travel to before the compaction still reads
    let ctx = SessionContext::new();
    lake.register_as(&ctx, LakeTable::Candles, "v12", Some(12)).await.unwrap();
    assert_eq!(read_candles(&ctx, "v12").await, written);
}

#[tokio::test]
async fn vacuum_of_a_table_never_written_deletes_nothing() {
    let (_dir, lake) = temp_lake();
    assert!(lake.vacuum(LakeTable::Candles, Duration::ZERO, false).await.unwrap().is_empty());
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None);
}
