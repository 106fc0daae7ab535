//! Pipelines: the strategy graph model and validator (spec/strategy-graph.md); the compiler to
//! DataFusion plans, the backtest runner, sweeps and metrics grow here next.
//!
//! ```
//! let graph = serde_json::json!({"version": 1, "nodes": [], "edges": []});
//! let issues = pipelines::graph::validate(&graph).unwrap_err();
//! assert_eq!(issues[0].code, "no_entry");
//! ```

pub mod graph;
