//! Pipelines: the strategy graph model and validator (spec/strategy-graph.md), its compiler to a
//! DataFusion plan, the fill simulator and metrics (spec/backtest-semantics.md), sweeps, and paper
//! trading's engine (the same strategy stepped bar by bar).
//!
//! ```
//! let graph = serde_json::json!({"version": 1, "nodes": [], "edges": []});
//! let issues = pipelines::graph::validate(&graph).unwrap_err();
//! assert_eq!(issues[0].code, "no_entry");
//! ```

pub mod backtest;
mod error;
pub mod graph;
pub mod paper;

pub use error::{Error, Result};
