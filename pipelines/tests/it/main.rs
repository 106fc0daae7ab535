//! Pipelines integration tests.

mod fixtures;
mod graph;
mod step;
mod store;

use std::path::PathBuf;

/// This crate's folder, read at run time (cargo and nextest set it), so that a test binary built
/// from another clone sharing the target folder still finds `../shared` beside this checkout.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
}
