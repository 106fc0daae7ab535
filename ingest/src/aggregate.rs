//! Candles from trades, and higher timeframes from lower ones (standard OHLCV aggregation).

use lake::Timeframe;

use crate::record::{RawCandle, RawTrade};

/// Aggregates time-sorted trades into candles of `timeframe`: open is the first trade, close the
/// last, volume the sum of quantities, quote volume the sum of price × quantity. Intervals without
/// trades get no candle (as exchanges do).
pub fn trades_to_candles(trades: &[RawTrade], timeframe: Timeframe) -> Vec<RawCandle> {
    let bucket_us = timeframe.millis() * 1_000;
    let mut out: Vec<RawCandle> = Vec::new();
    for t in trades {
        let start = t.time_us.div_euclid(bucket_us) * bucket_us;
        match out.last_mut() {
            Some(c) if c.open_time_us == start => {
                c.high = c.high.max(t.price);
                c.low = c.low.min(t.price);
                c.close = t.price;
                c.volume += t.qty;
                c.quote_volume = c.quote_volume.map(|q| q + t.price * t.qty);
                c.trade_count = c.trade_count.map(|n| n + 1);
            }
            _ => out.push(RawCandle {
                row: t.row,
                open_time_us: start,
                open: t.price,
                high: t.price,
                low: t.price,
                close: t.price,
                volume: t.qty,
                trade_count: Some(1),
                quote_volume: Some(t.price * t.qty),
                line: None,
            }),
        }
    }
    out
}

/// Resamples time-sorted candles to the larger `target` timeframe. Buckets at either end that the
/// source does not fully cover are dropped (they would misstate the period); interior buckets with
/// missing source candles are kept, as the exchange keeps them.
pub fn resample(candles: &[RawCandle], source: Timeframe, target: Timeframe) -> Vec<RawCandle> {
    let bucket_us = target.millis() * 1_000;
    let per_bucket = (target.millis() / source.millis()) as usize;
    let mut out: Vec<(RawCandle, usize)> = Vec::new();
    for c in candles {
        let start = c.open_time_us.div_euclid(bucket_us) * bucket_us;
        match out.last_mut() {
            Some((b, n)) if b.open_time_us == start => {
                b.high = b.high.max(c.high);
                b.low = b.low.min(c.low);
                b.close = c.close;
                b.volume += c.volume;
                b.trade_count = b.trade_count.zip(c.trade_count).map(|(a, b)| a + b);
                b.quote_volume = b.quote_volume.zip(c.quote_volume).map(|(a, b)| a + b);
                *n += 1;
            }
            _ => out.push((RawCandle { row: c.row, open_time_us: start, line: None, ..c.clone() }, 1)),
        }
    }
    let last = out.len().saturating_sub(1);
    out.into_iter()
        .enumerate()
        .filter(|(i, (_, n))| *n == per_bucket || (*i != 0 && *i != last))
        .map(|(_, (c, _))| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(t_s: i64, price: f64, qty: f64) -> RawTrade {
        RawTrade { row: 0, time_us: t_s * 1_000_000, id: None, price, qty, side: None, line: None }
    }

    #[test]
    fn trades_make_ohlcv_per_minute() {
        let base = 1_735_689_600; // minute-aligned
        let t = [trade(base + 1, 10.0, 1.0), trade(base + 20, 12.0, 2.0), trade(base + 59, 9.0, 1.0), trade(base + 125, 11.0, 3.0)];
        let c = trades_to_candles(&t, Timeframe::parse("1m").unwrap());
        assert_eq!(c.len(), 2, "minute 1 had no trade: no candle");
        assert_eq!((c[0].open, c[0].high, c[0].low, c[0].close, c[0].volume), (10.0, 12.0, 9.0, 9.0, 4.0));
        assert_eq!((c[0].trade_count, c[0].quote_volume), (Some(3), Some(10.0 + 24.0 + 9.0)));
        assert_eq!(c[1].open_time_us, (base + 120) * 1_000_000);
    }

    #[test]
    fn resampling_drops_partial_edge_buckets_only() {
        let m = |i: i64, p: f64| RawCandle { row: 0, open_time_us: (1_735_689_600 + 60 * i) * 1_000_000, open: p, high: p + 1.0, low: p - 1.0, close: p, volume: 1.0, trade_count: None, quote_volume: None, line: None };
        // minutes 3..=14 : first 5m bucket (0-4) partial, 5-9 full, 10-14 full
        let src: Vec<_> = (3..15).filter(|i| *i != 7).map(|i| m(i, i as f64 + 10.0)).collect();
        let out = resample(&src, Timeframe::parse("1m").unwrap(), Timeframe::parse("5m").unwrap());
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].open, out[0].close, out[0].volume), (15.0, 19.0, 4.0), "interior gap kept");
        assert_eq!((out[1].high, out[1].low), (25.0, 19.0));
    }
}
