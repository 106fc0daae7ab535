//! Lake integration tests: the public API on a temporary folder, as the rest of the platform
//! calls it — append, merge on the natural key, the live provider, time travel, compaction,
//! vacuum and `info`.

mod append;
mod info;
mod live;
mod maintenance;
mod merge;
mod time_travel;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::prelude::SessionContext;
use lake::{Lake, LakeConfig, LakeTable};

/// 2025-01-01T00:00:00Z in microseconds: the first candle's open time.
pub const T0: i64 = 1_735_689_600_000_000;
/// One minute in microseconds.
pub const MINUTE: i64 = 60_000_000;

/// One row of the candles table, as plain values.
#[derive(Debug, Clone, PartialEq)]
pub struct Candle {
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub trade_count: Option<i64>,
    pub quote_volume: Option<f64>,
}

/// A 1m binance candle of `symbol` opening `minute` minutes after `T0` and closing at `close`
/// (odd minutes have no quote volume, so NULLs are written and read too).
pub fn candle(symbol: &str, minute: i64, close: f64) -> Candle {
    Candle {
        exchange: "binance".into(),
        symbol: symbol.into(),
        timeframe: "1m".into(),
        open_time: T0 + minute * MINUTE,
        open: close - 1.0,
        high: close + 2.0,
        low: close - 2.0,
        close,
        volume: 10.0 + minute as f64,
        trade_count: Some(100 + minute),
        quote_volume: (minute % 2 == 0).then_some(close * 10.0),
    }
}

/// `candle` for each of `minutes`, closing at `100 + minute`.
pub fn candles(symbol: &str, minutes: std::ops::Range<i64>) -> Vec<Candle> {
    minutes.map(|m| candle(symbol, m, 100.0 + m as f64)).collect()
}

/// The candles as one batch of the table's schema.
pub fn batch(rows: &[Candle]) -> RecordBatch {
    let s = |f: fn(&Candle) -> &str| -> ArrayRef { Arc::new(StringArray::from_iter_values(rows.iter().map(f))) };
    let x = |f: fn(&Candle) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(rows.iter().map(f))) };
    RecordBatch::try_new(
        LakeTable::Candles.schema(),
        vec![
            s(|c| &c.exchange),
            s(|c| &c.symbol),
            s(|c| &c.timeframe),
            Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|c| c.open_time)).with_timezone("UTC")),
            x(|c| c.open),
            x(|c| c.high),
            x(|c| c.low),
            x(|c| c.close),
            x(|c| c.volume),
            Arc::new(Int64Array::from(rows.iter().map(|c| c.trade_count).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(rows.iter().map(|c| c.quote_volume).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

/// A lake in a fresh temporary folder (the folder lives as long as the returned guard).
pub fn temp_lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::new(LakeConfig::new(dir.path().to_string_lossy().into_owned())).unwrap();
    (dir, lake)
}

/// Runs `sql` and returns its batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

/// The single integer `sql` returns (e.g. a `count(*)`).
pub async fn scalar(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = query(ctx, sql).await;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1, "{sql} returned {rows} rows");
    let b = batches.iter().find(|b| b.num_rows() == 1).unwrap();
    let v = arrow::compute::cast(b.column(0), &DataType::Int64).unwrap();
    v.as_primitive::<Int64Type>().value(0)
}

/// Every row of the candles registered as `name`, ordered by market and time.
pub async fn read_candles(ctx: &SessionContext, name: &str) -> Vec<Candle> {
    let sql = format!(
        "SELECT exchange, symbol, timeframe, open_time, open, high, low, close, volume, trade_count, quote_volume \
         FROM {name} ORDER BY exchange, symbol, timeframe, open_time"
    );
    let mut out = Vec::new();
    for b in query(ctx, &sql).await {
        let text = |i: usize| {
            let a = arrow::compute::cast(b.column(i), &DataType::Utf8).unwrap();
            a.as_string::<i32>().iter().map(|v| v.unwrap().to_string()).collect::<Vec<_>>()
        };
        let float = |i: usize| {
            let a = arrow::compute::cast(b.column(i), &DataType::Float64).unwrap();
            let a = a.as_primitive::<Float64Type>();
            (0..a.len()).map(|r| a.is_valid(r).then(|| a.value(r))).collect::<Vec<_>>()
        };
        let int = |i: usize| {
            let a = arrow::compute::cast(b.column(i), &DataType::Int64).unwrap();
            let a = a.as_primitive::<Int64Type>();
            (0..a.len()).map(|r| a.is_valid(r).then(|| a.value(r))).collect::<Vec<_>>()
        };
        let (exchange, symbol, timeframe, open_time) = (text(0), text(1), text(2), int(3));
        let (open, high, low, close, volume, trade_count, quote_volume) = (float(4), float(5), float(6), float(7), float(8), int(9), float(10));
        for r in 0..b.num_rows() {
            out.push(Candle {
                exchange: exchange[r].clone(),
                symbol: symbol[r].clone(),
                timeframe: timeframe[r].clone(),
                open_time: open_time[r].unwrap(),
                open: open[r].unwrap(),
                high: high[r].unwrap(),
                low: low[r].unwrap(),
                close: close[r].unwrap(),
                volume: volume[r].unwrap(),
                trade_count: trade_count[r],
                quote_volume: quote_volume[r],
            });
        }
    }
    out
}

/// `rows` in the order `read_candles` returns them.
pub fn sorted(mut rows: Vec<Candle>) -> Vec<Candle> {
    rows.sort_by(|a, b| (&a.exchange, &a.symbol, &a.timeframe, a.open_time).cmp(&(&b.exchange, &b.symbol, &b.timeframe, b.open_time)));
    rows
}

/// The Parquet data files under `dir` (recursively), by path.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "_delta_log") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
