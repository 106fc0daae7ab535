//! Pipelines: the strategy graph model, its compiler to DataFusion plans, the backtest runner,
//! sweeps and metrics. Not built yet: the backtest-engine issue fills this crate.
