//! freqtrade JSON: `[[ms, o, h, l, c, v], ...]` candles and `[[ms, id, type, side, price, amount, cost], ...]` trades.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::readers::columns::parse_side;
use crate::record::{epoch_to_us, RawCandle, RawTrade, Rows};

/// Parses a freqtrade JSON array of arrays.
pub fn read(path: &Path, bytes: &[u8]) -> Result<Rows> {
    let rows: Vec<Vec<Value>> = serde_json::from_slice(bytes).map_err(|e| {
        let what = if e.is_eof() { "the file ends early (truncated?)".to_string() } else { e.to_string() };
        Error::parse(path, format!("line {}, column {}", e.line(), e.column()), what)
    })?;
    let Some(first) = rows.first() else { return Ok(Rows::Candles(vec![])) };
    let trades = first.len() >= 6 && first.get(3).is_some_and(|v| v.is_string() || v.is_null()) && first.len() != 6
        || first.get(1).is_some_and(Value::is_string);
    if trades {
        rows.iter().enumerate().map(|(i, r)| trade(path, i as u64 + 1, r)).collect::<Result<_>>().map(Rows::Trades)
    } else {
        rows.iter().enumerate().map(|(i, r)| candle(path, i as u64 + 1, r)).collect::<Result<_>>().map(Rows::Candles)
    }
}

fn number(path: &Path, row: u64, r: &[Value], idx: usize, name: &str) -> Result<f64> {
    match r.get(idx) {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| Error::parse(path, format!("row {row}"), format!("{name} is not a number"))),
        Some(Value::String(s)) => s.parse().map_err(|_| Error::parse(path, format!("row {row}"), format!("{name} '{s}' is not a number"))),
        Some(Value::Null) => Ok(f64::NAN),
        Some(other) => Err(Error::parse(path, format!("row {row}"), format!("{name} is {other}, not a number"))),
        None => Err(Error::parse(path, format!("row {row}"), format!("missing {name}"))),
    }
}

fn time(path: &Path, row: u64, r: &[Value]) -> Result<i64> {
    match r.first() {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(epoch_to_us)
            .ok_or_else(|| Error::parse(path, format!("row {row}"), format!("time {n} is not an integer epoch"))),
        other => Err(Error::parse(path, format!("row {row}"), format!("time is {other:?}, not an epoch number"))),
    }
}

fn candle(path: &Path, row: u64, r: &[Value]) -> Result<RawCandle> {
    if r.len() != 6 {
        return Err(Error::parse(path, format!("row {row}"), format!("expected 6 values [time, open, high, low, close, volume], found {}", r.len())));
    }
    Ok(RawCandle {
        row,
        open_time_us: time(path, row, r)?,
        open: number(path, row, r, 1, "open")?,
        high: number(path, row, r, 2, "high")?,
        low: number(path, row, r, 3, "low")?,
        close: number(path, row, r, 4, "close")?,
        volume: number(path, row, r, 5, "volume")?,
        trade_count: None,
        quote_volume: None,
        line: Some(serde_json::to_string(r).unwrap_or_default().into()),
    })
}

fn trade(path: &Path, row: u64, r: &[Value]) -> Result<RawTrade> {
    if r.len() < 6 {
        return Err(Error::parse(path, format!("row {row}"), format!("expected [time, id, type, side, price, amount, cost], found {} values", r.len())));
    }
    let id = match &r[1] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Ok(RawTrade {
        row,
        time_us: time(path, row, r)?,
        id,
        price: number(path, row, r, 4, "price")?,
        qty: number(path, row, r, 5, "amount")?,
        side: r[3].as_str().and_then(|s| parse_side(s, false)),
        line: Some(serde_json::to_string(r).unwrap_or_default().into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candles_and_trades_are_told_apart() {
        let Rows::Candles(c) = read(Path::new("x.json"), b"[[1735689600000, 1, 2, 0.5, 1.5, 10]]").unwrap() else { panic!() };
        assert_eq!(c[0].open_time_us, 1_735_689_600_000_000);
        let t = br#"[[1570752011620,"126223616",null,"sell",0.02901,66.0,1.91466]]"#;
        let Rows::Trades(t) = read(Path::new("x.json"), t).unwrap() else { panic!() };
        assert_eq!((t[0].price, t[0].qty, t[0].side.as_deref()), (0.02901, 66.0, Some("sell")));
    }

    #[test]
    fn truncation_names_the_position() {
        let err = read(Path::new("BTC_USDT-1m.json"), b"[[1735689600000, 1, 2, 0.5, 1.5, 10],\n[17356896600").unwrap_err().to_string();
        assert!(err.contains("BTC_USDT-1m.json") && err.contains("line 2"), "{err}");
        let err = read(Path::new("a.json"), b"[[1735689600000, 1, 2, 0.5, 1.5]]").unwrap_err().to_string();
        assert!(err.contains("row 1") && err.contains("found 5"), "{err}");
    }
}
