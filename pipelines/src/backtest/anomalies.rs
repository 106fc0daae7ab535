//! Anomaly flags on a backtest's results, shown with its metrics so a user does not trust a number
//! blindly: data gaps inside the range, zero trades, one trade making most of the profit, and a
//! drawdown over 50 %.

use serde::Serialize;
use serde_json::{json, Value};

use super::run::BacktestOutput;

/// One flag. `combos` lists the combinations it applies to (all of them for data gaps).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    /// `data_gaps`, `zero_trades`, `profit_concentration` or `deep_drawdown`.
    pub code: &'static str,
    pub message: String,
    pub combos: Vec<usize>,
    pub details: Value,
}

/// Share of the net profit above which one trade "makes most of the profit".
pub const CONCENTRATION: f64 = 0.5;
/// Max drawdown (percent) above which a run is flagged.
pub const DEEP_DRAWDOWN_PCT: f64 = 50.0;

/// Flags the output of a run over `[start, end)` (epoch ms; the bars' own span when absent).
/// Gaps need the bar times, which the output has when it was run with `save_equity`.
pub fn detect(out: &BacktestOutput, start: Option<i64>, end: Option<i64>) -> Vec<Anomaly> {
    let mut flags = Vec::new();
    let all: Vec<usize> = (0..out.run.combos.len()).collect();
    let tf = out.timeframe.millis();
    let times = &out.run.open_times;
    if !times.is_empty() {
        // missing bars: before the first bar, between bars, after the last bar (within the range)
        let mut gaps: Vec<(i64, i64)> = Vec::new();
        let first_expected = start.map(|s| out.timeframe.floor(s + tf - 1)).unwrap_or(times[0]);
        if times[0] > first_expected {
            gaps.push((first_expected, times[0]));
        }
        for w in times.windows(2) {
            if w[1] - w[0] > tf {
                gaps.push((w[0] + tf, w[1]));
            }
        }
        let last = *times.last().expect("not empty");
        if let Some(e) = end {
            if last + tf < e {
                gaps.push((last + tf, out.timeframe.floor(e - 1) + tf));
            }
        }
        if !gaps.is_empty() {
            let missing: i64 = gaps.iter().map(|(a, b)| (b - a) / tf).sum();
            let largest = gaps.iter().max_by_key(|(a, b)| b - a).expect("not empty");
            let iso = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default();
            flags.push(Anomaly {
                code: "data_gaps",
                message: format!(
                    "{} gap(s) in the candles inside the range: {missing} missing {} bar(s), the largest from {} to {}",
                    gaps.len(),
                    out.timeframe,
                    iso(largest.0),
                    iso(largest.1)
                ),
                combos: all.clone(),
                details: json!({"gaps": gaps.len(), "missingBars": missing, "largest": {"from": iso(largest.0), "to": iso(largest.1)}}),
            });
        }
    }
    let zero: Vec<usize> = all.iter().copied().filter(|&k| out.run.combos[k].trades.is_empty()).collect();
    if !zero.is_empty() {
        flags.push(Anomaly {
            code: "zero_trades",
            message: format!("{} of {} combination(s) made no trade: the signals never fired in the range", zero.len(), all.len()),
            combos: zero,
            details: json!({}),
        });
    }
    let mut concentrated = Vec::new();
    let mut worst_share: f64 = 0.0;
    for &k in &all {
        let trades = &out.run.combos[k].trades;
        let net: f64 = trades.iter().map(|t| t.pnl).sum();
        let best = trades.iter().map(|t| t.pnl).fold(f64::NEG_INFINITY, f64::max);
        if net > 0.0 && best / net > CONCENTRATION {
            concentrated.push(k);
            worst_share = worst_share.max(best / net);
        }
    }
    if !concentrated.is_empty() {
        flags.push(Anomaly {
            code: "profit_concentration",
            message: format!(
                "a single trade made over {:.0} % of the net profit (up to {:.0} %) in {} combination(s)",
                CONCENTRATION * 100.0,
                worst_share * 100.0,
                concentrated.len()
            ),
            combos: concentrated,
            details: json!({"maxShare": worst_share}),
        });
    }
    let deep: Vec<usize> = all.iter().copied().filter(|&k| out.run.combos[k].metrics.max_drawdown_pct > DEEP_DRAWDOWN_PCT).collect();
    if !deep.is_empty() {
        let worst = deep.iter().map(|&k| out.run.combos[k].metrics.max_drawdown_pct).fold(0.0, f64::max);
        flags.push(Anomaly {
            code: "deep_drawdown",
            message: format!("max drawdown over {DEEP_DRAWDOWN_PCT:.0} % (up to {worst:.1} %) in {} combination(s)", deep.len()),
            combos: deep,
            details: json!({"maxDrawdownPct": worst}),
        });
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtest::sim::ExitReason;
    use crate::graph::Side;
    use crate::backtest::udaf::{ComboOutput, RunOutput};

    fn trade(pnl: f64) -> crate::backtest::Trade {
        crate::backtest::Trade {
            side: Side::Long,
            entry_time: 0,
            entry_price: 1.0,
            exit_time: 0,
            exit_price: 1.0,
            qty: 1.0,
            fees: 0.0,
            pnl,
            return_pct: 0.0,
            exit_reason: ExitReason::Signal,
            entry_bar: 0,
            exit_bar: 0,
        }
    }

    fn output(times: Vec<i64>, combos: Vec<(Vec<f64>, f64)>) -> BacktestOutput {
        let metrics: crate::backtest::Metrics = serde_json::from_value(json!({
            "total_return_pct": 0.0, "cagr_pct": 0.0, "volatility_ann_pct": 0.0, "sharpe": 0.0, "sortino": 0.0,
            "max_drawdown_pct": 0.0, "calmar": 0.0, "trades": 0, "win_rate_pct": 0.0, "profit_factor": null,
            "avg_trade_return_pct": null, "best_trade_pct": null, "worst_trade_pct": null, "avg_bars_held": null,
            "exposure_pct": 0.0, "sqn": null, "fees_paid": 0.0, "buy_and_hold_return_pct": 0.0}))
        .unwrap();
        BacktestOutput {
            combinations: vec![Default::default(); combos.len()],
            timeframe: lake::Timeframe::parse("1h").unwrap(),
            run: RunOutput {
                bars: times.len(),
                open_times: times,
                combos: combos
                    .into_iter()
                    .map(|(pnls, dd)| {
                        let mut m = metrics.clone();
                        m.max_drawdown_pct = dd;
                        ComboOutput { metrics: m, trades: pnls.into_iter().map(trade).collect(), equity: vec![] }
                    })
                    .collect(),
            },
        }
    }

    const H: i64 = 3_600_000;

    #[test]
    fn flags_gaps_inside_the_range_including_its_ends() {
        // range 00:00–10:00; bars at 01, 02, 05, 06 → missing 00, 03, 04, 07, 08, 09
        let out = output(vec![H, 2 * H, 5 * H, 6 * H], vec![(vec![1.0, 1.0], 10.0)]);
        let flags = detect(&out, Some(0), Some(10 * H));
        assert_eq!(flags.len(), 1, "{flags:?}");
        assert_eq!(flags[0].code, "data_gaps");
        assert_eq!(flags[0].details["gaps"], 3);
        assert_eq!(flags[0].details["missingBars"], 6);
        assert_eq!(flags[0].details["largest"]["from"], "1970-01-01T07:00:00+00:00");
        let inner = detect(&out, Some(H), Some(7 * H));
        assert_eq!(inner[0].details["missingBars"], 2, "only the inner gap of 03:00 and 04:00: {inner:?}");
        let full = output((0..10).map(|i| i * H).collect(), vec![(vec![1.0, 1.0], 10.0)]);
        assert!(detect(&full, Some(0), Some(10 * H)).is_empty());
    }

    #[test]
    fn flags_zero_trades_concentration_and_deep_drawdown_per_combination() {
        let times: Vec<i64> = (0..4).map(|i| i * H).collect();
        let out = output(times, vec![(vec![], 5.0), (vec![10.0, -2.0, 1.0], 60.0), (vec![3.0, 3.0, 3.0], 20.0)]);
        let flags = detect(&out, None, None);
        let codes: Vec<(&str, Vec<usize>)> = flags.iter().map(|f| (f.code, f.combos.clone())).collect();
        // combo 1: net 9, best 10 → 111 % of the net profit
        assert_eq!(codes, vec![("zero_trades", vec![0]), ("profit_concentration", vec![1]), ("deep_drawdown", vec![1])]);
        assert!((flags[1].details["maxShare"].as_f64().unwrap() - 10.0 / 9.0).abs() < 1e-12);
    }
}
