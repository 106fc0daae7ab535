//! End-to-end tests of the `bb` binary: real processes, real files, a lake in a temporary folder.

mod backtest;
mod cli;
mod http;
mod jobs;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data").join(rel)
}

pub fn fixtures(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/backtests").join(rel)
}

/// Runs `bb ARGS` with its data dir in `dir`.
pub fn bb(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bb"))
        .args(args)
        .current_dir(dir)
        .env("BB_DATA_DIR", dir.join("data"))
        .env_remove("BB_LAKE_URI")
        .output()
        .expect("bb runs")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
