//! The spec's NULL rule: leading NULLs start the indicator late; a later NULL gives NULL and leaves state alone.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use query::indicators;

use crate::*;

async fn column(ctx: &SessionContext, q: &str) -> Vec<Option<f64>> {
    let b = ctx.sql(q).await.unwrap().collect().await.unwrap();
    b.iter().flat_map(|b| {
        let a = b.column(0).as_primitive::<Float64Type>().clone();
        (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
    }).collect()
}

#[tokio::test]
async fn leading_and_inner_nulls_follow_the_spec() {
    let f = read_fixture("BTC_USDT-1h_binance.csv");
    let ctx = session_with(&f);
    let close: Vec<f64> = f.header.iter().position(|h| h == "close").map(|i| f.columns[i].iter().map(|v| v.unwrap()).collect()).unwrap();
    // NULL on the first 40 bars and on bars 100 and 101
    let got = column(&ctx, "SELECT ema(CASE WHEN n <= 40 OR n IN (101, 102) THEN NULL ELSE close END, 10) OVER (ORDER BY open_time) \
         FROM (SELECT open_time, close, row_number() OVER (ORDER BY open_time) AS n FROM t) ORDER BY open_time").await;
    // the spec: the same state machine fed only the non-NULL bars
    let mut ema = indicators::build("ema", &[10.0]).unwrap();
    for (i, c) in close.iter().enumerate() {
        let expected = if i < 40 || i == 100 || i == 101 { None } else { ema.update(&[*c]) };
        assert_eq!(got[i], expected, "bar {i}");
    }
    assert!(got[..49].iter().all(Option::is_none), "warm-up starts at the first non-NULL bar");
    assert!(got[49].is_some());
}

#[tokio::test]
async fn an_indicator_of_an_indicator_starts_when_its_source_does() {
    let f = read_fixture("BTC_USDT-1h_binance.csv");
    let ctx = session_with(&f);
    let got = column(&ctx, "SELECT sma(r, 9) OVER (ORDER BY open_time) FROM (SELECT open_time, rsi(close, 14) OVER (ORDER BY open_time) AS r FROM t) ORDER BY open_time").await;
    // rsi(14) has 14 warm-up bars; sma(9) over it has 8 more
    assert!(got[..22].iter().all(Option::is_none));
    assert!(got[22].is_some());
}

#[tokio::test]
async fn a_partition_shorter_than_the_warm_up_is_all_null() {
    let f = read_fixture("BTC_USDT-1h_binance.csv");
    let ctx = session_with(&f);
    let got = column(&ctx, "SELECT sma(close, 30) OVER (ORDER BY open_time) FROM (SELECT * FROM t ORDER BY open_time LIMIT 29)").await;
    assert_eq!(got.len(), 29);
    assert!(got.iter().all(Option::is_none));
}

/// Where each input column is NULL (1-based row numbers `n`): leading NULLs, long runs (which the
/// window function feeds through the batch path) and a stretch of short runs (fed bar by bar).
const NULL_WHEN: [(&str, &str, fn(usize) -> bool); 4] = [
    ("close", "n <= 5 OR n BETWEEN 61 AND 63 OR n = 131 OR (n > 400 AND n < 700 AND n % 7 = 0)", |n| {
        n <= 5 || (61..=63).contains(&n) || n == 131 || (n > 400 && n < 700 && n % 7 == 0)
    }),
    ("high", "n BETWEEN 201 AND 240", |n| (201..=240).contains(&n)),
    ("low", "n = 250 OR n = 1500", |n| n == 250 || n == 1500),
    ("volume", "n IN (301, 302, 333)", |n| [301, 302, 333].contains(&n)),
];

#[tokio::test]
async fn every_indicator_skips_null_bars_whatever_input_is_null() {
    let f = read_fixture("BTC_USDT-1h_binance.csv");
    let ctx = session_with(&f);
    let column_of = |name: &str| -> Vec<f64> {
        let i = f.header.iter().position(|h| h == name).unwrap();
        f.columns[i].iter().map(|v| v.unwrap()).collect()
    };
    for spec in indicators::specs() {
        let inputs: Vec<&str> = spec.inputs.iter().map(|i| if *i == "source" { "close" } else { i }).collect();
        let args: Vec<String> = inputs
            .iter()
            .map(|i| {
                let (_, when, _) = NULL_WHEN.iter().find(|(c, _, _)| c == i).unwrap();
                format!("CASE WHEN {when} THEN NULL ELSE {i} END")
            })
            .collect();
        let sql = format!(
            "SELECT {}({}) OVER (ORDER BY open_time) FROM (SELECT *, row_number() OVER (ORDER BY open_time) AS n FROM t) ORDER BY open_time",
            spec.name,
            args.join(", ")
        );
        let got = column(&ctx, &sql).await;
        // the spec: the state machine fed only the bars where every input is present
        let data: Vec<Vec<f64>> = inputs.iter().map(|i| column_of(i)).collect();
        let mut state = indicators::build(spec.name, &[]).unwrap();
        for (r, g) in got.iter().enumerate() {
            let null = inputs.iter().any(|i| (NULL_WHEN.iter().find(|(c, _, _)| c == i).unwrap().2)(r + 1));
            let expected = if null { None } else { state.update(&data.iter().map(|c| c[r]).collect::<Vec<_>>()) };
            assert!(
                g.map(f64::to_bits) == expected.map(f64::to_bits),
                "{} row {r}: got {g:?}, expected {expected:?}",
                spec.name
            );
        }
    }
}
