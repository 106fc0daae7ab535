//! Query: the one builder of the platform's DataFusion sessions — the lake's tables registered (at
//! their latest versions or pinned ones, for time travel), every technical indicator of the
//! strategy-graph spec as a TA-Lib-exact window function, the market spelling functions, and the
//! planner settings every session shares.
//!
//! ```no_run
//! # async fn demo() -> query::Result<()> {
//! let lake = lake::Lake::new(lake::LakeConfig::new("./data/lake"))?;
//! let ctx = query::session(&lake).await?;
//! let batches = query::sql(&ctx, "SELECT open_time, ema(close, 12) OVER w AS ema12 FROM candles \
//!     WHERE symbol = canonical_symbol('btc/usdt') \
//!     WINDOW w AS (PARTITION BY exchange, symbol, timeframe ORDER BY open_time)").await?;
//! // the candles as they were at version 3, and nothing else
//! let pinned = query::session_with(&lake, &query::Tables::none().at(lake::LakeTable::Candles, 3)).await?;
//! # Ok(()) }
//! ```

mod error;
pub mod functions;
pub mod indicators;

use arrow::record_batch::RecordBatch;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use lake::{Lake, LakeTable};

pub use error::{Error, Result};

/// Which lake tables a session registers, each at its latest version or at a pinned one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables(Vec<(LakeTable, Option<u64>)>);

impl Tables {
    /// Every lake table at its latest version.
    pub fn all() -> Tables {
        Tables(LakeTable::ALL.iter().map(|t| (*t, None)).collect())
    }

    /// No table (add some with [`Tables::latest`] and [`Tables::at`]).
    pub fn none() -> Tables {
        Tables::default()
    }

    /// `table` at its latest version.
    pub fn latest(self, table: LakeTable) -> Tables {
        self.with(table, None)
    }

    /// `table` as it was at `version` (Delta time travel); an error at registration if there is no such version.
    pub fn at(self, table: LakeTable, version: u64) -> Tables {
        self.with(table, Some(version))
    }

    fn with(mut self, table: LakeTable, version: Option<u64>) -> Tables {
        self.0.retain(|(t, _)| *t != table);
        self.0.push((table, version));
        self
    }
}

/// The planner settings every session of the platform shares.
pub fn config() -> SessionConfig {
    SessionConfig::new().with_information_schema(true)
}

/// A state builder with the platform's settings and DataFusion's default features, for a session
/// that needs more of its own (the SQL endpoint adds its catalog name and limits); finish it with
/// [`context_from`].
pub fn state_builder(config: SessionConfig) -> SessionStateBuilder {
    SessionStateBuilder::new().with_config(config).with_default_features()
}

/// A context over `state` with every platform function registered (no tables).
pub fn context_from(state: SessionState) -> SessionContext {
    let ctx = SessionContext::new_with_state(state);
    functions::register_all(&ctx);
    ctx
}

/// A context with the platform's settings and functions and no tables, for data of the caller's own.
pub fn context() -> SessionContext {
    context_from(state_builder(config()).build())
}

/// A session with `tables` of the lake registered under their names (a table not created yet
/// appears empty, with its schema, unless pinned to a version) and every platform function.
pub async fn session_with(lake: &Lake, tables: &Tables) -> Result<SessionContext> {
    let ctx = context();
    for (table, version) in &tables.0 {
        lake.register_as(&ctx, *table, table.name(), *version).await?;
    }
    Ok(ctx)
}

/// A session with every lake table at its latest version and every platform function.
pub async fn session(lake: &Lake) -> Result<SessionContext> {
    session_with(lake, &Tables::all()).await
}

/// Registers the platform's SQL functions (indicators, crossovers, market spellings) in `ctx`.
pub fn register_functions(ctx: &SessionContext) {
    functions::register_all(ctx);
}

/// Runs one SQL statement and collects its result.
pub async fn sql(ctx: &SessionContext, text: &str) -> Result<Vec<RecordBatch>> {
    Ok(ctx.sql(text).await?.collect().await?)
}
