//! `JobError`: why a job's attempt stopped without an outcome of its own.

/// Why a job's work stopped without an outcome of its own.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Will fail again on retry (bad graph, no candles, ...): dead-lettered at once.
    #[error("{0}")]
    Permanent(String),
    /// May pass on retry (storage, I/O, ...).
    #[error("{0}")]
    Transient(String),
    /// May pass on retry, after this long (a webhook's backoff or its `Retry-After`).
    #[error("{0}")]
    RetryAfter(String, std::time::Duration),
    /// The lease was lost (another worker took the job over): nothing is recorded.
    #[error("the lease was lost")]
    LeaseLost,
}

impl From<pipelines::Error> for JobError {
    /// Errors of the inputs are permanent; the lake's and the engine's may pass on retry.
    fn from(e: pipelines::Error) -> Self {
        use pipelines::Error as E;
        if matches!(e, E::Graph(_) | E::NoCandles(_) | E::Invalid(_) | E::InvalidField { .. }) {
            JobError::Permanent(e.to_string())
        } else {
            JobError::Transient(e.to_string())
        }
    }
}
