//! Bad calls are planning errors naming the function and argument, never panics.

use crate::*;

async fn error_of(q: &str) -> String {
    let f = read_fixture("ETH_USDT-1m_binance.csv");
    let ctx = session_with(&f);
    match ctx.sql(q).await {
        Err(e) => e.to_string(),
        Ok(df) => df.collect().await.expect_err("must fail").to_string(),
    }
}

#[tokio::test]
async fn out_of_range_and_non_constant_periods_are_named() {
    let e = error_of("SELECT sma(close, 0) OVER (ORDER BY open_time) FROM t").await;
    assert!(e.contains("sma") && e.contains("period"), "{e}");
    let e = error_of("SELECT ema(close, 100001) OVER (ORDER BY open_time) FROM t").await;
    assert!(e.contains("ema") && e.contains("period"), "{e}");
    let e = error_of("SELECT rsi(close, 14.5) OVER (ORDER BY open_time) FROM t").await;
    assert!(e.contains("rsi") && e.contains("period"), "{e}");
    let e = error_of("SELECT ema(close, open) OVER (ORDER BY open_time) FROM t").await;
    assert!(e.contains("ema") && e.contains("argument 2 (period) must be a constant"), "{e}");
}

#[tokio::test]
async fn wrong_arity_and_types_are_named() {
    let e = error_of("SELECT atr(close, 14) OVER (ORDER BY open_time) FROM t").await;
    assert!(e.contains("atr") && e.contains("arguments"), "{e}");
    let e = error_of("SELECT ema(symbol, 10) OVER (ORDER BY open_time) FROM t").await;
    assert!(e.contains("ema(Utf8, Int64)"), "names the function and the offending types: {e}");
}
