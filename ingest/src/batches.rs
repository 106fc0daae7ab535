//! Building the Arrow batches written to the lake's candles, trades_raw and quarantine tables.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use lake::{LakeTable, Market};

use crate::error::Result;
use crate::record::{RawCandle, RawTrade};
use crate::validate::Rejected;

fn utc(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
}

fn repeat(value: &str, n: usize) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, n)))
}

/// Candles of one market as a batch of the `candles` schema.
pub fn candles(market: &Market, rows: &[RawCandle]) -> Result<RecordBatch> {
    let n = rows.len();
    let f = |g: fn(&RawCandle) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(rows.iter().map(g))) };
    let columns: Vec<ArrayRef> = vec![
        repeat(market.exchange(), n),
        repeat(market.symbol(), n),
        repeat(&market.timeframe().to_string(), n),
        utc(rows.iter().map(|c| c.open_time_us).collect()),
        f(|c| c.open),
        f(|c| c.high),
        f(|c| c.low),
        f(|c| c.close),
        f(|c| c.volume),
        Arc::new(Int64Array::from_iter(rows.iter().map(|c| c.trade_count))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|c| c.quote_volume))),
    ];
    Ok(RecordBatch::try_new(LakeTable::Candles.schema(), columns)?)
}

/// Trades of one market as a batch of the `trades_raw` schema. Trades without an id get a stable
/// one from their time and their order within that time, so re-ingesting the file matches them.
pub fn trades(exchange: &str, symbol: &str, source_file: &str, rows: &[RawTrade]) -> Result<RecordBatch> {
    let n = rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut same_time = 0usize;
    for (i, t) in rows.iter().enumerate() {
        same_time = if i > 0 && rows[i - 1].time_us == t.time_us { same_time + 1 } else { 0 };
        ids.push(t.id.clone().unwrap_or_else(|| format!("t{}-{same_time}", t.time_us)));
    }
    let columns: Vec<ArrayRef> = vec![
        repeat(exchange, n),
        repeat(symbol, n),
        utc(rows.iter().map(|t| t.time_us).collect()),
        Arc::new(StringArray::from(ids)),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|t| t.price))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|t| t.qty))),
        Arc::new(StringArray::from_iter(rows.iter().map(|t| t.side.as_deref()))),
        repeat(source_file, n),
    ];
    Ok(RecordBatch::try_new(LakeTable::TradesRaw.schema(), columns)?)
}

/// Refused rows as a batch of the `quarantine` schema.
pub fn quarantine(source_file: &str, market: Option<&Market>, rows: &[Rejected], ingested_at_us: i64) -> Result<RecordBatch> {
    let n = rows.len();
    let opt = |v: Option<String>| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
    let columns: Vec<ArrayRef> = vec![
        repeat(source_file, n),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.row as i64))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.raw.as_str()))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.reason.as_str()))),
        utc(vec![ingested_at_us; n]),
        opt(market.map(|m| m.exchange().to_string())),
        opt(market.map(|m| m.symbol().to_string())),
        opt(market.map(|m| m.timeframe().to_string())),
    ];
    Ok(RecordBatch::try_new(LakeTable::Quarantine.schema(), columns)?)
}
