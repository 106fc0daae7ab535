//! Landing validated candles exactly once: compare with what the lake holds, then write only what changes.

use std::collections::HashMap;

use arrow::array::{AsArray, Float64Array, Int64Array};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use datafusion::prelude::{col, lit, SessionContext};
use datafusion::scalar::ScalarValue;
use lake::{Lake, LakeTable};

use crate::batches::{self, Market};
use crate::error::Result;
use crate::record::{fmt_us, RawCandle};

/// What landing a set of candles did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Landed {
    /// Candles whose time was new to the lake.
    pub inserted: u64,
    /// Candles already in the lake with identical values (nothing written for them).
    pub unchanged: u64,
    /// Candles already in the lake whose values differed; the incoming values replaced them.
    pub disagreed: u64,
    /// Candles already in the lake that gained fields they lacked (trade count, quote volume).
    pub enriched: u64,
    /// The first disagreement, described for the user.
    pub first_disagreement: Option<String>,
    /// The candles table version after the write (`None` if nothing was ever written).
    pub version: Option<u64>,
}

impl Landed {
    /// Candles of the input that were already in the lake.
    pub fn already_present(&self) -> u64 {
        self.unchanged + self.disagreed + self.enriched
    }
}

type Stored = (f64, f64, f64, f64, f64, Option<i64>, Option<f64>);

/// Reads the stored candles of `market` between the first and last of `rows` (sorted).
async fn stored(lake: &Lake, market: &Market, rows: &[RawCandle]) -> Result<HashMap<i64, Stored>> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(HashMap::new()) };
    let ctx = SessionContext::new();
    if lake.register(&ctx, LakeTable::Candles).await?.is_none() {
        return Ok(HashMap::new());
    }
    let ts = |us: i64| lit(ScalarValue::TimestampMicrosecond(Some(us), Some("UTC".into())));
    let df = ctx
        .table("candles")
        .await?
        .filter(
            col("exchange")
                .eq(lit(market.exchange.as_str()))
                .and(col("symbol").eq(lit(market.symbol.as_str())))
                .and(col("timeframe").eq(lit(market.timeframe.to_string())))
                .and(col("open_time").gt_eq(ts(first.open_time_us)))
                .and(col("open_time").lt_eq(ts(last.open_time_us))),
        )?
        .select_columns(&["open_time", "open", "high", "low", "close", "volume", "trade_count", "quote_volume"])?;
    let mut out = HashMap::new();
    for b in df.collect().await? {
        let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>().clone();
        let (o, h, l, c, v, q): (Float64Array, _, _, _, _, _) = (f(1), f(2), f(3), f(4), f(5), f(7));
        let n: Int64Array = b.column(6).as_primitive::<Int64Type>().clone();
        for r in 0..b.num_rows() {
            let opt_n = (!arrow::array::Array::is_null(&n, r)).then(|| n.value(r));
            let opt_q = (!arrow::array::Array::is_null(&q, r)).then(|| q.value(r));
            out.insert(t.value(r), (o.value(r), h.value(r), l.value(r), c.value(r), v.value(r), opt_n, opt_q));
        }
    }
    Ok(out)
}

/// Writes `rows` (validated, sorted, one per time) to the candles table so that the lake holds one
/// row per (exchange, symbol, timeframe, open_time): new times are inserted, differing ones
/// replaced (the incoming file wins), identical ones left alone.
pub async fn candles(lake: &Lake, market: &Market, rows: &[RawCandle]) -> Result<Landed> {
    let existing = stored(lake, market, rows).await?;
    let mut landed = Landed::default();
    let mut to_write: Vec<RawCandle> = Vec::new();
    for c in rows {
        let Some(s) = existing.get(&c.open_time_us) else {
            landed.inserted += 1;
            to_write.push(c.clone());
            continue;
        };
        let core_same = (s.0, s.1, s.2, s.3, s.4) == (c.open, c.high, c.low, c.close, c.volume);
        let extra_conflict = matches!((s.5, c.trade_count), (Some(a), Some(b)) if a != b)
            || matches!((s.6, c.quote_volume), (Some(a), Some(b)) if a != b);
        let enriches = (s.5.is_none() && c.trade_count.is_some()) || (s.6.is_none() && c.quote_volume.is_some());
        if !core_same || extra_conflict {
            landed.disagreed += 1;
            if landed.first_disagreement.is_none() {
                landed.first_disagreement = Some(format!(
                    "{}: lake had o={} h={} l={} c={} v={}, file has o={} h={} l={} c={} v={}",
                    fmt_us(c.open_time_us), s.0, s.1, s.2, s.3, s.4, c.open, c.high, c.low, c.close, c.volume
                ));
            }
            to_write.push(c.clone());
        } else if enriches {
            landed.enriched += 1;
            let mut merged = c.clone();
            merged.trade_count = c.trade_count.or(s.5);
            merged.quote_volume = c.quote_volume.or(s.6);
            to_write.push(merged);
        } else {
            landed.unchanged += 1;
        }
    }
    landed.version = if to_write.is_empty() {
        lake.version(LakeTable::Candles).await?
    } else {
        let batch = batches::candles(market, &to_write)?;
        if existing.is_empty() {
            lake.append(LakeTable::Candles, vec![batch]).await?
        } else {
            lake.merge(LakeTable::Candles, vec![batch]).await?.version
        }
    };
    Ok(landed)
}
