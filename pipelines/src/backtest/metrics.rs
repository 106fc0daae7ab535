//! Backtest metrics, exactly as the metrics table of spec/backtest-semantics.md defines them.

use serde::{Deserialize, Serialize};

use super::sim::{SimResult, Trade};

/// Every metric of the spec; `None` where the spec says null.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub total_return_pct: f64,
    pub cagr_pct: f64,
    pub volatility_ann_pct: f64,
    pub sharpe: f64,
    pub sortino: f64,
    pub max_drawdown_pct: f64,
    pub calmar: f64,
    pub trades: u64,
    pub win_rate_pct: f64,
    pub profit_factor: Option<f64>,
    pub avg_trade_return_pct: Option<f64>,
    pub best_trade_pct: Option<f64>,
    pub worst_trade_pct: Option<f64>,
    pub avg_bars_held: Option<f64>,
    pub exposure_pct: f64,
    pub sqn: Option<f64>,
    pub fees_paid: f64,
    pub buy_and_hold_return_pct: f64,
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1), two-pass as numpy computes it.
fn std1(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// Computes the metrics of one simulation. `first_open`/`last_close` give buy and hold;
/// `timeframe_seconds` gives N, the bars per year.
pub fn compute(result: &SimResult, initial_capital: f64, first_open: f64, last_close: f64, timeframe_seconds: f64) -> Metrics {
    let n = result.equity.len();
    let bars_per_year = 365.0 * 86_400.0 / timeframe_seconds;
    let end = result.equity.last().copied().unwrap_or(initial_capital);
    let mut returns = Vec::with_capacity(n);
    let mut prev = initial_capital;
    let mut peak = initial_capital;
    let mut max_dd = 0.0f64;
    for &e in &result.equity {
        returns.push(e / prev - 1.0);
        prev = e;
        peak = peak.max(e);
        max_dd = max_dd.max(1.0 - e / peak);
    }
    let (m, s) = if n > 0 { (mean(&returns), std1(&returns)) } else { (0.0, f64::NAN) };
    let s_ok = s.is_finite() && s != 0.0;
    let downside = if n > 0 { (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n as f64).sqrt() } else { 0.0 };
    let cagr = if n > 0 { ((end / initial_capital).powf(bars_per_year / n as f64) - 1.0) * 100.0 } else { 0.0 };
    let max_drawdown_pct = max_dd * 100.0;
    let trades: &[Trade] = &result.trades;
    let pnls: Vec<f64> = trades.iter().map(|t| t.pnl).collect();
    let rets: Vec<f64> = trades.iter().map(|t| t.return_pct).collect();
    let wins: f64 = pnls.iter().filter(|p| **p > 0.0).sum();
    let losses: f64 = pnls.iter().filter(|p| **p < 0.0).sum();
    let has_losers = pnls.iter().any(|p| *p < 0.0);
    let pnl_std = std1(&pnls);
    Metrics {
        total_return_pct: (end / initial_capital - 1.0) * 100.0,
        cagr_pct: cagr,
        volatility_ann_pct: if s.is_finite() { s * bars_per_year.sqrt() * 100.0 } else { 0.0 },
        sharpe: if s_ok { m / s * bars_per_year.sqrt() } else { 0.0 },
        sortino: if downside != 0.0 { m * bars_per_year / (downside * bars_per_year.sqrt()) } else { 0.0 },
        max_drawdown_pct,
        calmar: if max_drawdown_pct != 0.0 { cagr / max_drawdown_pct } else { 0.0 },
        trades: trades.len() as u64,
        win_rate_pct: if trades.is_empty() { 0.0 } else { pnls.iter().filter(|p| **p > 0.0).count() as f64 / trades.len() as f64 * 100.0 },
        profit_factor: has_losers.then(|| wins / losses.abs()),
        avg_trade_return_pct: (!trades.is_empty()).then(|| mean(&rets)),
        best_trade_pct: rets.iter().copied().reduce(f64::max),
        worst_trade_pct: rets.iter().copied().reduce(f64::min),
        avg_bars_held: (!trades.is_empty()).then(|| mean(&trades.iter().map(|t| (t.exit_bar - t.entry_bar + 1) as f64).collect::<Vec<_>>())),
        exposure_pct: if n > 0 { result.bars_in_position as f64 / n as f64 * 100.0 } else { 0.0 },
        sqn: (trades.len() >= 2 && pnl_std.is_finite() && pnl_std != 0.0).then(|| (trades.len() as f64).sqrt() * mean(&pnls) / pnl_std),
        fees_paid: trades.iter().map(|t| t.fees).sum(),
        buy_and_hold_return_pct: (last_close / first_open - 1.0) * 100.0,
    }
}
