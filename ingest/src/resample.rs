//! Deriving a higher timeframe of a market from a lower one already in the lake.

use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use datafusion::prelude::{col, lit, SessionContext};
use datafusion::scalar::ScalarValue;
use lake::{Lake, LakeTable, Timeframe};

use crate::aggregate;
use crate::batches::Market;
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

/// Reads the candles of `market` from the lake, sorted by time: all of them, or those with an
/// open time in `span` (µs, both ends included).
pub async fn read_market(lake: &Lake, market: &Market, span: Option<(i64, i64)>) -> Result<Vec<RawCandle>> {
    let ctx = SessionContext::new();
    if lake.register(&ctx, LakeTable::Candles).await?.is_none() {
        return Ok(Vec::new());
    }
    let mut filter = col("exchange")
        .eq(lit(market.exchange.as_str()))
        .and(col("symbol").eq(lit(market.symbol.as_str())))
        .and(col("timeframe").eq(lit(market.timeframe.to_string())));
    if let Some((from, to)) = span {
        let ts = |us: i64| lit(ScalarValue::TimestampMicrosecond(Some(us), Some("UTC".into())));
        filter = filter.and(col("open_time").gt_eq(ts(from))).and(col("open_time").lt_eq(ts(to)));
    }
    let df = ctx
        .table("candles")
        .await?
        .filter(filter)?
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
    if target.millis() <= source.timeframe.millis() || target.millis() % source.timeframe.millis() != 0 {
        return Err(Error::Argument(format!(
            "cannot resample {} to {target}: the target must be a larger multiple of the source timeframe",
            source.timeframe
        )));
    }
    let rows = read_market(lake, source, None).await?;
    if rows.is_empty() {
        return Err(Error::Argument(format!(
            "no {} candles of {} on {} in the lake to resample",
            source.timeframe, source.symbol, source.exchange
        )));
    }
    let out = aggregate::resample(&rows, source.timeframe, target);
    let target_market = Market { timeframe: target, ..source.clone() };
    let candles = land::candles(lake, &target_market, &out).await?;
    Ok(ResampleReport { source: source.clone(), target: target_market, source_rows: rows.len() as u64, candles, elapsed: started.elapsed() })
}
