//! Mapping source column names to candle and trade fields (`--columns` or the usual names).

use std::collections::HashMap;

use crate::error::{Error, Result};

/// A field a reader fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    OpenTime,
    Open,
    High,
    Low,
    Close,
    Volume,
    TradeCount,
    QuoteVolume,
    TradeTime,
    Price,
    Qty,
    Side,
    TradeId,
}

impl Field {
    const ALL: [Field; 13] = [
        Field::OpenTime,
        Field::Open,
        Field::High,
        Field::Low,
        Field::Close,
        Field::Volume,
        Field::TradeCount,
        Field::QuoteVolume,
        Field::TradeTime,
        Field::Price,
        Field::Qty,
        Field::Side,
        Field::TradeId,
    ];

    /// The name used in `--columns FIELD=COLUMN`.
    pub fn key(self) -> &'static str {
        match self {
            Field::OpenTime => "open_time",
            Field::Open => "open",
            Field::High => "high",
            Field::Low => "low",
            Field::Close => "close",
            Field::Volume => "volume",
            Field::TradeCount => "trade_count",
            Field::QuoteVolume => "quote_volume",
            Field::TradeTime => "time",
            Field::Price => "price",
            Field::Qty => "qty",
            Field::Side => "side",
            Field::TradeId => "id",
        }
    }

    /// Column names (lower case) recognised without a mapping.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::OpenTime => &["open_time", "date", "datetime", "timestamp", "time", "ts", "open time"],
            Field::Open => &["open", "o"],
            Field::High => &["high", "h"],
            Field::Low => &["low", "l"],
            Field::Close => &["close", "c"],
            Field::Volume => &["volume", "vol", "v", "base_volume"],
            Field::TradeCount => &["trade_count", "trades", "count", "number_of_trades", "num_trades"],
            Field::QuoteVolume => &["quote_volume", "quote_asset_volume", "quote_av"],
            Field::TradeTime => &["time", "timestamp", "trade_time", "date", "ts", "datetime"],
            Field::Price => &["price", "p"],
            Field::Qty => &["qty", "amount", "quantity", "size", "q"],
            Field::Side => &["side", "taker_side", "buyer_maker", "is_buyer_maker", "m"],
            Field::TradeId => &["id", "trade_id", "tid", "agg_trade_id"],
        }
    }
}

/// A user-given mapping `FIELD=COLUMN,...` (e.g. `open_time=Date,volume=Volume USDT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    explicit: HashMap<&'static str, String>,
}

impl ColumnMap {
    /// Parses `--columns`.
    pub fn parse(spec: &str) -> Result<Self> {
        let mut explicit = HashMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| Error::Argument(format!("--columns: '{pair}' is not FIELD=COLUMN")))?;
            let field = Field::ALL.into_iter().find(|f| f.key() == k.trim()).ok_or_else(|| {
                let known: Vec<_> = Field::ALL.iter().map(|f| f.key()).collect();
                Error::Argument(format!("--columns: unknown field '{}' (known: {})", k.trim(), known.join(", ")))
            })?;
            explicit.insert(field.key(), v.trim().to_string());
        }
        Ok(Self { explicit })
    }

    /// The index in `header` of the column that holds `field`, if any.
    pub fn find(&self, header: &[String], field: Field) -> Option<usize> {
        if let Some(name) = self.explicit.get(field.key()) {
            return header.iter().position(|h| h == name).or_else(|| header.iter().position(|h| h.eq_ignore_ascii_case(name)));
        }
        field.aliases().iter().find_map(|a| header.iter().position(|h| h.trim().eq_ignore_ascii_case(a)))
    }

    /// Explicitly mapped columns that are missing from `header` (reported as an error).
    pub fn missing(&self, header: &[String]) -> Vec<String> {
        self.explicit
            .values()
            .filter(|name| !header.iter().any(|h| h.eq_ignore_ascii_case(name)))
            .cloned()
            .collect()
    }

    /// Whether the user mapped any trade field.
    pub fn maps_trades(&self) -> bool {
        ["price", "qty", "side", "id", "time"].iter().any(|k| self.explicit.contains_key(k))
    }
}

/// The column layout of a file: candles or trades, by index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    Candles { time: usize, open: usize, high: usize, low: usize, close: usize, volume: usize, trade_count: Option<usize>, quote_volume: Option<usize> },
    Trades { time: usize, price: usize, qty: usize, side: Option<usize>, id: Option<usize> },
}

/// Decides the layout of a file with column names `header`.
pub fn layout(header: &[String], map: &ColumnMap) -> std::result::Result<Layout, String> {
    let missing = map.missing(header);
    if !missing.is_empty() {
        return Err(format!("--columns names columns not in the file: {} (file has: {})", missing.join(", "), header.join(", ")));
    }
    let f = |field| map.find(header, field);
    if let (Some(price), Some(qty)) = (f(Field::Price), f(Field::Qty)) {
        if f(Field::High).is_none() || map.maps_trades() {
            let time = f(Field::TradeTime).ok_or_else(|| format!("no trade time column (one of time, timestamp, date; or --columns time=NAME) in: {}", header.join(", ")))?;
            return Ok(Layout::Trades { time, price, qty, side: f(Field::Side), id: f(Field::TradeId) });
        }
    }
    let need = |field: Field| f(field).ok_or_else(|| format!("no '{}' column (map it with --columns {}=NAME); file has: {}", field.key(), field.key(), header.join(", ")));
    Ok(Layout::Candles {
        time: need(Field::OpenTime)?,
        open: need(Field::Open)?,
        high: need(Field::High)?,
        low: need(Field::Low)?,
        close: need(Field::Close)?,
        volume: need(Field::Volume)?,
        trade_count: f(Field::TradeCount),
        quote_volume: f(Field::QuoteVolume),
    })
}

/// Reads a trade side: `buy`/`sell` (any case, or `b`/`s`), or a buyer-is-maker flag (`true` = taker sold).
pub fn parse_side(value: &str, is_buyer_maker_column: bool) -> Option<String> {
    let v = value.trim().to_ascii_lowercase();
    let side = match v.as_str() {
        "buy" | "b" | "bid" => "buy",
        "sell" | "s" | "ask" => "sell",
        "true" | "1" if is_buyer_maker_column => "sell",
        "false" | "0" if is_buyer_maker_column => "buy",
        _ => return None,
    };
    Some(side.to_string())
}

/// Whether the column named `name` is a buyer-is-maker flag rather than a side.
pub fn is_buyer_maker(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "buyer_maker" | "is_buyer_maker" | "m")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(cols: &[&str]) -> Vec<String> {
        cols.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn usual_names_map_without_help() {
        let l = layout(&h(&["date", "open", "high", "low", "close", "volume"]), &ColumnMap::default()).unwrap();
        assert!(matches!(l, Layout::Candles { time: 0, volume: 5, trade_count: None, .. }));
        let l = layout(&h(&["exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount"]), &ColumnMap::default()).unwrap();
        assert_eq!(l, Layout::Trades { time: 2, price: 6, qty: 7, side: Some(5), id: Some(4) });
    }

    #[test]
    fn explicit_mapping_wins_and_unknown_names_are_errors() {
        let map = ColumnMap::parse("open_time=Time (UTC), volume=Vol BTC").unwrap();
        let l = layout(&h(&["Time (UTC)", "Open", "High", "Low", "Close", "Vol BTC"]), &map).unwrap();
        assert!(matches!(l, Layout::Candles { time: 0, volume: 5, .. }));
        assert!(ColumnMap::parse("when=Date").unwrap_err().to_string().contains("unknown field 'when'"));
        let err = layout(&h(&["a", "b"]), &ColumnMap::parse("open=Open").unwrap()).unwrap_err();
        assert!(err.contains("Open"), "{err}");
    }

    #[test]
    fn sides_and_maker_flags() {
        assert_eq!(parse_side("BUY", false).as_deref(), Some("buy"));
        assert_eq!(parse_side("true", true).as_deref(), Some("sell"));
        assert_eq!(parse_side("true", false), None);
    }
}
