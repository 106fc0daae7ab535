//! Backtest throughput: one SMA-crossover backtest over ~1M bars (bars/s) and parameter sweeps of
//! 200 and 1,000 combinations over the longest 1m file of ../shared/data (combination·bars/s).
//! Run with `cargo bench --workspace` (or scripts/bench.sh).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::Float64Type;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use pipelines::backtest::{run_backtest, BacktestParams, ParamValues};

const STRATEGY: &str = r#"{"version": 1, "nodes": [
  {"id": "px", "type": "price", "params": {"field": "close"}},
  {"id": "fast", "type": "indicator", "params": {"name": "sma", "period": {"$param": "fast", "default": 10}}},
  {"id": "slow", "type": "indicator", "params": {"name": "sma", "period": {"$param": "slow", "default": 30}}},
  {"id": "up", "type": "compare", "params": {"op": "crosses_above"}},
  {"id": "down", "type": "compare", "params": {"op": "crosses_below"}},
  {"id": "buy", "type": "entry", "params": {"side": "long"}},
  {"id": "sell", "type": "exit", "params": {"side": "long"}}],
 "edges": [{"from": "px", "to": "fast", "port": "source"}, {"from": "px", "to": "slow", "port": "source"},
  {"from": "fast", "to": "up", "port": "left"}, {"from": "slow", "to": "up", "port": "right"},
  {"from": "fast", "to": "down", "port": "left"}, {"from": "slow", "to": "down", "port": "right"},
  {"from": "up", "to": "buy", "port": "when"}, {"from": "down", "to": "sell", "port": "when"}]}"#;

/// A session whose `candles` hold the file's 1m candles repeated `copies` times (times continue).
fn session(copies: usize) -> (SessionContext, usize) {
    let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())).join("../../shared/data/filimonov-freqtrade/BTC_USDT-1m.feather");
    let reader = arrow::ipc::reader::FileReader::try_new(std::fs::File::open(path).expect("data"), None).expect("feather");
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 5];
    for b in reader {
        let b = b.expect("batch");
        for (i, name) in ["open", "high", "low", "close", "volume"].iter().enumerate() {
            cols[i].extend(b.column_by_name(name).expect("column").as_primitive::<Float64Type>().values().iter());
        }
    }
    let base = cols[0].len();
    let n = base * copies;
    let tiled = |c: &Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from_iter_values(c.iter().copied().cycle().take(n))) };
    let s = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
    let t: ArrayRef = Arc::new(TimestampMicrosecondArray::from_iter_values((0..n as i64).map(|i| (1_747_699_200_000 + i * 60_000) * 1_000)).with_timezone("UTC"));
    let batch = RecordBatch::try_new(
        lake::LakeTable::Candles.schema(),
        vec![
            s("binance"), s("BTCUSDT"), s("1m"), t,
            tiled(&cols[0]), tiled(&cols[1]), tiled(&cols[2]), tiled(&cols[3]), tiled(&cols[4]),
            Arc::new(Int64Array::from(vec![None; n])), Arc::new(Float64Array::from(vec![None; n])),
        ],
    )
    .expect("batch");
    let ctx = query::context();
    ctx.register_table("candles", Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).expect("table"))).expect("register");
    (ctx, n)
}

fn params(values: ParamValues) -> BacktestParams {
    let mut p: BacktestParams = serde_json::from_value(serde_json::json!({"exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1m"})).expect("params");
    p.params = values;
    p
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let graph = pipelines::graph::validate(&serde_json::from_str(STRATEGY).expect("json")).expect("valid");

    let (ctx, n) = session(8);
    let p = params(ParamValues::default());
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let out = rt.block_on(run_backtest(&ctx, &graph, &p, false)).expect("backtest");
        best = best.min(started.elapsed().as_secs_f64());
        assert_eq!(out.run.bars, n);
    }
    println!("single SMA(10)×SMA(30) backtest, {n} bars: {:.1} ms, {:.0} bars/s", best * 1e3, n as f64 / best);

    let (ctx, n) = session(1);
    for (label, fast, slow) in [
        ("200", (2..=21).map(|v| v as f64).collect::<Vec<_>>(), (1..=10).map(|v| 20.0 + 10.0 * v as f64).collect::<Vec<_>>()),
        ("1,000", (2..=26).map(|v| v as f64).collect(), (1..=40).map(|v| 25.0 + 5.0 * v as f64).collect()),
    ] {
        let p = params(ParamValues::grid(&[("fast".into(), fast), ("slow".into(), slow)]));
        let combos = p.params.combinations().len();
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            let out = rt.block_on(run_backtest(&ctx, &graph, &p, false)).expect("sweep");
            best = best.min(started.elapsed().as_secs_f64());
            assert_eq!(out.run.combos.len(), combos);
        }
        let work = (combos * n) as f64;
        println!("sweep of {label} combinations over {n} bars: {:.3} s, {:.0} combination·bars/s", best, work / best);
    }
}
