//! The bar-by-bar stepper (paper trading's engine) against the backtest plan: every reference case
//! of ../shared/fixtures/backtests, fed one candle at a time, gives the backtest's trades, equity
//! and metrics, and the reference files' too.

use std::collections::BTreeMap;

use pipelines::backtest::metrics;
use pipelines::backtest::sim::SimResult;
use pipelines::backtest::udaf::ComboOutput;
use pipelines::backtest::{run_backtest, BacktestParams, Candle, SimConfig, Stepper};

use crate::fixtures::{case, cases, cases_dir, close, compare, session, Case};

fn candles(dir: &std::path::Path) -> Vec<Candle> {
    let text = std::fs::read_to_string(dir.join("candles.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            Candle { open_time: f[0] as i64, open: f[1], high: f[2], low: f[3], close: f[4], volume: f[5] }
        })
        .collect()
}

/// The stepper fed every candle, the last one as the end of the data (as a backtest ends).
fn stepped(graph: &pipelines::graph::ValidGraph, values: &BTreeMap<String, f64>, p: &BacktestParams, bars: &[Candle]) -> ComboOutput {
    let cfg = SimConfig { initial_capital: p.initial_capital, fee_rate: p.fee_rate, slippage: p.slippage, fill_policy: p.fill_policy, risk: Default::default() };
    let mut s = Stepper::new(graph, values, cfg).unwrap();
    let mut equity: Vec<f64> = bars[..bars.len() - 1].iter().map(|c| s.step(c)).collect();
    equity.push(s.step_last(bars.last().unwrap()));
    let result = SimResult { trades: s.sim_mut().take_trades(), equity, bars_in_position: s.sim().bars_in_position() };
    let m = metrics::compute(&result, p.initial_capital, bars[0].open, bars.last().unwrap().close, p.market.timeframe().seconds() as f64);
    ComboOutput { metrics: m, trades: result.trades, equity: result.equity }
}

#[tokio::test]
async fn every_reference_case_fed_bar_by_bar_trades_as_the_backtest() {
    let mut errors = Vec::new();
    let mut checked = 0;
    for Case { name: case, dir, params, graph } in cases() {
        let bars = candles(&dir);
        let backtest = run_backtest(&session(&dir, &params), &graph, &params, true).await.unwrap();
        let tf_ms = backtest.timeframe.millis();
        for (k, values) in backtest.combinations.iter().enumerate() {
            let got = stepped(&graph, values, &params, &bars);
            let want = &backtest.run.combos[k];
            let name = format!("{case}/{k}");
            // the backtest plan's own output, bar for bar
            if got.trades != want.trades {
                errors.push(format!("{name}: trades differ from the backtest's:\n  {:?}\n  {:?}", got.trades, want.trades));
            }
            if let Some(i) = got.equity.iter().zip(&want.equity).position(|(a, b)| !close(*a, *b)) {
                errors.push(format!("{name}: equity of bar {i}: {} vs the backtest's {}", got.equity[i], want.equity[i]));
            }
            let (gm, wm) = (serde_json::to_value(&got.metrics).unwrap(), serde_json::to_value(&want.metrics).unwrap());
            for (key, w) in wm.as_object().unwrap() {
                let g = &gm[key];
                let same = match (g.as_f64(), w.as_f64()) {
                    (Some(a), Some(b)) => close(a, b),
                    _ => g == w,
                };
                if !same {
                    errors.push(format!("{name}: metric {key}: {g} vs the backtest's {w}"));
                }
            }
            // and the reference files
            let sub = match &params.sweep_dirs {
                Some(dirs) => dir.join(&dirs[k]),
                None => dir.clone(),
            };
            compare(&name, &sub, &got, &backtest.run.open_times, tf_ms, &mut errors);
            checked += 1;
        }
    }
    assert!(errors.is_empty(), "{} problem(s):\n{}", errors.len(), errors.join("\n"));
    assert_eq!(checked, 23, "19 single cases and 4 sweep combinations");
}

#[test]
fn the_simulator_survives_a_round_trip_through_json_mid_trade() {
    // a run's state between ticks is JSON in Postgres: storing and loading it mid-position changes nothing
    let Case { dir, params, graph, .. } = case(&cases_dir().join("macd_sl_and_trailing"));
    let bars = candles(&dir);
    let cfg = SimConfig { initial_capital: params.initial_capital, fee_rate: params.fee_rate, slippage: params.slippage, fill_policy: params.fill_policy, risk: Default::default() };
    let values = BTreeMap::new();
    let mut straight = Stepper::new(&graph, &values, cfg.clone()).unwrap();
    let mut resumed = Stepper::new(&graph, &values, cfg).unwrap();
    let mut stored_mid_position = 0;
    for (i, c) in bars.iter().enumerate() {
        let a = straight.step(c);
        let b = resumed.step(c);
        assert_eq!(a.to_bits(), b.to_bits(), "bar {i}");
        if resumed.sim().position().is_some() || resumed.sim().has_pending_order() {
            stored_mid_position += 1;
        }
        let json = serde_json::to_string(resumed.sim()).unwrap();
        let n = resumed.bars_traded();
        resumed.restore(serde_json::from_str(&json).unwrap(), n);
    }
    assert!(stored_mid_position > 10, "the case must hold positions");
    assert_eq!(straight.sim().trades(), resumed.sim().trades());
    assert!(!straight.sim().trades().is_empty());
}
