//! Files that cannot be parsed are errors that say where they broke, and write nothing.

use ingest::{ingest_file, IngestOptions};
use lake::LakeTable;

use crate::*;

async fn refused(lake: &Lake, path: &Path) -> String {
    ingest_file(lake, path, &IngestOptions::default(), &|_| {}).await.expect_err("must not ingest").to_string()
}

/// Ingests a good file, then checks that a broken copy leaves every table at the same version.
async fn assert_writes_nothing(lake: &Lake, broken: &Path, expect: &[&str]) {
    let before: Vec<_> = futures_versions(lake).await;
    let err = refused(lake, broken).await;
    for e in expect {
        assert!(err.contains(e), "error should mention '{e}': {err}");
    }
    assert_eq!(futures_versions(lake).await, before, "{err}");
}

async fn futures_versions(lake: &Lake) -> Vec<Option<u64>> {
    let mut v = Vec::new();
    for t in LakeTable::ALL {
        v.push(lake.version(t).await.unwrap());
    }
    v
}

#[tokio::test]
async fn truncated_files_of_every_format_write_nothing_and_say_where() {
    let (dir, lake) = temp_lake();
    ingest(&lake, &shared("filimonov-freqtrade/BTC_USDT-5m.feather")).await;
    let cut = |src: &Path, name: &str, keep: f64| {
        let bytes = std::fs::read(src).unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
        p
    };
    let feather = cut(&shared("filimonov-freqtrade/ETH_USDT-5m.feather"), "ETH_USDT-5m.feather", 0.5);
    assert_writes_nothing(&lake, &feather, &["ETH_USDT-5m.feather", "truncated"]).await;
    let json = cut(&shared("davidzhaodz-freqtrade/ETH_USDT-1m.json"), "ETH_USDT-1m.json", 0.7);
    assert_writes_nothing(&lake, &json, &["ETH_USDT-1m.json", "line 1, column", "truncated"]).await;
    let gz = cut(&shared("freqtrade-testdata/XRP_ETH-trades.json.gz"), "XRP_ETH-trades.json.gz", 0.6);
    assert_writes_nothing(&lake, &gz, &["XRP_ETH-trades.json.gz", "gzip", "truncated"]).await;
    let csv = cut(&local("ADAUSDT-1m-2025-01.csv"), "ADAUSDT-1m-2025-01.csv", 0.9);
    let broken_line = format!("line {}", std::fs::read_to_string(&csv).unwrap().lines().count());
    assert_writes_nothing(&lake, &csv, &["ADAUSDT-1m-2025-01.csv", &broken_line, "truncated"]).await;
    let tardis = cut(&shared("nautilus-trader-testdata/tardis_trades.csv"), "BTCUSDT-trades.csv", 0.5);
    assert_writes_nothing(&lake, &tardis, &["BTCUSDT-trades.csv", "line"]).await;
}

#[tokio::test]
async fn a_bad_value_names_line_and_column() {
    let (dir, lake) = temp_lake();
    let text = std::fs::read_to_string(local("ADAUSDT-1m-2025-01.csv")).unwrap().replacen("0.84820", "0.8482O", 1);
    let p = dir.path().join("ADAUSDT-1m-2025-01.csv");
    std::fs::write(&p, text).unwrap();
    let err = refused(&lake, &p).await;
    assert!(err.contains("line 4, column high") && err.contains("'0.8482O' is not a number"), "{err}");
    assert_eq!(lake.version(LakeTable::Candles).await.unwrap(), None);
}
