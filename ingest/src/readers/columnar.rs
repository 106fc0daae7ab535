//! Arrow-typed files: Feather/IPC (freqtrade's `.feather`, LZ4) and Parquet, columns found by name.

use std::io::Cursor;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit};

use crate::error::{Error, Result};
use crate::readers::columns::{is_buyer_maker, layout, parse_side, ColumnMap, Layout};
use crate::readers::time::parse_time;
use crate::record::{epoch_to_us, RawCandle, RawTrade, Rows};

/// Reads an Arrow IPC file (or stream) into rows.
pub fn read_feather(path: &Path, bytes: &[u8], map: &ColumnMap) -> Result<Rows> {
    let mut batches = Vec::new();
    let mut rows = 0usize;
    let bad = |batches: &Vec<RecordBatch>, rows: usize, e: arrow::error::ArrowError| {
        Error::parse(path, format!("record batch {} (after {rows} rows)", batches.len() + 1), e)
    };
    if bytes.starts_with(b"ARROW1") {
        let reader = arrow::ipc::reader::FileReader::try_new(Cursor::new(bytes), None)
            .map_err(|e| Error::parse(path, "file footer", format!("{e} (truncated file?)")))?;
        for b in reader {
            let b = b.map_err(|e| bad(&batches, rows, e))?;
            rows += b.num_rows();
            batches.push(b);
        }
    } else {
        let reader = arrow::ipc::reader::StreamReader::try_new(Cursor::new(bytes), None)
            .map_err(|e| Error::parse(path, "stream header", e))?;
        for b in reader {
            let b = b.map_err(|e| bad(&batches, rows, e))?;
            rows += b.num_rows();
            batches.push(b);
        }
    }
    from_batches(path, &batches, map)
}

/// Reads a Parquet file into rows.
pub fn read_parquet(path: &Path, bytes: Vec<u8>, map: &ColumnMap) -> Result<Rows> {
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| Error::parse(path, "file footer", format!("{e} (truncated file?)")))?;
    let mut batches = Vec::new();
    let mut rows = 0usize;
    for b in builder.build().map_err(|e| Error::parse(path, "file metadata", e))? {
        let b = b.map_err(|e| Error::parse(path, format!("record batch {} (after {rows} rows)", batches.len() + 1), e))?;
        rows += b.num_rows();
        batches.push(b);
    }
    from_batches(path, &batches, map)
}

/// Turns record batches into candle or trade rows, finding columns by name.
pub fn from_batches(path: &Path, batches: &[RecordBatch], map: &ColumnMap) -> Result<Rows> {
    let Some(first) = batches.first() else { return Ok(Rows::Candles(vec![])) };
    let header: Vec<String> = first.schema().fields().iter().map(|f| f.name().clone()).collect();
    let layout = layout(&header, map).map_err(|m| Error::format(path, m))?;
    let mut candles = Vec::new();
    let mut trades = Vec::new();
    let mut offset = 0u64;
    for batch in batches {
        let col = |i: usize| batch.column(i);
        match &layout {
            Layout::Candles { time, open, high, low, close, volume, trade_count, quote_volume } => {
                let t = times(path, col(*time), &header[*time], offset)?;
                let [o, h, l, c, v] = [*open, *high, *low, *close, *volume].map(|i| floats(col(i)));
                let (o, h, l, c, v) = (o?, h?, l?, c?, v?);
                let n = trade_count.map(|i| cast(col(i), &DataType::Int64)).transpose()?;
                let q = quote_volume.map(|i| floats(col(i))).transpose()?;
                for (r, &open_time_us) in t.iter().enumerate() {
                    candles.push(RawCandle {
                        row: offset + r as u64 + 1,
                        open_time_us,
                        open: f(&o, r),
                        high: f(&h, r),
                        low: f(&l, r),
                        close: f(&c, r),
                        volume: f(&v, r),
                        trade_count: n.as_ref().filter(|a| a.is_valid(r)).map(|a| a.as_primitive::<Int64Type>().value(r)),
                        quote_volume: q.as_ref().filter(|a| a.is_valid(r)).map(|a| f(a, r)),
                        line: None,
                    });
                }
            }
            Layout::Trades { time, price, qty, side, id } => {
                let t = times(path, col(*time), &header[*time], offset)?;
                let (p, q) = (floats(col(*price))?, floats(col(*qty))?);
                let s = side.map(|i| cast(col(i), &DataType::Utf8)).transpose()?;
                let maker_flag = side.is_some_and(|i| is_buyer_maker(&header[i]));
                let ids = id.map(|i| cast(col(i), &DataType::Utf8)).transpose()?;
                let text = |a: &Option<ArrayRef>, r: usize| {
                    a.as_ref().filter(|a| a.is_valid(r)).map(|a| a.as_string::<i32>().value(r).to_string())
                };
                for (r, &time_us) in t.iter().enumerate() {
                    trades.push(RawTrade {
                        row: offset + r as u64 + 1,
                        time_us,
                        id: text(&ids, r),
                        price: f(&p, r),
                        qty: f(&q, r),
                        side: text(&s, r).and_then(|v| parse_side(&v, maker_flag)),
                        line: None,
                    });
                }
            }
        }
        offset += batch.num_rows() as u64;
    }
    Ok(match layout {
        Layout::Candles { .. } => Rows::Candles(candles),
        Layout::Trades { .. } => Rows::Trades(trades),
    })
}

fn floats(a: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(a, &DataType::Float64)?)
}

/// The value at `r`, NaN when NULL (validation then quarantines the row as missing a value).
fn f(a: &ArrayRef, r: usize) -> f64 {
    if a.is_valid(r) { a.as_primitive::<Float64Type>().value(r) } else { f64::NAN }
}

/// A time column as epoch microseconds; a NULL time is an error (the row cannot be placed).
fn times(path: &Path, a: &ArrayRef, name: &str, offset: u64) -> Result<Vec<i64>> {
    let null_at = |r: usize| Error::parse(path, format!("row {}, column {name}", offset + r as u64 + 1), "missing time");
    let out = match a.data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let us = cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            let us = cast(&us, &DataType::Int64)?;
            let us = us.as_primitive::<Int64Type>();
            (0..us.len()).map(|r| if us.is_valid(r) { Ok(us.value(r)) } else { Err(null_at(r)) }).collect::<Result<Vec<_>>>()?
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let s = cast(a, &DataType::Utf8)?;
            let s = s.as_string::<i32>();
            (0..s.len())
                .map(|r| {
                    if !s.is_valid(r) {
                        return Err(null_at(r));
                    }
                    parse_time(s.value(r)).ok_or_else(|| {
                        Error::parse(path, format!("row {}, column {name}", offset + r as u64 + 1), format!("'{}' is not a time", s.value(r)))
                    })
                })
                .collect::<Result<Vec<_>>>()?
        }
        _ => {
            let v = cast(a, &DataType::Int64)?;
            let v = v.as_primitive::<Int64Type>();
            (0..v.len()).map(|r| if v.is_valid(r) { Ok(epoch_to_us(v.value(r))) } else { Err(null_at(r)) }).collect::<Result<Vec<_>>>()?
        }
    };
    Ok(out)
}
