//! `Market` (exchange, symbol, timeframe) and `Span` (a time range): the one place where a
//! symbol and an exchange are spelled canonically, and the filter that selects a market's candles.

use std::fmt;

use datafusion::logical_expr::{col, lit, Expr};
use datafusion::scalar::ScalarValue;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::timeframe::Timeframe;

/// The exchange assumed when none is given.
pub const DEFAULT_EXCHANGE: &str = "binance";

/// Suffixes of derivative markets kept (after a `-`) in a canonical symbol, in the order they follow the pair.
const SUFFIXES: [&str; 2] = ["PERP", "MARK"];

/// A symbol as the lake stores it, whatever spelling a user gives: the pair's letters and digits
/// upper-cased with separators dropped (`BTC/USDT`, `btc_usdt`, `BTC-USDT`, `btcusdt` → `BTCUSDT`);
/// a perpetual keeps its suffix (`BTC-PERP` → `BTC-PERP`, `btc_usdt-perp` → `BTCUSDT-PERP`, its
/// mark price `BTCUSDT-PERP-MARK`), and CCXT's perpetual notation `BTC/USDT:USDT` is `BTCUSDT-PERP`.
pub fn canonical_symbol(s: &str) -> Result<String> {
    let bad = |why: &str| Error::InvalidMarket { field: "symbol", value: s.to_string(), reason: why.into() };
    let (pair, settle) = match s.split_once(':') {
        Some((pair, settle)) => (pair, Some(settle)),
        None => (s, None),
    };
    let mut tokens: Vec<String> = pair.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_ascii_uppercase).collect();
    if pair.chars().any(|c| !c.is_ascii_alphanumeric() && !"/-_. ".contains(c)) {
        return Err(bad("only letters, digits and the separators / - _ . may be used"));
    }
    let mut suffix = Vec::new();
    while tokens.len() > 1 && tokens.last().is_some_and(|t| SUFFIXES.contains(&t.as_str())) {
        suffix.insert(0, tokens.pop().expect("a last token"));
    }
    if settle.is_some_and(|s| !s.trim().is_empty()) && suffix.is_empty() {
        suffix.push("PERP".into());
    }
    if suffix.first().is_some_and(|s| s == "MARK") {
        return Err(bad("MARK follows PERP (BTCUSDT-PERP-MARK)"));
    }
    let base = tokens.concat();
    if base.is_empty() {
        return Err(bad("no letters or digits"));
    }
    Ok(std::iter::once(base).chain(suffix).collect::<Vec<_>>().join("-"))
}

/// An exchange as the lake stores it: trimmed and lower-case (`Binance` → `binance`).
pub fn canonical_exchange(s: &str) -> Result<String> {
    let e = s.trim().to_ascii_lowercase();
    if e.is_empty() || !e.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Error::InvalidMarket { field: "exchange", value: s.to_string(), reason: "letters, digits, - and _ only".into() });
    }
    Ok(e)
}

/// One series of candles: an exchange, a symbol and a timeframe, each in its canonical spelling
/// (built only through [`Market::new`] or deserialisation, which canonicalise).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "MarketFields")]
pub struct Market {
    exchange: String,
    symbol: String,
    timeframe: Timeframe,
}

/// The fields of a market as written by people and files, before canonicalisation.
#[derive(Deserialize)]
struct MarketFields {
    #[serde(default)]
    exchange: Option<String>,
    symbol: String,
    timeframe: Timeframe,
}

impl TryFrom<MarketFields> for Market {
    type Error = Error;
    fn try_from(f: MarketFields) -> Result<Self> {
        Market::new(f.exchange.as_deref().unwrap_or(DEFAULT_EXCHANGE), &f.symbol, f.timeframe)
    }
}

impl Market {
    /// The market of `exchange`, `symbol` and `timeframe`, spelled canonically.
    pub fn new(exchange: &str, symbol: &str, timeframe: Timeframe) -> Result<Self> {
        Ok(Market { exchange: canonical_exchange(exchange)?, symbol: canonical_symbol(symbol)?, timeframe })
    }

    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    pub fn timeframe(&self) -> Timeframe {
        self.timeframe
    }

    /// The same exchange and symbol at another timeframe.
    pub fn with_timeframe(&self, timeframe: Timeframe) -> Market {
        Market { timeframe, ..self.clone() }
    }

    /// The predicate over the `candles` table that selects this market's candles in `span`.
    pub fn candles_filter(&self, span: Span) -> Expr {
        let ts = |ms: i64| lit(ScalarValue::TimestampMicrosecond(Some(ms * 1_000), Some("UTC".into())));
        let mut filter = col("exchange")
            .eq(lit(self.exchange.as_str()))
            .and(col("symbol").eq(lit(self.symbol.as_str())))
            .and(col("timeframe").eq(lit(self.timeframe.to_string())));
        if let Some(s) = span.start {
            filter = filter.and(col("open_time").gt_eq(ts(s)));
        }
        if let Some(e) = span.end {
            filter = filter.and(col("open_time").lt(ts(e)));
        }
        filter
    }
}

impl fmt::Display for Market {
    /// `binance BTCUSDT 1h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.exchange, self.symbol, self.timeframe)
    }
}

/// A range of open times `[start, end)` in epoch milliseconds; an open end takes every candle on that side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Span {
    /// Every candle.
    pub const ALL: Span = Span { start: None, end: None };

    pub fn new(start: Option<i64>, end: Option<i64>) -> Span {
        Span { start, end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_pair_is_one_symbol() {
        for s in ["BTC/USDT", "btcusdt", "BTC_USDT", "BTC-USDT", " btc/usdt ", "Btc.Usdt"] {
            assert_eq!(canonical_symbol(s).unwrap(), "BTCUSDT", "{s}");
        }
    }

    #[test]
    fn perpetuals_keep_their_suffix() {
        for s in ["BTC-PERP", "btc_perp", "BTC/PERP", "btc-perp"] {
            assert_eq!(canonical_symbol(s).unwrap(), "BTC-PERP", "{s}");
        }
        for s in ["BTCUSDT-PERP", "btc_usdt-perp", "BTC/USDT:USDT", "BTC_USDT_PERP"] {
            assert_eq!(canonical_symbol(s).unwrap(), "BTCUSDT-PERP", "{s}");
        }
        assert_eq!(canonical_symbol("BTCUSDT-PERP-MARK").unwrap(), "BTCUSDT-PERP-MARK");
        assert_eq!(canonical_symbol(&canonical_symbol("btc/usdt:usdt").unwrap()).unwrap(), "BTCUSDT-PERP", "canonical is a fixed point");
    }

    #[test]
    fn what_is_not_a_symbol_is_refused_by_name() {
        for s in ["", "  ", "/", "BTC$USDT", "MARK-BTC-MARK"] {
            let e = canonical_symbol(s).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid symbol '{s}': ")), "{e}");
        }
    }

    #[test]
    fn a_market_is_canonical_however_it_is_written() {
        let tf = Timeframe::parse("60m").unwrap();
        let a = Market::new(" Binance", "btc/usdt", tf).unwrap();
        let b: Market = serde_json::from_str(r#"{"exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h"}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "binance BTCUSDT 1h");
        let c: Market = serde_json::from_str(r#"{"symbol": "BTC_USDT", "timeframe": "60m"}"#).unwrap();
        assert_eq!(c, a, "the exchange defaults to binance");
        assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!({"exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h"}));
        assert!(serde_json::from_str::<Market>(r#"{"symbol": "BTC USDT!", "timeframe": "1h"}"#).is_err());
    }
}
