//! Backtest runs: submitting one (quota, queue), the run rows the worker advances, what a
//! finished run records, and its results as the API shows them.

pub mod outcome;
pub mod results;
pub mod runs;
pub mod submit;

pub use outcome::{metrics_json, outcome, record_failure, record_success};
pub use results::{combo_of, compare, equity, equity_chart, finished, trades, visible, Comparison, EquityPoint, TradeRow};
pub use runs::{Outcome, Run};
pub use submit::{check_market, submit, BacktestRequest};
