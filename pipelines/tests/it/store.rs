//! A backtest over a real lake: any spelling of the market finds its candles (`60m` is `1h`,
//! `btc/usdt` is `BTCUSDT`), and the stored results read back, paged, equal what the run produced.

use lake::{Lake, LakeConfig};
use pipelines::backtest::{run_on_lake, store, BacktestParams, ParamValues};

async fn lake_with_btc_1h() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().join("lake").display().to_string())).unwrap();
    let file = crate::crate_dir().join("../../shared/data/djienne-3ema-srsi-atr/BTC_USDT-1h.json");
    ingest::ingest_file(&lake, &file, &ingest::IngestOptions::default(), &|_| {}).await.unwrap();
    (dir, lake)
}

fn graph() -> pipelines::graph::ValidGraph {
    let path = crate::crate_dir().join("../../shared/fixtures/backtests/param_sweep_sma/strategy.json");
    pipelines::graph::validate(&serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()).unwrap()
}

fn params(symbol: &str, timeframe: &str) -> BacktestParams {
    serde_json::from_value(serde_json::json!({"exchange": "Binance", "symbol": symbol, "timeframe": timeframe,
        "start": 1_609_459_200_000_i64, "end": 1_625_097_600_000_i64, "params": {"fast": 8, "slow": 40}}))
    .unwrap()
}

#[tokio::test]
async fn every_spelling_of_a_market_backtests_the_same_candles() {
    let (_dir, lake) = lake_with_btc_1h().await;
    let (want, _) = run_on_lake(&lake, &graph(), &params("BTCUSDT", "1h"), false).await.unwrap();
    assert!(want.run.bars > 4000, "{} bars", want.run.bars);
    for (symbol, timeframe) in [("BTCUSDT", "60m"), ("btc/usdt", "1h"), ("BTC_USDT", "60m"), ("btc-usdt", "1h")] {
        let (got, _) = run_on_lake(&lake, &graph(), &params(symbol, timeframe), false).await.unwrap();
        assert_eq!(got.run.bars, want.run.bars, "{symbol} {timeframe}");
        assert_eq!(got.run.combos[0].metrics, want.run.combos[0].metrics, "{symbol} {timeframe}");
    }
    let e = run_on_lake(&lake, &graph(), &params("BTCUSDT", "2h"), false).await.unwrap_err().to_string();
    assert_eq!(e, "no 2h candles of BTCUSDT on binance in the requested range");
}

#[tokio::test]
async fn stored_trades_and_equity_read_back_page_by_page() {
    let (_dir, lake) = lake_with_btc_1h().await;
    let mut p = params("BTCUSDT", "1h");
    p.params = ParamValues::grid(&[("fast".into(), vec![5.0, 8.0]), ("slow".into(), vec![40.0])]);
    let (out, version) = run_on_lake(&lake, &graph(), &p, true).await.unwrap();
    store::save(&lake, "run-a", &p, &out, Some(version)).await.unwrap();
    for (k, combo) in out.run.combos.iter().enumerate() {
        let k = k as i64;
        assert!(combo.trades.len() > 10, "enough trades to page through");
        // trades in pages of 7, each page after the last trade number of the previous one
        let mut read = Vec::new();
        loop {
            let page = store::read_trades(&lake, "run-a", k, read.last().map_or(0, |t: &store::StoredTrade| t.trade_no), Some(7)).await.unwrap();
            assert!(page.len() <= 7);
            if page.is_empty() {
                break;
            }
            read.extend(page);
        }
        assert_eq!(read.len(), combo.trades.len());
        for (i, (r, t)) in read.iter().zip(&combo.trades).enumerate() {
            assert_eq!(r.trade_no, i as i64 + 1);
            assert_eq!((r.side.as_str(), r.exit_reason.as_str()), (t.side.as_str(), t.exit_reason.as_str()));
            assert_eq!((r.entry_time_us, r.exit_time_us), (t.entry_time * 1_000, t.exit_time * 1_000));
            assert_eq!((r.entry_price, r.exit_price, r.qty, r.fees, r.pnl), (t.entry_price, t.exit_price, t.qty, t.fees, t.pnl));
            assert_eq!(r.bars_held, (t.exit_bar - t.entry_bar + 1) as i64);
        }
        // the curve: the capital at the first open, then every bar's equity at its close
        let curve = &store::read_equity(&lake, "run-a", k, None, None).await.unwrap();
        assert_eq!(curve.len(), combo.equity.len() + 1);
        assert_eq!(curve[0], (out.run.open_times[0] * 1_000, p.initial_capital));
        assert!(curve[1..].iter().zip(&combo.equity).all(|(a, b)| a.1 == *b));
        let tail = store::read_equity(&lake, "run-a", k, Some(curve[99].0), Some(50)).await.unwrap();
        assert_eq!(tail, curve[100..150].to_vec(), "a page starts after the cursor's time");
    }
    assert!(store::read_equity(&lake, "run-b", 0, None, None).await.unwrap().is_empty(), "a run never stored has an empty curve");
    let both = store::read_curves(&lake, &[("run-a".to_string(), 1), ("run-b".to_string(), 0)]).await.unwrap();
    assert_eq!(both[&("run-a".to_string(), 1)], store::read_equity(&lake, "run-a", 1, None, None).await.unwrap(), "the curves read together equal each read alone");
    assert!(both[&("run-b".to_string(), 0)].is_empty(), "every curve asked for has an entry");
    assert!(store::read_trades(&lake, "run-a", 9, 0, Some(10)).await.unwrap().is_empty());
    assert_eq!(store::read_trades(&lake, "run-a", 1, 0, None).await.unwrap().len(), out.run.combos[1].trades.len());
    assert_eq!((store::read_combinations(&lake, "run-a").await.unwrap(), store::read_combinations(&lake, "run-b").await.unwrap()), (2, 0));
}
