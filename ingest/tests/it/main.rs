//! Ingest integration tests: real exchange files from ../shared/data into real Delta tables on disk.

mod corrupt;
mod formats;
mod exactly_once;
mod python_reader;
mod quarantine;
mod resample;

use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use ingest::{ingest_file, IngestOptions, IngestReport};
use lake::{Lake, LakeConfig, LakeTable};

/// A file of ../shared/data.
pub fn shared(rel: &str) -> PathBuf {
    crate::crate_dir().join("../../shared/data").join(rel)
}

/// A file carried by this crate's tests.
pub fn local(rel: &str) -> PathBuf {
    crate::crate_dir().join("tests/data").join(rel)
}

/// A fresh lake in a temporary folder (kept alive by the returned guard).
pub fn temp_lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().join("lake").to_string_lossy().into_owned())).unwrap();
    (dir, lake)
}

pub async fn ingest(lake: &Lake, path: &Path) -> IngestReport {
    ingest_with(lake, path, IngestOptions::default()).await
}

pub async fn ingest_with(lake: &Lake, path: &Path, opts: IngestOptions) -> IngestReport {
    ingest_file(lake, path, &opts, &|_| {}).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs SQL over the lake's tables.
pub async fn sql(lake: &Lake, q: &str) -> Vec<RecordBatch> {
    let ctx = SessionContext::new();
    for t in LakeTable::ALL {
        lake.register(&ctx, t).await.unwrap();
    }
    ctx.sql(q).await.unwrap().collect().await.unwrap()
}

/// The single i64 a `SELECT count(*) ...` returns.
pub async fn count(lake: &Lake, q: &str) -> i64 {
    let b = sql(lake, q).await;
    b[0].column(0).as_primitive::<Int64Type>().value(0)
}

/// Candles in the lake for one market.
pub async fn candles(lake: &Lake, symbol: &str, timeframe: &str) -> i64 {
    count(lake, &format!("SELECT count(*) FROM candles WHERE symbol = '{symbol}' AND timeframe = '{timeframe}'")).await
}

/// A column as strings, whatever string type the scan produced (Utf8, Utf8View, dictionary).
pub fn strings(batch: &RecordBatch, col: usize) -> Vec<String> {
    let a = arrow::compute::cast(batch.column(col), &arrow::datatypes::DataType::Utf8).unwrap();
    a.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()).collect()
}

/// This crate's folder, read at run time (cargo and nextest set it), so that a test binary built
/// from another clone sharing the target folder still finds `../shared` beside this checkout.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
}
