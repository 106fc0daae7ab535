//! Every format found in ../shared/data ingests, with row counts equal to the source's.

use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use ingest::{ColumnMap, Format, IngestOptions};
use lake::Timeframe;

use crate::*;

#[tokio::test]
async fn freqtrade_json_lands_every_row_and_infers_the_market() {
    let (_d, lake) = temp_lake();
    let r = ingest(&lake, &shared("davidzhaodz-freqtrade/BTC_USDT-1m.json")).await;
    assert_eq!((r.market.symbol(), r.market.timeframe().to_string().as_str(), r.market.exchange()), ("BTCUSDT", "1m", "binance"));
    assert_eq!(r.format, Format::Json);
    assert!(r.inferred.iter().any(|i| i.contains("symbol BTCUSDT from the file name")), "{:?}", r.inferred);
    assert_eq!((r.rows_read, r.candles.inserted, r.quarantined), (43_199, 43_199, 0));
    assert_eq!(candles(&lake, "BTCUSDT", "1m").await, 43_199);
    assert_eq!(r.gaps.missing, 0);
}

#[tokio::test]
async fn freqtrade_feather_with_lz4_lands_every_row() {
    let (_d, lake) = temp_lake();
    let r = ingest(&lake, &shared("filimonov-freqtrade/ETH_USDT-5m.feather")).await;
    assert_eq!(r.format, Format::Feather);
    assert_eq!((r.rows_read, r.candles.inserted), (26_141, 26_141));
    assert_eq!(candles(&lake, "ETHUSDT", "5m").await, 26_141);
    // the values are the file's: compare a sum over the close column with the file read directly
    let file = std::fs::File::open(shared("filimonov-freqtrade/ETH_USDT-5m.feather")).unwrap();
    let expected: f64 = arrow::ipc::reader::FileReader::try_new(file, None)
        .unwrap()
        .map(|b| b.unwrap().column_by_name("close").unwrap().as_primitive::<Float64Type>().values().iter().sum::<f64>())
        .sum();
    let got = sql(&lake, "SELECT sum(close) FROM candles").await;
    let got = got[0].column(0).as_primitive::<Float64Type>().value(0);
    assert!((got - expected).abs() <= 1e-9 * expected, "{got} vs {expected}");
}

#[tokio::test]
async fn futures_names_become_perp_symbols_and_funding_files_are_refused() {
    let (_d, lake) = temp_lake();
    let r = ingest(&lake, &shared("typhonun-dcatpstrategy/futures/BTC_USDT_USDT-1m-futures.feather")).await;
    assert_eq!(r.market.symbol(), "BTCUSDT-PERP");
    assert_eq!(r.candles.inserted, 43_199);
    let err = ingest_file(&lake, &shared("harthor-marketlab/futures/BTC_USDT_USDT-1h-funding_rate.feather"), &IngestOptions::default(), &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("funding-rate"), "{err}");
}

#[tokio::test]
async fn binance_kline_csv_in_ms_and_us_with_and_without_header() {
    let (dir, lake) = temp_lake();
    let text = std::fs::read_to_string(local("ADAUSDT-1m-2025-01.csv")).unwrap();
    let r = ingest(&lake, &local("ADAUSDT-1m-2025-01.csv")).await;
    assert_eq!(r.format, Format::BinanceCsv);
    assert_eq!((r.market.symbol(), r.rows_read, r.candles.inserted), ("ADAUSDT", 20, 20));
    let stored = sql(&lake, "SELECT trade_count, quote_volume FROM candles ORDER BY open_time LIMIT 1").await;
    assert_eq!(stored[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0), 961);
    assert_eq!(stored[0].column(1).as_primitive::<Float64Type>().value(0), 397414.396);

    // the same rows without the header, and with microsecond open times (Binance spot files from 2025):
    // both are the same candles, so nothing new lands
    let rows: Vec<&str> = text.lines().skip(1).collect();
    let headerless = dir.path().join("ADAUSDT-1m-2025-01-noheader.csv");
    std::fs::write(&headerless, rows.join("\n")).unwrap();
    let micros = dir.path().join("ADAUSDT-1m-2025-01-us.csv");
    let us_rows: Vec<String> = rows
        .iter()
        .map(|l| {
            let (t, rest) = l.split_once(',').unwrap();
            let (_o, after) = rest.split_once(',').unwrap();
            let _ = after;
            format!("{}000,{rest}", t)
        })
        .collect();
    std::fs::write(&micros, us_rows.join("\n")).unwrap();
    for f in [headerless, micros] {
        let r = ingest(&lake, &f).await;
        assert_eq!(r.format, Format::BinanceCsv, "{}", f.display());
        assert_eq!((r.rows_read, r.candles.inserted, r.candles.unchanged, r.quarantined), (20, 0, 20, 0), "{}", f.display());
    }
    assert_eq!(candles(&lake, "ADAUSDT", "1m").await, 20);
}

#[tokio::test]
async fn generic_csv_with_a_column_mapping() {
    // the indicator fixture is a real candle CSV with extra columns; map it explicitly
    let (_d, lake) = temp_lake();
    let path = crate::crate_dir().join("../../shared/fixtures/indicators/BTC_USDT-1h_binance.csv");
    let opts = IngestOptions {
        symbol: Some("BTC/USDT".into()),
        columns: ColumnMap::parse("open_time=open_time,open=open,high=high,low=low,close=close,volume=volume").unwrap(),
        ..Default::default()
    };
    let r = ingest_with(&lake, &path, opts).await;
    assert_eq!(r.format, Format::Csv);
    assert_eq!(r.market.timeframe(), Timeframe::parse("1h").unwrap(), "inferred from the spacing");
    assert!(r.inferred.iter().any(|i| i.contains("spacing")), "{:?}", r.inferred);
    assert_eq!((r.rows_read, r.candles.inserted, r.quarantined), (5000, 5000, 0));
    // same candles as the freqtrade JSON they were copied from
    let r = ingest(&lake, &shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json")).await;
    assert_eq!(r.candles.disagreed, 0);
    assert_eq!(r.candles.unchanged, 5000);
}

#[tokio::test]
async fn parquet_candles_ingest() {
    // a Parquet copy of a real feather file, written here with the arrow/parquet writer
    let (dir, lake) = temp_lake();
    let file = std::fs::File::open(shared("harthor-marketlab/BTC_USDT-1d.feather")).unwrap();
    let batches: Vec<_> = arrow::ipc::reader::FileReader::try_new(file, None).unwrap().map(|b| b.unwrap()).collect();
    let path = dir.path().join("BTC_USDT-1d.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batches[0].schema(), None).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    let r = ingest(&lake, &path).await;
    assert_eq!(r.format, Format::Parquet);
    assert_eq!((r.rows_read, r.candles.inserted), (488, 488));
    let _ = Arc::new(());
}

#[tokio::test]
async fn trade_files_land_in_trades_raw_and_aggregate_to_1m_candles() {
    let (_d, lake) = temp_lake();
    // freqtrade trades (JSON, gzip): 12,477 trades
    let r = ingest(&lake, &shared("freqtrade-testdata/XRP_ETH-trades.json.gz")).await;
    assert_eq!(r.market.symbol(), "XRPETH");
    assert_eq!(r.market.timeframe().to_string(), "1m");
    assert_eq!((r.rows_read, r.trades_landed, r.quarantined), (12_477, Some(12_477), 0));
    assert_eq!(count(&lake, "SELECT count(*) FROM trades_raw").await, 12_477);
    // the feather copy of the same trades adds nothing
    let r = ingest(&lake, &shared("freqtrade-testdata/XRP_ETH-trades.feather")).await;
    assert_eq!((r.candles.inserted, r.candles.disagreed), (0, 0));
    assert_eq!(count(&lake, "SELECT count(*) FROM trades_raw").await, 12_477);

    // the exchange's own 1m candles of that window agree with ours built from the trades
    let ours = candles(&lake, "XRPETH", "1m").await;
    assert_eq!(ours, 2_469, "one candle per minute with trades, as in XRP_ETH-1m.feather");
    let r = ingest(&lake, &shared("freqtrade-testdata/XRP_ETH-1m.feather")).await;
    assert_eq!((r.candles.inserted, r.candles.already_present()), (0, 2_469));
    assert_eq!(r.candles.disagreed, 0, "first: {:?}", r.candles.first_disagreement);
}

#[tokio::test]
async fn tardis_csv_and_binance_parquet_trades() {
    let (_d, lake) = temp_lake();
    let opts = IngestOptions { symbol: Some("BTCUSDT-PERP".into()), exchange: Some("binance".into()), ..Default::default() };
    let r = ingest_with(&lake, &shared("nautilus-trader-testdata/tardis_trades.csv"), opts).await;
    assert_eq!((r.rows_read, r.trades_landed), (9_999, Some(9_999)));
    let opts = IngestOptions { symbol: Some("BTCUSDT".into()), ..Default::default() };
    let r = ingest_with(&lake, &shared("nautilus-trader-testdata/btcusdt-trades.parquet"), opts).await;
    assert_eq!((r.rows_read, r.trades_landed), (2_001, Some(2_001)));
    assert_eq!(r.candles.inserted, 1, "46 seconds of trades make one 1m candle");
    let sides = count(&lake, "SELECT count(*) FROM trades_raw WHERE symbol = 'BTCUSDT' AND side IN ('buy', 'sell')").await;
    assert_eq!(sides, 2_001, "buyer_maker flags become sides");
}
