//! Ingesting one file: read, infer the market, validate, land candles (and trades), quarantine the rest.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lake::{canonical_symbol, Lake, LakeTable, Market, Timeframe};

use crate::aggregate::trades_to_candles;
use crate::batches;
use crate::error::{Error, Result};
use crate::format::Format;
use crate::gaps::GapReport;
use crate::land::{self, Landed};
use crate::naming::from_file_name;
use crate::readers::{self, ColumnMap};
use crate::record::{fmt_us, RawCandle, RawTrade, Rows};
use crate::validate::{self, Rejected};

/// What the caller knows about the files (anything left `None` is inferred from names or data).
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// The exchange the files come from; `binance` when not given.
    pub exchange: Option<String>,
    pub symbol: Option<String>,
    pub timeframe: Option<Timeframe>,
    pub format: Option<Format>,
    pub columns: ColumnMap,
}

/// The stage an ingest is in, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Reading,
    Validating,
    Writing,
}

/// What ingesting one file did.
#[derive(Debug, Clone)]
pub struct IngestReport {
    pub file: PathBuf,
    pub format: Format,
    pub market: Market,
    /// What was inferred rather than given, in words ("symbol BTCUSDT from the file name").
    pub inferred: Vec<String>,
    /// Rows in the file (candles, or trades for trade files).
    pub rows_read: u64,
    /// For trade files: trades that landed in trades_raw and the candles built from them.
    pub trades_landed: Option<u64>,
    pub candles: Landed,
    pub quarantined: u64,
    /// Quarantine reasons, each with its count (the reason of the first row of its kind).
    pub quarantine_reasons: BTreeMap<String, u64>,
    pub gaps: GapReport,
    pub span: Option<(i64, i64)>,
    pub elapsed: Duration,
}

impl IngestReport {
    /// Rows per second over the whole file.
    pub fn rows_per_second(&self) -> f64 {
        self.rows_read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Ingests one file into the lake. A file that cannot be parsed is an error and writes nothing.
pub async fn ingest_file(lake: &Lake, path: &Path, opts: &IngestOptions, stage: &(dyn Fn(Stage) + Sync)) -> Result<IngestReport> {
    let started = Instant::now();
    stage(Stage::Reading);
    let names = from_file_name(path);
    if let Some(why) = names.not_candles {
        return Err(Error::format(path, format!("this is {why}; it is not ingested")));
    }
    let (format, rows) = readers::read(path, opts.format, &opts.columns)?;
    let mut inferred = Vec::new();
    if opts.format.is_none() {
        inferred.push(format!("format {format}"));
    }
    let symbol = match (&opts.symbol, &names.symbol) {
        (Some(s), _) => canonical_symbol(s)?,
        (None, Some(s)) => {
            inferred.push(format!("symbol {s} from the file name"));
            s.clone()
        }
        (None, None) => {
            return Err(Error::Missing { file: path.to_path_buf(), message: "cannot infer the symbol from the file name; pass --symbol".into() })
        }
    };
    let source_file = path.display().to_string();
    stage(Stage::Validating);
    let (rows_read, trades, candles_in) = match rows {
        Rows::Candles(c) => (c.len() as u64, None, c),
        Rows::Trades(t) => {
            let n = t.len() as u64;
            let tf = opts.timeframe.unwrap_or_else(|| Timeframe::parse("1m").expect("valid"));
            let (good, bad) = validate::trades(t);
            let (good, dup) = dedupe_trades(good);
            let candles = trades_to_candles(&good, tf);
            (n, Some((good, [bad, dup].concat(), tf)), candles)
        }
    };
    let timeframe = match (opts.timeframe, names.timeframe, &trades) {
        (Some(tf), _, _) => tf,
        (None, _, Some((_, _, tf))) => {
            inferred.push(format!("timeframe {tf} (trades are aggregated into {tf} candles)"));
            *tf
        }
        (None, Some(tf), None) => {
            inferred.push(format!("timeframe {tf} from the file name"));
            tf
        }
        (None, None, None) => {
            let tf = infer_timeframe(&candles_in).ok_or_else(|| Error::Missing {
                file: path.to_path_buf(),
                message: "cannot infer the timeframe (name or data); pass --timeframe".into(),
            })?;
            inferred.push(format!("timeframe {tf} from the spacing of the data"));
            tf
        }
    };
    let exchange = opts.exchange.clone().unwrap_or_else(|| {
        inferred.push(format!("exchange {} (the default)", lake::DEFAULT_EXCHANGE));
        lake::DEFAULT_EXCHANGE.into()
    });
    let market = Market::new(&exchange, &symbol, timeframe)?;
    let (good, mut bad) = validate::candles(candles_in, timeframe);
    stage(Stage::Writing);
    let mut trades_landed = None;
    if let Some((good_trades, bad_trades, _)) = trades {
        trades_landed = Some(land_trades(lake, &market, &source_file, &good_trades).await?);
        bad.extend(bad_trades);
    }
    let landed = land::candles(lake, &market, &good).await?;
    finish(lake, path.to_path_buf(), format, market, inferred, rows_read, trades_landed, good, landed, bad, started).await
}

/// Quarantines the rejected rows and reports what an ingest did.
#[allow(clippy::too_many_arguments)]
async fn finish(
    lake: &Lake,
    file: PathBuf,
    format: Format,
    market: Market,
    inferred: Vec<String>,
    rows_read: u64,
    trades_landed: Option<u64>,
    good: Vec<RawCandle>,
    landed: Landed,
    mut bad: Vec<Rejected>,
    started: Instant,
) -> Result<IngestReport> {
    bad.sort_by_key(|r| r.row);
    if !bad.is_empty() {
        let now = chrono::Utc::now().timestamp_micros();
        lake.append(LakeTable::Quarantine, vec![batches::quarantine(&file.display().to_string(), Some(&market), &bad, now)?]).await?;
    }
    let mut quarantine_reasons = BTreeMap::new();
    for r in &bad {
        *quarantine_reasons.entry(reason_kind(&r.reason)).or_insert(0) += 1;
    }
    let timeframe = market.timeframe();
    Ok(IngestReport {
        file,
        format,
        gaps: GapReport::of(good.iter().map(|c| c.open_time_us), timeframe),
        span: good.first().zip(good.last()).map(|(a, b)| (a.open_time_us, b.open_time_us)),
        market,
        inferred,
        rows_read,
        trades_landed,
        candles: landed,
        quarantined: bad.len() as u64,
        quarantine_reasons,
        elapsed: started.elapsed(),
    })
}

/// Ingests trades that did not come from a file (a market-data API): the same validation,
/// de-duplication, quarantine and exactly-once landing of trades and of the candles built from
/// them as a trade file gets. `source` names them in reports and the quarantine
/// (`kaiko://cbse/spot/btc-usd`); `format` is their wire format.
pub async fn ingest_trades(lake: &Lake, source: &str, format: Format, market: &Market, trades: Vec<RawTrade>) -> Result<IngestReport> {
    let started = Instant::now();
    let rows_read = trades.len() as u64;
    let (good_trades, bad_trades) = validate::trades(trades);
    let (good_trades, dup) = dedupe_trades(good_trades);
    let (good, bad_candles) = validate::candles(trades_to_candles(&good_trades, market.timeframe()), market.timeframe());
    let trades_landed = land_trades(lake, market, source, &good_trades).await?;
    let landed = land::candles(lake, market, &good).await?;
    let bad = [bad_trades, dup, bad_candles].concat();
    finish(lake, PathBuf::from(source), format, market.clone(), vec![], rows_read, Some(trades_landed), good, landed, bad, started).await
}

/// A reason without its row-specific numbers, for counting ("high … is below max(open …)").
fn reason_kind(reason: &str) -> String {
    reason.split_whitespace().filter(|w| !w.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '-')).collect::<Vec<_>>().join(" ")
}

/// Drops trades that repeat an id at the same time (the later copy is quarantined).
fn dedupe_trades(trades: Vec<RawTrade>) -> (Vec<RawTrade>, Vec<Rejected>) {
    let mut seen = HashSet::new();
    let mut bad = Vec::new();
    let good = trades
        .into_iter()
        .filter(|t| match &t.id {
            Some(id) if !seen.insert((t.time_us, id.clone())) => {
                bad.push(Rejected { row: t.row, raw: t.raw(), reason: format!("duplicate trade id {id} at {}", fmt_us(t.time_us)) });
                false
            }
            _ => true,
        })
        .collect();
    (good, bad)
}

/// Writes trades to trades_raw exactly once (a merge on the trade key).
async fn land_trades(lake: &Lake, market: &Market, source_file: &str, trades: &[RawTrade]) -> Result<u64> {
    if trades.is_empty() {
        return Ok(0);
    }
    let batch = batches::trades(market.exchange(), market.symbol(), source_file, trades)?;
    // always a MERGE (never a blind append, even into an empty table), so a concurrent ingest's
    // commit conflicts with it and the merge is redone: exactly once with several writers
    lake.merge(LakeTable::TradesRaw, vec![batch]).await?;
    Ok(trades.len() as u64)
}

/// The most common spacing between consecutive candle times, if it is a sensible timeframe.
fn infer_timeframe(candles: &[RawCandle]) -> Option<Timeframe> {
    let mut times: Vec<i64> = candles.iter().map(|c| c.open_time_us).collect();
    times.sort_unstable();
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for w in times.windows(2).take(10_000) {
        if w[1] > w[0] {
            *counts.entry(w[1] - w[0]).or_default() += 1;
        }
    }
    let (step_us, _) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    (step_us % 1_000 == 0).then(|| Timeframe::from_millis(step_us / 1_000)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_grouped_without_their_numbers() {
        assert_eq!(reason_kind("high 9 is below max(open 10, close 9.5)"), "high is below max(open close");
        assert_eq!(reason_kind("negative volume -1"), "negative volume");
    }
}
