//! Backtests: compile a graph to a DataFusion plan (or step it bar by bar for paper trading),
//! simulate fills, compute metrics, store and read results.

pub mod anomalies;
pub mod compile;
pub mod export;
pub mod metrics;
pub mod output;
pub mod params;
pub mod progress;
pub mod run;
pub mod sim;
pub mod step;
pub mod store;
pub mod udaf;

pub use metrics::Metrics;
pub use params::{BacktestParams, Combo, ParamValues, DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_FILL_POLICY, DEFAULT_SLIPPAGE, MAX_COMBINATIONS};
pub use progress::{Progress, ProgressHandle, ProgressSnapshot};
pub use run::{count_candles, run_at_version, run_backtest, run_on_lake, BacktestOutput, RunOptions};
pub use sim::{Action, ExitReason, Fill, FillPolicy, OpenPosition, Risk, SimConfig, Simulator, Trade};
pub use step::{Candle, Stepper};

/// A number as the fixtures write it: integers without a decimal point, other values shortest round-trip.
pub fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}
