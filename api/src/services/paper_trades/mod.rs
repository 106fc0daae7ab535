//! Paper trading: a strategy version trading every new candle of its market exactly as its
//! backtest would (the same stepper and simulator, `pipelines::paper`), with alerts, a quota of
//! active runs, and its fills and equity in Postgres and, flushed, in the lake.

pub mod alerts;
pub mod flush;
pub mod manage;
pub mod runs;
pub mod series;
pub mod tick;

pub use flush::{flush, Flushed};
pub use manage::{create, param_values, set_status, visible, NewPaperRun, WARMUP_BARS};
pub use runs::{AlertConfig, PaperRun, PerformanceSnapshot, PositionView, Schedule};
pub use series::{FillRow, PaperEquityPoint};
pub use tick::{announce, scan, stop, tick, RunnerCache, ScanOutcome, TickOutcome};
