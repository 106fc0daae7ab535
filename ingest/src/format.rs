//! File formats we ingest, detected from the extension and the first bytes of content.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A supported input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// freqtrade JSON: `[[ms, o, h, l, c, v], ...]` candles or `[[ms, id, type, side, price, amount, cost], ...]` trades.
    Json,
    /// Arrow Feather / IPC file (freqtrade's `.feather`, LZ4 or uncompressed).
    Feather,
    /// Apache Parquet.
    Parquet,
    /// Binance kline CSV: 12 numeric columns, header optional, open time in ms or µs.
    BinanceCsv,
    /// CSV with a header row, columns mapped by name (`--columns` or the usual names).
    Csv,
}

impl Format {
    pub const NAMES: &'static str = "json, feather, parquet, binance-csv, csv";
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "json",
            Format::Feather => "feather",
            Format::Parquet => "parquet",
            Format::BinanceCsv => "binance-csv",
            Format::Csv => "csv",
        })
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "json" | "freqtrade-json" => Format::Json,
            "feather" | "arrow" | "ipc" => Format::Feather,
            "parquet" => Format::Parquet,
            "binance-csv" | "binance" | "kline-csv" => Format::BinanceCsv,
            "csv" | "generic-csv" => Format::Csv,
            other => return Err(Error::Argument(format!("unknown format '{other}' (known: {})", Format::NAMES))),
        })
    }
}

/// Whether the path names a gzip-compressed file.
pub fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Detects the format of `path` from its extension (ignoring `.gz`) and content (`bytes` is the
/// decompressed file content).
pub fn detect(path: &Path, bytes: &[u8]) -> Result<Format> {
    if bytes.starts_with(b"ARROW1") {
        return Ok(Format::Feather);
    }
    if bytes.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match ext {
        "json" => Ok(Format::Json),
        "feather" | "arrow" | "ipc" => Ok(Format::Feather),
        "parquet" => Ok(Format::Parquet),
        "csv" | "txt" => Ok(if looks_like_binance_klines(bytes) { Format::BinanceCsv } else { Format::Csv }),
        _ if first == Some(b'[') => Ok(Format::Json),
        _ => Err(Error::format(path, format!("cannot tell the format from the name or content; pass --format ({})", Format::NAMES))),
    }
}

/// A Binance kline CSV: the first data line has 12 numeric fields (an optional header line before it).
fn looks_like_binance_klines(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(first) = lines.next() else { return false };
    let numeric = |l: &str| {
        let f: Vec<&str> = l.split(',').collect();
        f.len() == 12 && f.iter().all(|v| v.trim().parse::<f64>().is_ok())
    };
    if numeric(first) {
        return true;
    }
    let header_is_kline = first.split(',').count() == 12 && first.to_ascii_lowercase().starts_with("open_time");
    header_is_kline && lines.next().is_some_and(numeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_klines_are_recognised_with_or_without_header() {
        let row = "1735689600000,0.8448,0.8455,0.8434,0.8454,470645,1735689659999,397414.396,961,273252,230796.9485,0\n";
        let header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";
        let p = Path::new("x.csv");
        assert_eq!(detect(p, row.as_bytes()).unwrap(), Format::BinanceCsv);
        assert_eq!(detect(p, format!("{header}{row}").as_bytes()).unwrap(), Format::BinanceCsv);
        assert_eq!(detect(p, b"date,open,high,low,close,volume\n2025-01-01,1,2,0.5,1.5,3\n").unwrap(), Format::Csv);
    }

    #[test]
    fn magic_bytes_win_over_extensions() {
        assert_eq!(detect(Path::new("a.bin"), b"ARROW1\0\0").unwrap(), Format::Feather);
        assert_eq!(detect(Path::new("a.json.gz"), b"[[1,2]]").unwrap(), Format::Json);
        assert!(detect(Path::new("a.bin"), b"hello").is_err());
    }
}
