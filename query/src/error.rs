//! The query error type.

/// Errors from planning or running SQL over the lake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Lake(#[from] lake::Error),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
}

/// The query result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
