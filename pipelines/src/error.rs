//! The pipelines error type.

/// Errors of compiling and running backtests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The graph breaks the spec; every issue is listed.
    #[error("invalid strategy graph: {}", .0.iter().map(|i| i.message.clone()).collect::<Vec<_>>().join("; "))]
    Graph(Vec<crate::graph::Issue>),
    /// The market has no candles in the range.
    #[error("{0}")]
    NoCandles(String),
    /// Inputs that make no sense (bad params file, unknown timeframe, ...).
    #[error("{0}")]
    Invalid(String),
    /// One input breaks its rule; `field` names it as params.json spells it (`fee_rate`, `params`).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Query(#[from] query::Error),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The pipelines result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
