//! `bb backtest` end to end: lake candles in, fixture-layout files and lake rows out.

use std::path::Path;

use crate::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs() || (a - b).abs() <= 1e-9
}

/// Compares a result folder with a fixture folder: text fields exactly, numbers to 1e-9.
fn assert_same_results(got: &Path, want: &Path) {
    for file in ["trades.csv", "equity.csv"] {
        let g = std::fs::read_to_string(got.join(file)).unwrap_or_else(|e| panic!("{}: {e}", got.join(file).display()));
        let w = std::fs::read_to_string(want.join(file)).unwrap();
        let (gl, wl): (Vec<&str>, Vec<&str>) = (g.lines().collect(), w.lines().collect());
        assert_eq!(gl.len(), wl.len(), "{file} rows in {}", got.display());
        assert_eq!(gl[0], wl[0], "{file} header");
        for (a, b) in gl.iter().zip(&wl).skip(1) {
            for (x, y) in a.split(',').zip(b.split(',')) {
                match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(x), Ok(y)) => assert!(close(x, y), "{file}: {a} vs {b}"),
                    _ => assert_eq!(x, y, "{file}: {a} vs {b}"),
                }
            }
        }
    }
    let g: serde_json::Value = serde_json::from_slice(&std::fs::read(got.join("metrics.json")).unwrap()).unwrap();
    let w: serde_json::Value = serde_json::from_slice(&std::fs::read(want.join("metrics.json")).unwrap()).unwrap();
    for (k, v) in w.as_object().unwrap() {
        match (g[k].as_f64(), v.as_f64()) {
            (Some(a), Some(b)) => assert!(close(a, b), "metric {k}: {a} vs {b}"),
            _ => assert_eq!(&g[k], v, "metric {k}"),
        }
    }
}

crate::on_both_lakes!(a_params_file_sweep_reproduces_the_reference_folders, |spot: &crate::Spot| {
    let dir = spot.path();
    let src = shared("filimonov-freqtrade/BTC_USDT-5m.feather");
    assert!(spot.bb(&["ingest", src.to_str().unwrap()]).status.success());
    let case = fixtures("param_sweep_sma");
    let out_dir = dir.join("out");
    let o = spot.bb(
        &["backtest", "--strategy", case.join("strategy.json").to_str().unwrap(), "--params", case.join("params.json").to_str().unwrap(), "--output", out_dir.to_str().unwrap()],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for sub in ["fast5_slow20", "fast10_slow30", "fast20_slow50", "fast8"] {
        assert_same_results(&out_dir.join(sub), &case.join(sub));
    }
    // the run is in the lake, with the candles version it read
    let run_id = out.lines().find_map(|l| l.strip_prefix("run ")).unwrap_or_else(|| panic!("{out}")).trim().to_string();
    let q = format!("SELECT count(*) AS n, min(candles_version) AS v FROM backtest_metrics WHERE run_id = '{run_id}'");
    let rows = String::from_utf8(spot.bb(&["sql", &q, "--format", "csv"]).stdout).unwrap();
    assert_eq!(rows, "n,v\n4,1\n", "4 combinations; candles version 1 (0 is the table's creation)");
    let q = format!("SELECT count(*) FROM backtest_trades WHERE run_id = '{run_id}'");
    let rows = String::from_utf8(spot.bb(&["sql", &q, "--format", "csv"]).stdout).unwrap();
    let expected: usize = ["fast5_slow20", "fast10_slow30", "fast20_slow50", "fast8"]
        .iter()
        .map(|s| std::fs::read_to_string(case.join(s).join("trades.csv")).unwrap().lines().count() - 1)
        .sum();
    assert_eq!(rows.lines().nth(1).unwrap(), expected.to_string());
});

#[test]
fn market_flags_a_grid_and_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json");
    assert!(bb(dir.path(), &["ingest", src.to_str().unwrap()]).status.success());
    let strategy = fixtures("param_sweep_sma/strategy.json");
    let o = bb(
        dir.path(),
        &[
            "backtest", "--strategy", strategy.to_str().unwrap(), "--symbol", "BTC/USDT", "--timeframe", "1h",
            "--from", "2021-01-01T00:00:00Z", "--to", "1640995200000", "--param", "fast=5,10", "--param", "slow=30,50,100",
            "--sort-by", "total_return_pct", "--no-store",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("6 combination(s)"), "{out}");
    let rows: Vec<Vec<f64>> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('#'))
        .skip(1)
        .take(6)
        .map(|l| l.split_whitespace().map(|c| c.parse::<f64>().unwrap_or(f64::NAN)).collect())
        .collect();
    assert_eq!(rows.len(), 6, "{out}");
    // columns: #, fast, slow, total_return_pct, ...: sorted descending by total return
    assert!(rows.windows(2).all(|w| w[0][3] >= w[1][3]), "{out}");
    // 2021 has 8760 hours; Binance had maintenance gaps
    assert!(out.contains("bars, 6 combination(s)"), "{out}");
}

#[test]
fn an_invalid_graph_prints_every_issue_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"version": 1, "nodes": [{"id": "x", "type": "oracle"}, {"id": "e", "type": "entry", "params": {"side": "long"}}], "edges": []}"#).unwrap();
    let o = bb(dir.path(), &["backtest", "--strategy", bad.to_str().unwrap(), "--symbol", "BTCUSDT", "--timeframe", "1h"]);
    let out = text(&o);
    assert!(!o.status.success());
    assert!(out.contains("node 'x': [unknown_block_type]"), "{out}");
    assert!(out.contains("node 'e': [missing_input]"), "{out}");
}

#[test]
fn an_unknown_market_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared("djienne-3ema-srsi-atr/ETH_USDT-1d.json");
    assert!(bb(dir.path(), &["ingest", src.to_str().unwrap()]).status.success());
    let o = bb(dir.path(), &["backtest", "--strategy", fixtures("sma_cross_close/strategy.json").to_str().unwrap(), "--symbol", "DOGEUSDT", "--timeframe", "1d"]);
    let out = text(&o);
    assert!(!o.status.success());
    assert!(out.contains("no 1d candles of DOGEUSDT on binance"), "{out}");
}

#[test]
fn single_cases_export_the_reference_files_including_an_empty_trade_log() {
    let dir = tempfile::tempdir().unwrap();
    for src in ["djienne-3ema-srsi-atr/BTC_USDT-1h.json", "djienne-3ema-srsi-atr/BTC_USDT-1d.json", "djienne-3ema-srsi-atr/SOL_USDT-1h.json"] {
        let o = bb(dir.path(), &["ingest", shared(src).to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    for case in ["no_trades", "open_at_end", "short_only_sized_stop"] {
        let fixture = fixtures(case);
        let out_dir = dir.path().join("out").join(case);
        let o = bb(
            dir.path(),
            &["backtest", "--strategy", fixture.join("strategy.json").to_str().unwrap(), "--params", fixture.join("params.json").to_str().unwrap(), "--output", out_dir.to_str().unwrap(), "--no-store"],
        );
        assert!(o.status.success(), "{case}: {}", text(&o));
        assert_same_results(&out_dir, &fixture);
    }
    let empty = std::fs::read_to_string(dir.path().join("out/no_trades/trades.csv")).unwrap();
    assert_eq!(empty, "side,entry_time,entry_price,exit_time,exit_price,qty,fees,pnl,return_pct,exit_reason\n");
}

/// The metric lines `bb backtest` prints for a market spelled `symbol` / `timeframe`, and its headline.
fn metrics_of(dir: &Path, symbol: &str, timeframe: &str) -> (String, String) {
    let strategy = fixtures("param_sweep_sma").join("strategy.json");
    let o = bb(
        dir,
        &["backtest", "--strategy", strategy.to_str().unwrap(), "--symbol", symbol, "--timeframe", timeframe, "--from", "2021-01-01T00:00:00Z",
            "--to", "2021-03-01T00:00:00Z", "--param", "fast=8", "--param", "slow=40", "--no-store"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{symbol} {timeframe}: {out}");
    let headline = out.lines().next().unwrap().split(':').next().unwrap().to_string();
    (headline, out.lines().filter(|l| l.starts_with("  ")).collect::<Vec<_>>().join("\n"))
}

#[test]
fn every_spelling_of_a_market_backtests_the_same_candles() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json");
    assert!(bb(dir.path(), &["ingest", src.to_str().unwrap()]).status.success());
    let (headline, want) = metrics_of(dir.path(), "BTCUSDT", "1h");
    assert_eq!(headline, "binance BTCUSDT 1h");
    assert!(want.contains("total_return_pct") && want.lines().count() > 10, "{want}");
    // `60m` on a lake of 1h candles is the 1h market (it used to find no candles)
    for (symbol, timeframe) in [("BTCUSDT", "60m"), ("BTC/USDT", "1h"), ("btcusdt", "60m"), ("BTC_USDT", "1h"), ("btc-usdt", "60m")] {
        assert_eq!(metrics_of(dir.path(), symbol, timeframe), (headline.clone(), want.clone()), "{symbol} {timeframe}");
    }
    // a params file spells the market its own way too
    let params = dir.path().join("params.json");
    std::fs::write(&params, r#"{"exchange": "Binance", "symbol": "btc/usdt", "timeframe": "60m", "start": 1609459200000, "end": 1614556800000, "params": {"fast": 8, "slow": 40}}"#).unwrap();
    let strategy = fixtures("param_sweep_sma").join("strategy.json");
    let o = bb(dir.path(), &["backtest", "--strategy", strategy.to_str().unwrap(), "--params", params.to_str().unwrap(), "--no-store"]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("  ")).collect::<Vec<_>>().join("\n"), want);
    // a timeframe that is not one is refused by name
    let o = bb(dir.path(), &["backtest", "--strategy", strategy.to_str().unwrap(), "--symbol", "BTCUSDT", "--timeframe", "7x"]);
    assert!(!o.status.success() && text(&o).contains("invalid timeframe '7x'"), "{}", text(&o));
}

#[test]
fn a_perpetual_is_one_symbol_for_ingest_resample_backtest_and_sql() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json");
    let o = bb(dir.path(), &["ingest", src.to_str().unwrap(), "--symbol", "BTC-PERP"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("binance BTC-PERP 1h"), "{}", text(&o));
    let o = bb(dir.path(), &["resample", "--symbol", "btc_perp", "--from", "60m", "--to", "4h"]);
    assert!(o.status.success() && text(&o).contains("resampled binance BTC-PERP 1h → 4h"), "{}", text(&o));
    let (headline, _) = metrics_of(dir.path(), "btc/perp", "60m");
    assert_eq!(headline, "binance BTC-PERP 1h");
    let q = "SELECT timeframe, count(*) AS n FROM candles WHERE symbol = canonical_symbol('btc_perp') AND timeframe IN (canonical_timeframe('60m'), canonical_timeframe('240m')) GROUP BY timeframe ORDER BY timeframe";
    let o = bb(dir.path(), &["sql", q, "--format", "csv"]);
    let rows = String::from_utf8(o.stdout).unwrap();
    let source: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!((lines[0], lines[1]), ("timeframe,n", format!("1h,{}", source.len()).as_str()), "{rows}");
    assert!(lines[2].starts_with("4h,"), "{rows}");
    let o = bb(dir.path(), &["sql", "SELECT canonical_symbol('BTC$USDT')"]);
    assert!(!o.status.success() && text(&o).contains("invalid symbol 'BTC$USDT'"), "{}", text(&o));
}

crate::on_both_lakes!(bb_results_reads_a_stored_run_back_as_its_files_hold_it, |spot: &crate::Spot| {
    let dir = spot.path();
    let src = shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json");
    assert!(spot.bb(&["ingest", src.to_str().unwrap()]).status.success());
    let strategy = fixtures("param_sweep_sma").join("strategy.json");
    let out_dir = dir.join("out");
    let o = spot.bb(&["backtest", "--strategy", strategy.to_str().unwrap(), "--symbol", "BTCUSDT", "--timeframe", "1h", "--param", "fast=8", "--param", "slow=40", "--output", out_dir.to_str().unwrap()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let run_id = out.lines().find_map(|l| l.strip_prefix("run ")).unwrap().trim().to_string();

    let o = spot.bb(&["results", &run_id, "--format", "csv"]);
    assert!(o.status.success(), "{}", text(&o));
    let got = String::from_utf8(o.stdout).unwrap();
    let mut lines = got.lines();
    assert_eq!(lines.next(), Some("trade_no,side,entry_time,entry_price,exit_time,exit_price,qty,fees,pnl,return_pct,exit_reason,bars_held"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(String::from).collect()).collect();
    let want: Vec<Vec<String>> = std::fs::read_to_string(out_dir.join("trades.csv")).unwrap().lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect();
    assert!(want.len() > 10, "{} trades", want.len());
    assert_eq!(rows.len(), want.len());
    for (i, (r, w)) in rows.iter().zip(&want).enumerate() {
        assert_eq!(r[0], (i + 1).to_string());
        assert_eq!((r[1].as_str(), r[10].as_str()), (w[0].as_str(), w[9].as_str()));
        assert_eq!(chrono::DateTime::parse_from_rfc3339(&r[2]).unwrap().timestamp_millis().to_string(), w[1]);
        assert_eq!(r[8].parse::<f64>().unwrap(), w[7].parse::<f64>().unwrap(), "pnl of trade {}", i + 1);
    }
    let o = spot.bb(&["results", &run_id, "--equity", "--format", "csv"]);
    let equity = String::from_utf8(o.stdout).unwrap();
    let want = std::fs::read_to_string(out_dir.join("equity.csv")).unwrap();
    assert_eq!(equity.lines().count(), want.lines().count());
    let last = |s: &str| s.lines().last().unwrap().split(',').nth(1).unwrap().parse::<f64>().unwrap();
    assert_eq!(last(&equity), last(&want));

    let o = spot.bb(&["results", "no-such-run"]);
    assert!(!o.status.success() && text(&o).contains("the lake holds no run no-such-run"), "{}", text(&o));
    let o = spot.bb(&["results", &run_id, "--combo", "1"]);
    assert!(!o.status.success() && text(&o).contains("has combinations 0 to 0, not 1"), "{}", text(&o));
});
