//! Query: the DataFusion `SessionContext` the platform runs SQL in, with every lake table
//! registered under its name (tables not created yet appear empty, with their schema).
//!
//! ```no_run
//! # async fn demo() -> query::Result<()> {
//! let lake = lake::Lake::new(lake::LakeConfig::new("./data/lake"))?;
//! let ctx = query::session(&lake).await?;
//! let batches = query::sql(&ctx, "SELECT count(*) FROM candles").await?;
//! # Ok(()) }
//! ```

mod error;

use arrow::record_batch::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};
use lake::{Lake, LakeTable};

pub use error::{Error, Result};

/// A session with the lake's tables registered at their latest versions.
pub async fn session(lake: &Lake) -> Result<SessionContext> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    for table in LakeTable::ALL {
        lake.register(&ctx, table).await?;
    }
    Ok(ctx)
}

/// Runs one SQL statement and collects its result.
pub async fn sql(ctx: &SessionContext, text: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(text).await?.collect().await?)
}
