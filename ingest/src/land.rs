//! Landing validated candles exactly once: compare with what the lake holds, then write only what changes.

use std::collections::HashMap;

use lake::{Lake, LakeTable, Market, Span};

use crate::batches;
use crate::error::Result;
use crate::record::{fmt_us, RawCandle};
use crate::resample::read_market;

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

/// The stored candles of `market` between the first and last of `rows` (sorted), by open time.
async fn stored(lake: &Lake, market: &Market, rows: &[RawCandle]) -> Result<HashMap<i64, RawCandle>> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else { return Ok(HashMap::new()) };
    // open times are aligned to whole seconds (validated), so milliseconds hold them exactly
    let span = Span::new(Some(first.open_time_us.div_euclid(1_000)), Some(last.open_time_us.div_euclid(1_000) + 1));
    Ok(read_market(lake, market, span).await?.into_iter().map(|c| (c.open_time_us, c)).collect())
}

/// Writes `rows` (validated, sorted, one per time) to the candles table so that the lake holds one
/// row per (exchange, symbol, timeframe, open_time): new times are inserted, differing ones
/// replaced (the incoming file wins), identical ones left alone.
///
/// Safe with concurrent writers: the comparison is made at one table version and the write (a
/// Delta MERGE) lands only onto that version; when another writer committed in between, the
/// candles are read and compared again, so both the lake and the report are exact.
pub async fn candles(lake: &Lake, market: &Market, rows: &[RawCandle]) -> Result<Landed> {
    loop {
        let read = lake.version(LakeTable::Candles).await?;
        let (mut landed, to_write) = compare(lake, market, rows).await?;
        if to_write.is_empty() {
            landed.version = read;
            return Ok(landed);
        }
        let batch = batches::candles(market, &to_write)?;
        if let Some(outcome) = lake.merge_onto(LakeTable::Candles, vec![batch], read).await? {
            landed.version = outcome.version;
            return Ok(landed);
        }
        tracing::debug!(market = %market, "another writer changed the candles meanwhile; comparing again");
    }
}

/// What landing `rows` would do against the lake as it is now, and the candles to write.
async fn compare(lake: &Lake, market: &Market, rows: &[RawCandle]) -> Result<(Landed, Vec<RawCandle>)> {
    let existing = stored(lake, market, rows).await?;
    let mut landed = Landed::default();
    let mut to_write: Vec<RawCandle> = Vec::new();
    for c in rows {
        let Some(s) = existing.get(&c.open_time_us) else {
            landed.inserted += 1;
            to_write.push(c.clone());
            continue;
        };
        let core_same = (s.open, s.high, s.low, s.close, s.volume) == (c.open, c.high, c.low, c.close, c.volume);
        let extra_conflict = matches!((s.trade_count, c.trade_count), (Some(a), Some(b)) if a != b)
            || matches!((s.quote_volume, c.quote_volume), (Some(a), Some(b)) if a != b);
        let enriches = (s.trade_count.is_none() && c.trade_count.is_some()) || (s.quote_volume.is_none() && c.quote_volume.is_some());
        if !core_same || extra_conflict {
            landed.disagreed += 1;
            if landed.first_disagreement.is_none() {
                landed.first_disagreement = Some(format!(
                    "{}: lake had o={} h={} l={} c={} v={}, file has o={} h={} l={} c={} v={}",
                    fmt_us(c.open_time_us), s.open, s.high, s.low, s.close, s.volume, c.open, c.high, c.low, c.close, c.volume
                ));
            }
            to_write.push(c.clone());
        } else if enriches {
            landed.enriched += 1;
            let mut merged = c.clone();
            merged.trade_count = c.trade_count.or(s.trade_count);
            merged.quote_volume = c.quote_volume.or(s.quote_volume);
            to_write.push(merged);
        } else {
            landed.unchanged += 1;
        }
    }
    Ok((landed, to_write))
}
