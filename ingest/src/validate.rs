//! Row validation: which rows land and which go to quarantine, with the reason.

use std::collections::HashMap;

use lake::Timeframe;

use crate::record::{fmt_us, RawCandle, RawTrade};

/// A row refused by validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub row: u64,
    pub raw: String,
    pub reason: String,
}

/// Why a candle cannot land, if it cannot.
pub fn check_candle(c: &RawCandle, timeframe: Timeframe) -> Option<String> {
    let values = [("open", c.open), ("high", c.high), ("low", c.low), ("close", c.close), ("volume", c.volume)];
    if let Some((name, _)) = values.iter().find(|(_, v)| !v.is_finite()) {
        return Some(format!("missing or non-finite {name}"));
    }
    if let Some((name, v)) = values[..4].iter().find(|(_, v)| *v <= 0.0) {
        return Some(format!("{name} {v} is not a positive price"));
    }
    if c.volume < 0.0 {
        return Some(format!("negative volume {}", c.volume));
    }
    if c.high < c.open.max(c.close) {
        return Some(format!("high {} is below max(open {}, close {})", c.high, c.open, c.close));
    }
    if c.low > c.open.min(c.close) {
        return Some(format!("low {} is above min(open {}, close {})", c.low, c.open, c.close));
    }
    if c.open_time_us % 1_000 != 0 || !timeframe.is_aligned(c.open_time_us / 1_000) {
        return Some(format!("open_time {} is not aligned to the {timeframe} timeframe", fmt_us(c.open_time_us)));
    }
    if c.quote_volume.is_some_and(|q| !q.is_finite() || q < 0.0) {
        return Some(format!("invalid quote_volume {}", c.quote_volume.unwrap_or_default()));
    }
    if c.trade_count.is_some_and(|n| n < 0) {
        return Some(format!("negative trade_count {}", c.trade_count.unwrap_or_default()));
    }
    None
}

/// Splits candles into those that land (sorted by open time) and those refused. A time repeated
/// within the file keeps its first valid row; the later ones are refused as duplicates.
pub fn candles(rows: Vec<RawCandle>, timeframe: Timeframe) -> (Vec<RawCandle>, Vec<Rejected>) {
    let mut good: Vec<RawCandle> = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    let mut first_row: HashMap<i64, u64> = HashMap::with_capacity(rows.len());
    for c in rows {
        let reason = check_candle(&c, timeframe).or_else(|| {
            first_row
                .get(&c.open_time_us)
                .map(|first| format!("duplicate open_time {} (first at row {first})", fmt_us(c.open_time_us)))
        });
        match reason {
            Some(reason) => bad.push(Rejected { row: c.row, raw: c.raw(), reason }),
            None => {
                first_row.insert(c.open_time_us, c.row);
                good.push(c);
            }
        }
    }
    good.sort_by_key(|c| c.open_time_us);
    (good, bad)
}

/// Splits trades into valid ones (sorted by time, file order kept within a time) and refused ones.
pub fn trades(rows: Vec<RawTrade>) -> (Vec<RawTrade>, Vec<Rejected>) {
    let mut good = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    for t in rows {
        let reason = if !t.price.is_finite() || t.price <= 0.0 {
            Some(format!("price {} is not a positive number", t.price))
        } else if !t.qty.is_finite() || t.qty <= 0.0 {
            Some(format!("quantity {} is not a positive number", t.qty))
        } else {
            None
        };
        match reason {
            Some(reason) => bad.push(Rejected { row: t.row, raw: t.raw(), reason }),
            None => good.push(t),
        }
    }
    good.sort_by_key(|t| t.time_us);
    (good, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(row: u64, t_ms: i64, o: f64, h: f64, l: f64, c: f64, v: f64) -> RawCandle {
        RawCandle { row, open_time_us: t_ms * 1000, open: o, high: h, low: l, close: c, volume: v, trade_count: None, quote_volume: None, line: None }
    }

    #[test]
    fn each_rule_gives_its_reason() {
        let tf = Timeframe::parse("1m").unwrap();
        let t = 1_735_689_600_000;
        let cases = [
            (candle(1, t, 10.0, 9.0, 8.0, 9.5, 1.0), "high 9 is below max(open 10, close 9.5)"),
            (candle(2, t, 10.0, 11.0, 10.5, 10.2, 1.0), "low 10.5 is above min(open 10, close 10.2)"),
            (candle(3, t, 0.0, 11.0, 0.0, 10.2, 1.0), "open 0 is not a positive price"),
            (candle(4, t, 10.0, 11.0, 9.0, 10.2, -1.0), "negative volume -1"),
            (candle(5, t + 30_000, 10.0, 11.0, 9.0, 10.2, 1.0), "not aligned to the 1m timeframe"),
            (candle(6, t, f64::NAN, 11.0, 9.0, 10.2, 1.0), "missing or non-finite open"),
        ];
        for (c, want) in cases {
            let got = check_candle(&c, tf).unwrap();
            assert!(got.contains(want), "row {}: {got}", c.row);
        }
        assert_eq!(check_candle(&candle(7, t, 10.0, 11.0, 9.0, 10.2, 0.0), tf), None);
    }

    #[test]
    fn duplicates_keep_the_first_and_output_is_sorted() {
        let tf = Timeframe::parse("1m").unwrap();
        let t = 1_735_689_600_000;
        let rows = vec![candle(1, t + 60_000, 1.0, 1.0, 1.0, 1.0, 1.0), candle(2, t, 1.0, 1.0, 1.0, 1.0, 1.0), candle(3, t, 2.0, 2.0, 2.0, 2.0, 1.0)];
        let (good, bad) = candles(rows, tf);
        assert_eq!(good.iter().map(|c| c.row).collect::<Vec<_>>(), vec![2, 1]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].reason.contains("duplicate open_time 2025-01-01T00:00:00Z (first at row 2)"), "{}", bad[0].reason);
    }
}
