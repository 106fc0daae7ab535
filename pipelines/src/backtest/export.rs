//! Writing results in the layout of ../shared/fixtures/backtests: trades.csv, equity.csv, metrics.json.

use std::fmt::Write as _;
use std::path::Path;

use super::params::BacktestParams;
use super::run::BacktestOutput;
use crate::error::{Error, Result};

/// A float at full round-trip precision, integral values with `.0` (as Python writes them).
pub fn fmt_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 { format!("{v:.1}") } else { format!("{v}") }
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Invalid(format!("cannot write {}: {e}", path.display()))
}

/// Writes combination `k` of `out` into `dir` (created if missing).
pub fn write_combo(dir: &Path, p: &BacktestParams, out: &BacktestOutput, k: usize) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let c = &out.run.combos[k];
    let mut trades = String::from("side,entry_time,entry_price,exit_time,exit_price,qty,fees,pnl,return_pct,exit_reason\n");
    for t in &c.trades {
        let _ = writeln!(
            trades,
            "{},{},{},{},{},{},{},{},{},{}",
            t.side.as_str(),
            t.entry_time,
            fmt_float(t.entry_price),
            t.exit_time,
            fmt_float(t.exit_price),
            fmt_float(t.qty),
            fmt_float(t.fees),
            fmt_float(t.pnl),
            fmt_float(t.return_pct),
            t.exit_reason.as_str()
        );
    }
    let path = dir.join("trades.csv");
    std::fs::write(&path, trades).map_err(|e| io(&path, e))?;
    let tf = out.timeframe.millis();
    let mut equity = String::from("time,equity\n");
    if let Some(first) = out.run.open_times.first() {
        let _ = writeln!(equity, "{first},{}", fmt_float(p.initial_capital));
    }
    for (t, e) in out.run.open_times.iter().zip(&c.equity) {
        let _ = writeln!(equity, "{},{}", t + tf, fmt_float(*e));
    }
    let path = dir.join("equity.csv");
    std::fs::write(&path, equity).map_err(|e| io(&path, e))?;
    let path = dir.join("metrics.json");
    let json = serde_json::to_string_pretty(&c.metrics).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(&path, json + "\n").map_err(|e| io(&path, e))?;
    Ok(())
}

/// Writes every combination: into `dir` itself for a plain backtest, into one sub-folder per
/// combination for a sweep (named by `sweep_dirs`, else by the fixtures' naming rule).
pub fn write_all(dir: &Path, p: &BacktestParams, out: &BacktestOutput) -> Result<()> {
    if p.params.is_sweep() {
        for k in 0..out.run.combos.len() {
            write_combo(&dir.join(p.sweep_dir(k)), p, out, k)?;
        }
        Ok(())
    } else {
        write_combo(dir, p, out, 0)
    }
}
