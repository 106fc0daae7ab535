//! What a file's name tells: freqtrade (`BTC_USDT-1m.json`) and Binance (`BTCUSDT-1m-2025-01.csv`) names.

use std::path::Path;

use lake::Timeframe;

/// Market facts read off a file name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameInfo {
    pub symbol: Option<String>,
    pub timeframe: Option<Timeframe>,
    /// The name says the file holds trades (`XRP_ETH-trades.json.gz`).
    pub trades: bool,
    /// The name says the file is not candles we can store (funding rates).
    pub not_candles: Option<&'static str>,
}

/// Reads symbol and timeframe off a freqtrade or Binance file name.
pub fn from_file_name(path: &Path) -> NameInfo {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.split('.').next().unwrap_or("").to_string();
    let mut info = NameInfo::default();
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 2 {
        return info;
    }
    let pair = parts[0];
    if parts[1] == "trades" {
        info.trades = true;
        info.symbol = freqtrade_pair(pair);
        return info;
    }
    let Ok(tf) = Timeframe::parse(parts[1]) else { return info };
    info.timeframe = Some(tf);
    if pair.contains('_') {
        // freqtrade: BASE_QUOTE, futures BASE_QUOTE_SETTLE with a -futures/-mark/-funding_rate suffix.
        let kind = parts.get(2).copied().unwrap_or("");
        let base = freqtrade_pair(pair);
        info.symbol = match kind {
            "futures" => base.map(|s| format!("{s}-PERP")),
            "mark" => base.map(|s| format!("{s}-PERP-MARK")),
            "funding_rate" => {
                info.not_candles = Some("a freqtrade funding-rate file (rates stored in 'open'), not candles");
                base
            }
            _ => base,
        };
    } else if pair.chars().all(|c| c.is_ascii_alphanumeric()) {
        // Binance public data: SYMBOL-1m-2025-01.csv / SYMBOL-1m-2025-01-01.csv
        info.symbol = Some(pair.to_ascii_uppercase());
    }
    info
}

/// `BTC_USDT` → `BTCUSDT`; `BTC_USDT_USDT` (perpetual) → `BTCUSDT`.
fn freqtrade_pair(pair: &str) -> Option<String> {
    let parts: Vec<&str> = pair.split('_').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [base, quote] | [base, quote, _] => lake::canonical_symbol(&format!("{base}{quote}")).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> NameInfo {
        from_file_name(Path::new(name))
    }

    #[test]
    fn freqtrade_names_give_symbol_and_timeframe() {
        for name in ["BTC_USDT-1m.json", "BTC_USDT-1m.json.gz", "BTC_USDT-1m.feather", "BTC_USDT-1m.parquet"] {
            let i = info(name);
            assert_eq!(i.symbol.as_deref(), Some("BTCUSDT"), "{name}");
            assert_eq!(i.timeframe.unwrap().to_string(), "1m");
        }
        assert_eq!(info("BTC_USDT_USDT-5m-futures.feather").symbol.as_deref(), Some("BTCUSDT-PERP"));
        assert!(info("BTC_USDT_USDT-1h-funding_rate.feather").not_candles.is_some());
        let t = info("XRP_ETH-trades.json.gz");
        assert!(t.trades && t.symbol.as_deref() == Some("XRPETH"));
    }

    #[test]
    fn binance_names_give_symbol_and_timeframe() {
        let i = info("ADAUSDT-1m-2025-01.csv");
        assert_eq!(i.symbol.as_deref(), Some("ADAUSDT"));
        assert_eq!(i.timeframe.unwrap().to_string(), "1m");
        assert_eq!(info("candles.csv"), NameInfo::default());
    }
}
