//! CSV: Binance klines (12 columns, header optional) and files with a header mapped by column name.

use std::path::Path;

use crate::error::{Error, Result};
use crate::readers::columns::{is_buyer_maker, layout, parse_side, ColumnMap, Layout};
use crate::readers::time::parse_time;
use crate::record::{epoch_to_us, RawCandle, RawTrade, Rows};

const KLINE_COLUMNS: [&str; 12] = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
];

fn reader(bytes: &[u8], has_headers: bool) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new().has_headers(has_headers).flexible(true).trim(csv::Trim::All).from_reader(bytes)
}

fn record_error(path: &Path, e: csv::Error) -> Error {
    let pos = e.position().map(|p| format!("line {}", p.line())).unwrap_or_else(|| "unknown position".into());
    Error::parse(path, pos, e)
}

fn num(path: &Path, line: u64, name: &str, v: &str) -> Result<f64> {
    if v.is_empty() {
        return Ok(f64::NAN);
    }
    v.parse::<f64>().map_err(|_| Error::parse(path, format!("line {line}, column {name}"), format!("'{v}' is not a number")))
}

/// Reads a Binance kline CSV (`open_time, open, high, low, close, volume, close_time, quote_volume, count, ...`).
pub fn read_binance(path: &Path, bytes: &[u8]) -> Result<Rows> {
    let mut rows = Vec::new();
    for rec in reader(bytes, false).records() {
        let rec = rec.map_err(|e| record_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rows.is_empty() && rec.get(0).is_some_and(|f| f.parse::<f64>().is_err()) {
            continue; // header row
        }
        if rec.len() != KLINE_COLUMNS.len() {
            return Err(Error::parse(path, format!("line {line}"), format!("expected 12 kline columns, found {} (truncated file?)", rec.len())));
        }
        let f = |i: usize| num(path, line, KLINE_COLUMNS[i], &rec[i]);
        let open_time: i64 = rec[0]
            .parse()
            .map_err(|_| Error::parse(path, format!("line {line}, column open_time"), format!("'{}' is not an integer epoch", &rec[0])))?;
        let count = &rec[8];
        rows.push(RawCandle {
            row: line,
            open_time_us: epoch_to_us(open_time),
            open: f(1)?,
            high: f(2)?,
            low: f(3)?,
            close: f(4)?,
            volume: f(5)?,
            quote_volume: Some(f(7)?).filter(|v| !v.is_nan()),
            trade_count: if count.is_empty() {
                None
            } else {
                Some(count.parse().map_err(|_| Error::parse(path, format!("line {line}, column count"), format!("'{count}' is not an integer")))?)
            },
            line: Some(rec.iter().collect::<Vec<_>>().join(",").into()),
        });
    }
    Ok(Rows::Candles(rows))
}

/// Reads a CSV with a header row; columns are found by `map` (candles or trades).
pub fn read_mapped(path: &Path, bytes: &[u8], map: &ColumnMap) -> Result<Rows> {
    let mut rdr = reader(bytes, true);
    let header: Vec<String> = rdr.headers().map_err(|e| record_error(path, e))?.iter().map(str::to_string).collect();
    let layout = layout(&header, map).map_err(|m| Error::format(path, m))?;
    let width = header.len();
    let mut candles = Vec::new();
    let mut trades = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| record_error(path, e))?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != width {
            return Err(Error::parse(path, format!("line {line}"), format!("expected {width} columns, found {} (truncated file?)", rec.len())));
        }
        let time = |i: usize| {
            parse_time(&rec[i]).ok_or_else(|| Error::parse(path, format!("line {line}, column {}", header[i]), format!("'{}' is not a time", &rec[i])))
        };
        let f = |i: usize| num(path, line, &header[i], &rec[i]);
        let raw = || Some(rec.iter().collect::<Vec<_>>().join(",").into());
        match &layout {
            Layout::Candles { time: t, open, high, low, close, volume, trade_count, quote_volume } => candles.push(RawCandle {
                row: line,
                open_time_us: time(*t)?,
                open: f(*open)?,
                high: f(*high)?,
                low: f(*low)?,
                close: f(*close)?,
                volume: f(*volume)?,
                trade_count: match trade_count {
                    Some(i) if !rec[*i].is_empty() => Some(f(*i)? as i64),
                    _ => None,
                },
                quote_volume: match quote_volume {
                    Some(i) => Some(f(*i)?).filter(|v| !v.is_nan()),
                    None => None,
                },
                line: raw(),
            }),
            Layout::Trades { time: t, price, qty, side, id } => trades.push(RawTrade {
                row: line,
                time_us: time(*t)?,
                id: id.map(|i| rec[i].to_string()).filter(|s| !s.is_empty()),
                price: f(*price)?,
                qty: f(*qty)?,
                side: side.and_then(|i| parse_side(&rec[i], is_buyer_maker(&header[i]))),
                line: raw(),
            }),
        }
    }
    Ok(match layout {
        Layout::Candles { .. } => Rows::Candles(candles),
        Layout::Trades { .. } => Rows::Trades(trades),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "1735689600000,0.84480,0.84550,0.84340,0.84540,470645,1735689659999,397414.39600,961,273252,230796.94850,0";

    #[test]
    fn binance_klines_in_ms_and_us_with_or_without_header() {
        let header = KLINE_COLUMNS.join(",");
        let us_row = ROW.replacen("1735689600000", "1735689600000000", 1);
        for text in [ROW.to_string(), format!("{header}\n{ROW}\n"), us_row] {
            let Rows::Candles(c) = read_binance(Path::new("a.csv"), text.as_bytes()).unwrap() else { panic!() };
            assert_eq!(c.len(), 1);
            assert_eq!(c[0].open_time_us, 1_735_689_600_000_000);
            assert_eq!((c[0].high, c[0].trade_count, c[0].quote_volume), (0.8455, Some(961), Some(397414.396)));
        }
    }

    #[test]
    fn a_truncated_kline_file_is_an_error_naming_the_line() {
        let text = format!("{ROW}\n{}", &ROW[..30]);
        let err = read_binance(Path::new("ADAUSDT-1m-2025-01.csv"), text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("ADAUSDT-1m-2025-01.csv") && err.contains("line 2") && err.contains("truncated"), "{err}");
    }

    #[test]
    fn mapped_csv_reads_candles_and_names_bad_cells() {
        let text = "Date,Open,High,Low,Close,Volume\n2025-01-01 00:00:00,1,2,0.5,1.5,3\n2025-01-01 01:00:00,1,x,0.5,1.5,3\n";
        let err = read_mapped(Path::new("g.csv"), text.as_bytes(), &ColumnMap::default()).unwrap_err().to_string();
        assert!(err.contains("line 3, column High") && err.contains("'x'"), "{err}");
    }
}
