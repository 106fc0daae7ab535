//! The lake's error type.

/// Everything that can go wrong between the platform and its Delta tables.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lake URI has a scheme we cannot store tables on.
    #[error("unsupported lake URI scheme '{scheme}' in '{uri}': use a local folder, file:// or s3://")]
    UnsupportedScheme { scheme: String, uri: String },
    /// The lake URI could not be parsed at all.
    #[error("invalid lake URI '{uri}': {reason}")]
    InvalidUri { uri: String, reason: String },
    /// A timeframe string such as `1m` or `4h` could not be understood.
    #[error("invalid timeframe '{0}': expected a number followed by m, h, d or w (e.g. 1m, 5m, 1h, 1d)")]
    InvalidTimeframe(String),
    /// An exchange or symbol that cannot name a market.
    #[error("invalid {field} '{value}': {reason}")]
    InvalidMarket { field: &'static str, value: String, reason: String },
    /// A table name that the lake does not define.
    #[error("unknown lake table '{0}' (known: candles, trades_raw, quarantine, backtest_metrics, backtest_trades, backtest_equity)")]
    UnknownTable(String),
    /// Input batches do not have the table's schema.
    #[error("batch does not match the schema of table '{table}': {reason}")]
    SchemaMismatch { table: String, reason: String },
    /// The table does not exist yet where an existing one is required (e.g. time travel).
    #[error("table '{0}' does not exist in the lake yet")]
    TableNotFound(String),
    /// The lake's object store refused or could not be reached: a missing bucket, refused
    /// credentials, an unreachable endpoint (said in words, naming the lake).
    #[error("lake {uri}: {reason}")]
    Storage { uri: String, reason: String },
    #[error(transparent)]
    Delta(#[from] deltalake::DeltaTableError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The lake's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
