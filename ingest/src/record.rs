//! What readers produce: candle and trade rows with their position in the source file.

/// One candle as read from a file, before validation. Times in microseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct RawCandle {
    /// 1-based row (data row for columnar files, line for text files).
    pub row: u64,
    pub open_time_us: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub trade_count: Option<i64>,
    pub quote_volume: Option<f64>,
    /// The source line for text formats (kept for quarantine); columnar rows are rendered on demand.
    pub line: Option<Box<str>>,
}

impl RawCandle {
    /// The row as it appears in quarantine: the source line, or the values as a JSON array.
    pub fn raw(&self) -> String {
        match &self.line {
            Some(l) => l.to_string(),
            None => format!(
                "[{}, {}, {}, {}, {}, {}]",
                self.open_time_us / 1_000,
                self.open,
                self.high,
                self.low,
                self.close,
                self.volume
            ),
        }
    }
}

/// One trade as read from a file. Times in microseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTrade {
    pub row: u64,
    pub time_us: i64,
    pub id: Option<String>,
    pub price: f64,
    pub qty: f64,
    /// `buy` or `sell` (the taker's side) when known.
    pub side: Option<String>,
    pub line: Option<Box<str>>,
}

impl RawTrade {
    /// The row as it appears in quarantine.
    pub fn raw(&self) -> String {
        match &self.line {
            Some(l) => l.to_string(),
            None => format!(
                "[{}, {:?}, {}, {}, {:?}]",
                self.time_us / 1_000,
                self.id.as_deref().unwrap_or(""),
                self.price,
                self.qty,
                self.side.as_deref().unwrap_or("")
            ),
        }
    }
}

/// A file's content: candles or trades.
#[derive(Debug, Clone)]
pub enum Rows {
    Candles(Vec<RawCandle>),
    Trades(Vec<RawTrade>),
}

/// Converts an epoch number of unknown unit (s, ms, µs or ns, told apart by magnitude) to µs.
pub fn epoch_to_us(v: i64) -> i64 {
    let a = v.unsigned_abs();
    if a < 100_000_000_000 {
        v.saturating_mul(1_000_000)
    } else if a < 100_000_000_000_000 {
        v.saturating_mul(1_000)
    } else if a < 100_000_000_000_000_000 {
        v
    } else {
        v / 1_000
    }
}

/// Formats epoch microseconds as RFC 3339 UTC.
pub fn fmt_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        .unwrap_or_else(|| format!("{us}µs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_units_are_told_apart_by_magnitude() {
        let us = 1_735_689_600_000_000;
        assert_eq!(epoch_to_us(1_735_689_600), us);
        assert_eq!(epoch_to_us(1_735_689_600_000), us);
        assert_eq!(epoch_to_us(1_735_689_600_000_000), us);
        assert_eq!(epoch_to_us(1_735_689_600_000_000_000), us);
        assert_eq!(fmt_us(us), "2025-01-01T00:00:00Z");
    }
}
