//! Deriving a higher timeframe of a market from a lower one already in the lake.

use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use datafusion::prelude::{col, SessionContext};
use lake::{Lake, LakeTable, Market, Span, Timeframe};

use crate::aggregate;
use crate::error::{Error, Result};
use crate::land::{self, Landed};
use crate::record::RawCandle;

/// What a resample did.
#[derive(Debug, Clone)]
pub struct ResampleReport {
    pub source: Market,
    pub target: Market,
    pub source_rows: u64,
    pub candles: Landed,
    pub elapsed: Duration,
}

/// Reads the candles of `market` with an open time in `span` from the lake, sorted by time.
pub async fn read_market(lake: &Lake, market: &Market, span: Span) -> Result<Vec<RawCandle>> {
    let ctx = SessionContext::new();
    if lake.register(&ctx, LakeTable::Candles).await?.is_none() {
        return Ok(Vec::new());
    }
    let df = ctx
        .table("candles")
        .await?
        .filter(market.candles_filter(span))?
        .select_columns(&["open_time", "open", "high", "low", "close", "volume", "trade_count", "quote_volume"])?
        .sort(vec![col("open_time").sort(true, false)])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>();
        let n = b.column(6).as_primitive::<Int64Type>();
        let q = f(7);
        for r in 0..b.num_rows() {
            out.push(RawCandle {
                row: out.len() as u64 + 1,
                open_time_us: t.value(r),
                open: f(1).value(r),
                high: f(2).value(r),
                low: f(3).value(r),
                close: f(4).value(r),
                volume: f(5).value(r),
                trade_count: n.is_valid(r).then(|| n.value(r)),
                quote_volume: q.is_valid(r).then(|| q.value(r)),
                line: None,
            });
        }
    }
    Ok(out)
}

/// Builds `target` candles of `source`'s market from its candles in the lake and lands them.
pub async fn resample_market(lake: &Lake, source: &Market, target: Timeframe) -> Result<ResampleReport> {
    let started = Instant::now();
    let from = source.timeframe();
    if target.millis() <= from.millis() || target.millis() % from.millis() != 0 {
        return Err(Error::Argument(format!("cannot resample {from} to {target}: the target must be a larger multiple of the source timeframe")));
    }
    let rows = read_market(lake, source, Span::ALL).await?;
    if rows.is_empty() {
        return Err(Error::Argument(format!("no {from} candles of {} on {} in the lake to resample", source.symbol(), source.exchange())));
    }
    let out = aggregate::resample(&rows, from, target);
    let target_market = source.with_timeframe(target);
    let candles = land::candles(lake, &target_market, &out).await?;
    Ok(ResampleReport { source: source.clone(), target: target_market, source_rows: rows.len() as u64, candles, elapsed: started.elapsed() })
}
