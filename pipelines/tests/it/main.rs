//! Pipelines integration tests.

mod graph;
