//! Every indicator over ~1M real 1m candles, in rows per second: through SQL (window function)
//! over a table in arbitrary order (DataFusion sorts it first, as for a lake table) and over a
//! table declared sorted by time (the window alone), over that table split into 1,000 window
//! partitions (`PARTITION BY t % 1000`, about 1,046 rows each: DataFusion repartitions and sorts,
//! and every partition warms up its own state machine), and as the bare state machine over the same
//! arrays (the batch path the window function uses). Run with `cargo bench --workspace` (or scripts/bench.sh),
//! which then times TA-Lib's C implementation over the same candles.
//!
//! `BB_BENCH_ONLY=willr,atr` limits the run to those indicators; `BB_BENCH_EXPLAIN='EXPLAIN
//! ANALYZE SELECT …'` runs one statement over the same tables (`candles`, `sorted`) and prints its
//! result instead (for profiling a plan).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{col, SessionConfig, SessionContext};

const COPIES: usize = 8;

/// open, high, low, close, volume of the file, tiled `COPIES` times.
fn load() -> [Vec<f64>; 5] {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())).join("../../shared/data/filimonov-freqtrade/BTC_USDT-1m.feather");
    let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(path).expect("data file"), None).expect("feather");
    let (mut o, mut h, mut l, mut c, mut v) = (vec![], vec![], vec![], vec![], vec![]);
    for b in reader {
        let b = b.expect("batch");
        let col = |n: &str| b.column_by_name(n).expect("column").as_primitive::<Float64Type>().values().to_vec();
        o.extend(col("open"));
        h.extend(col("high"));
        l.extend(col("low"));
        c.extend(col("close"));
        v.extend(col("volume"));
    }
    let tile = |x: Vec<f64>| x.iter().copied().cycle().take(x.len() * COPIES).collect::<Vec<f64>>();
    [tile(o), tile(h), tile(l), tile(c), tile(v)]
}

fn main() {
    let [open, high, low, close, volume] = load();
    let n = close.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("t", DataType::Int64, false),
        Field::new("open", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("close", DataType::Float64, false),
        Field::new("volume", DataType::Float64, false),
    ]));
    let f = |x: &Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(x.clone())) };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(Int64Array::from_iter_values(0..n as i64)), f(&open), f(&high), f(&low), f(&close), f(&volume)],
    )
    .expect("batch");
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(65_536));
    query::register_functions(&ctx);
    ctx.register_table("candles", Arc::new(MemTable::try_new(schema.clone(), vec![vec![batch.clone()]]).expect("table"))).expect("register");
    let sorted = MemTable::try_new(schema, vec![vec![batch]]).expect("table").with_sort_order(vec![vec![col("t").sort(true, false)]]);
    ctx.register_table("sorted", Arc::new(sorted)).expect("register");
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    println!("{n} rows (filimonov BTC_USDT-1m × {COPIES}), default parameters");
    if let Ok(sql) = std::env::var("BB_BENCH_EXPLAIN") {
        let out = rt.block_on(async { ctx.sql(&sql).await.expect("plan").collect().await.expect("run") });
        println!("{}", arrow::util::pretty::pretty_format_batches(&out).expect("format"));
        return;
    }
    println!(
        "{:<12} {:>9} {:>13} {:>9} {:>13} {:>9} {:>13} {:>9} {:>13}",
        "indicator", "sql ms", "sql rows/s", "sorted ms", "sorted rows/s", "1k-part ms", "1k-part rows/s", "bare ms", "bare rows/s"
    );
    // BB_BENCH_ONLY=willr,atr limits the run to those indicators (for profiling)
    let only: Option<Vec<String>> = std::env::var("BB_BENCH_ONLY").ok().map(|v| v.split(',').map(str::to_string).collect());
    for spec in query::indicators::specs().iter().filter(|s| only.as_ref().is_none_or(|o| o.iter().any(|n| n == s.name))) {
        let args: Vec<&str> = spec.inputs.iter().map(|i| if *i == "source" { "close" } else { i }).collect();
        let time_sql = |table: &str, partition: &str| {
            let sql = format!("SELECT {}({}) OVER ({partition} ORDER BY t) FROM {table}", spec.name, args.join(", "));
            let mut best = f64::MAX;
            for _ in 0..3 {
                let started = Instant::now();
                let out = rt.block_on(async { ctx.sql(&sql).await.expect("plan").collect().await.expect("run") });
                best = best.min(started.elapsed().as_secs_f64());
                assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), n);
            }
            best
        };
        let (best_sql, best_sorted) = (time_sql("candles", ""), time_sql("sorted", ""));
        // the way users query the lake: many series at once, one window partition per series
        let best_partitioned = time_sql("sorted", "PARTITION BY t % 1000");
        let columns: Vec<&Vec<f64>> = spec
            .inputs
            .iter()
            .map(|i| match *i {
                "source" | "close" => &close,
                "high" => &high,
                "low" => &low,
                "volume" => &volume,
                other => panic!("input {other}"),
            })
            .collect();
        let mut best_bare = f64::MAX;
        let slices: Vec<&[f64]> = columns.iter().map(|c| c.as_slice()).collect();
        // best of 9: a run takes a few milliseconds, so the best filters out scheduler noise
        for _ in 0..9 {
            let mut state = query::indicators::build(spec.name, &[]).expect("defaults");
            let (mut out, mut valid) = (Vec::with_capacity(n), Vec::with_capacity(n));
            let started = Instant::now();
            state.update_batch(&slices, &mut out, &mut valid);
            best_bare = best_bare.min(started.elapsed().as_secs_f64());
            std::hint::black_box((&out, &valid));
        }
        println!(
            "{:<12} {:>9.1} {:>13.0} {:>9.1} {:>13.0} {:>9.1} {:>13.0} {:>9.1} {:>13.0}",
            spec.name,
            best_sql * 1e3,
            n as f64 / best_sql,
            best_sorted * 1e3,
            n as f64 / best_sorted,
            best_partitioned * 1e3,
            n as f64 / best_partitioned,
            best_bare * 1e3,
            n as f64 / best_bare
        );
    }
    let _ = open;
}
