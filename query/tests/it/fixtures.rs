//! Every column of every indicator fixture, computed through SQL, equals TA-Lib's output.

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use query::indicators;

use crate::*;

/// `bb_upper_10_1.5_2.5` → (`bb_upper`, [10, 1.5, 2.5]): the longest indicator name that prefixes the column.
fn parse_column(col: &str) -> (&'static indicators::Spec, Vec<String>) {
    let spec = indicators::specs()
        .iter()
        .filter(|s| col == s.name || col.starts_with(&format!("{}_", s.name)))
        .max_by_key(|s| s.name.len())
        .unwrap_or_else(|| panic!("no indicator for column {col}"));
    let params = col[spec.name.len()..].split('_').filter(|p| !p.is_empty()).map(str::to_string).collect();
    (spec, params)
}

fn call(spec: &indicators::Spec, params: &[String]) -> String {
    let mut args: Vec<String> = spec.inputs.iter().map(|i| if *i == "source" { "close".to_string() } else { i.to_string() }).collect();
    args.extend(params.iter().cloned());
    format!("{}({})", spec.name, args.join(", "))
}

async fn check(file: &str) -> usize {
    let f = read_fixture(file);
    let ctx = session_with(&f);
    let outputs: Vec<usize> = (6..f.header.len()).collect();
    let select: Vec<String> = outputs
        .iter()
        .map(|&i| {
            let (spec, params) = parse_column(&f.header[i]);
            format!("{} OVER w AS \"{}\"", call(spec, &params), f.header[i])
        })
        .collect();
    let q = format!("SELECT {} FROM t WINDOW w AS (PARTITION BY symbol ORDER BY open_time)", select.join(", "));
    let batches = ctx.sql(&q).await.unwrap().collect().await.unwrap();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    for (k, &i) in outputs.iter().enumerate() {
        let got = batch.column(k).as_primitive::<Float64Type>();
        let want = &f.columns[i];
        assert_eq!(got.len(), want.len());
        for (r, w) in want.iter().enumerate() {
            let g = got.is_valid(r).then(|| got.value(r));
            let ok = match (g, w) {
                (None, None) => true,
                (Some(g), Some(w)) => close_enough(g, *w),
                _ => false,
            };
            assert!(ok, "{file} column {} ({}) row {r} (open_time {:?}): got {g:?}, expected {w:?}", f.header[i], call(parse_column(&f.header[i]).0, &parse_column(&f.header[i]).1), f.columns[0][r]);
        }
    }
    outputs.len()
}

#[tokio::test]
async fn every_btc_1h_fixture_column_matches_talib() {
    assert!(check("BTC_USDT-1h_binance.csv").await >= 60);
}

#[tokio::test]
async fn every_eth_1m_fixture_column_matches_talib() {
    assert!(check("ETH_USDT-1m_binance.csv").await >= 60);
}

#[test]
fn every_spec_indicator_has_a_fixture_column() {
    let header = read_fixture("BTC_USDT-1h_binance.csv").header;
    for s in indicators::specs() {
        assert!(header.iter().skip(6).any(|h| parse_column(h).0.name == s.name), "{} untested", s.name);
    }
}
