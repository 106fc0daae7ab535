//! Query: the DataFusion `SessionContext` the platform runs SQL in, with every lake table
//! registered under its name (tables not created yet appear empty, with their schema) and every
//! technical indicator of the strategy-graph spec available as a TA-Lib-exact window function.
//!
//! ```no_run
//! # async fn demo() -> query::Result<()> {
//! let lake = lake::Lake::new(lake::LakeConfig::new("./data/lake"))?;
//! let ctx = query::session(&lake).await?;
//! let batches = query::sql(&ctx, "SELECT open_time, ema(close, 12) OVER w AS ema12 FROM candles \
//!     WINDOW w AS (PARTITION BY exchange, symbol, timeframe ORDER BY open_time)").await?;
//! # Ok(()) }
//! ```

mod error;
pub mod functions;
pub mod indicators;

use arrow::record_batch::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};
use lake::{Lake, LakeTable};

pub use error::{Error, Result};

/// Registers the platform's SQL functions (the indicators) in `ctx`.
pub fn register_functions(ctx: &SessionContext) {
    functions::register_all(ctx);
}

/// A session with the lake's tables registered at their latest versions and every indicator function.
pub async fn session(lake: &Lake) -> Result<SessionContext> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    register_functions(&ctx);
    for table in LakeTable::ALL {
        lake.register(&ctx, table).await?;
    }
    Ok(ctx)
}

/// Runs one SQL statement and collects its result.
pub async fn sql(ctx: &SessionContext, text: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(text).await?.collect().await?)
}
