//! The ingest error type: every variant names the file and, where known, the position.

use std::path::PathBuf;

/// Why a file could not be ingested. Nothing is written when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be parsed; `position` says where (line/column, row, byte, record batch).
    #[error("{}: cannot parse at {position}: {message}", file.display())]
    Parse { file: PathBuf, position: String, message: String },
    /// The file's format could not be recognised, or is not one we ingest.
    #[error("{}: {message}", file.display())]
    Format { file: PathBuf, message: String },
    /// Something that must be given (symbol, timeframe, column mapping) could not be inferred.
    #[error("{}: {message}", file.display())]
    Missing { file: PathBuf, message: String },
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("invalid argument: {0}")]
    Argument(String),
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

impl Error {
    pub(crate) fn parse(file: &std::path::Path, position: impl Into<String>, message: impl ToString) -> Self {
        Error::Parse { file: file.to_path_buf(), position: position.into(), message: message.to_string() }
    }
    pub(crate) fn format(file: &std::path::Path, message: impl Into<String>) -> Self {
        Error::Format { file: file.to_path_buf(), message: message.into() }
    }
}

/// The ingest result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
