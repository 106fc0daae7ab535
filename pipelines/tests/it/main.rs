//! Pipelines integration tests.

mod fixtures;
mod graph;
