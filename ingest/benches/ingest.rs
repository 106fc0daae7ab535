//! Ingest throughput on the largest 1m file of ../shared/data, in rows per second.
//! Run with `cargo bench -p ingest` (or scripts/bench.sh).

use std::path::Path;
use std::time::Instant;

use ingest::{ingest_file, readers, ColumnMap, IngestOptions, Rows};

fn main() {
    let file = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())).join("../../shared/data/filimonov-freqtrade/BTC_USDT-1m.feather");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let runs = 5;

    let started = Instant::now();
    let mut rows = 0;
    for _ in 0..runs {
        let (_, r) = readers::read(&file, None, &ColumnMap::default()).expect("read");
        rows = match r {
            Rows::Candles(c) => c.len(),
            Rows::Trades(t) => t.len(),
        };
    }
    let secs = started.elapsed().as_secs_f64() / runs as f64;
    println!("read+parse   {rows} rows: {:>8.1} ms  {:>12.0} rows/s", secs * 1e3, rows as f64 / secs);

    let mut best = f64::MAX;
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().to_string_lossy().into_owned())).expect("lake");
        let started = Instant::now();
        rt.block_on(ingest_file(&lake, &file, &IngestOptions::default(), &|_| {})).expect("ingest");
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!("full ingest  {rows} rows: {:>8.1} ms  {:>12.0} rows/s (fresh lake, best of {runs})", best * 1e3, rows as f64 / best);

    let dir = tempfile::tempdir().expect("tempdir");
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().to_string_lossy().into_owned())).expect("lake");
    rt.block_on(ingest_file(&lake, &file, &IngestOptions::default(), &|_| {})).expect("ingest");
    let started = Instant::now();
    rt.block_on(ingest_file(&lake, &file, &IngestOptions::default(), &|_| {})).expect("re-ingest");
    let secs = started.elapsed().as_secs_f64();
    println!("re-ingest    {rows} rows: {:>8.1} ms  {:>12.0} rows/s (all rows already present)", secs * 1e3, rows as f64 / secs);
}
