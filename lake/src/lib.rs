//! The lake: where Blockbuilders' tables live (a local folder by default, or S3), their fixed
//! Arrow schemas, and the Delta operations the rest of the platform needs — append, merge on the
//! natural key, DataFusion providers (also at an older version), compaction and vacuum.
//!
//! ```no_run
//! # async fn demo() -> lake::Result<()> {
//! use lake::{Lake, LakeConfig, LakeTable};
//! let lake = Lake::new(LakeConfig::new("./data/lake"))?;
//! let ctx = datafusion::prelude::SessionContext::new();
//! lake.register(&ctx, LakeTable::Candles).await?;
//! ctx.sql("SELECT symbol, count(*) FROM candles GROUP BY symbol").await?.show().await?;
//! # Ok(()) }
//! ```

mod append;
mod config;
mod error;
mod lake;
mod live;
mod maintenance;
mod market;
mod merge;
mod schema;
mod timeframe;

pub use config::{LakeConfig, LakeRoot};
pub use error::{Error, Result};
pub use lake::{get_file, put_files, Lake, TableInfo, VersionWatch};
pub use live::LiveTable;
pub use maintenance::CompactOutcome;
pub use market::{canonical_exchange, canonical_symbol, Market, Span, DEFAULT_EXCHANGE};
pub use merge::MergeOutcome;
pub use schema::{timestamp_type, utf8, Column, Kind, LakeTable};
pub use timeframe::Timeframe;
