//! Resampled candles equal the exchange's own candles of the larger timeframe.

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;
use lake::Market;
use lake::Timeframe;

use crate::*;

#[tokio::test]
async fn one_minute_resampled_to_five_equals_the_exchanges_five_minute_file() {
    // PROVENANCE: filimonov-freqtrade 1m resampled to 5m equals its 5m file over the full span
    let (_d, lake) = temp_lake();
    let one = ingest(&lake, &shared("filimonov-freqtrade/BTC_USDT-1m.feather")).await;
    assert_eq!(one.candles.inserted, 130_708);
    let source = Market::new("binance", "BTCUSDT", Timeframe::parse("1m").unwrap()).unwrap();
    let r = ingest::resample_market(&lake, &source, Timeframe::parse("5m").unwrap()).await.unwrap();
    assert_eq!(r.candles.inserted, 26_141);
    // the exchange's 5m file now lands on top: every candle already present, none differs beyond float summation
    let theirs = ingest(&lake, &shared("filimonov-freqtrade/BTC_USDT-5m.feather")).await;
    assert_eq!((theirs.candles.inserted, theirs.candles.already_present()), (0, 26_141));
    // compare values explicitly: OHLC identical, volume to 1e-9 relative (a sum of five floats)
    let ctx = datafusion::prelude::SessionContext::new();
    lake.register_as(&ctx, lake::LakeTable::Candles, "resampled", r.candles.version).await.unwrap();
    let file = std::fs::File::open(shared("filimonov-freqtrade/BTC_USDT-5m.feather")).unwrap();
    let mut expected = Vec::new();
    for batch in arrow::ipc::reader::FileReader::try_new(file, None).unwrap() {
        let batch = batch.unwrap();
        let c = |n: &str| batch.column_by_name(n).unwrap().as_primitive::<Float64Type>().clone();
        let (o, h, l, cl, v) = (c("open"), c("high"), c("low"), c("close"), c("volume"));
        for i in 0..batch.num_rows() {
            expected.push([o.value(i), h.value(i), l.value(i), cl.value(i), v.value(i)]);
        }
    }
    let got = ctx
        .sql("SELECT open, high, low, close, volume FROM resampled WHERE timeframe = '5m' ORDER BY open_time")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut i = 0;
    for batch in got {
        let c = |k: usize| batch.column(k).as_primitive::<Float64Type>().clone();
        let cols = [c(0), c(1), c(2), c(3), c(4)];
        for r in 0..batch.num_rows() {
            for k in 0..4 {
                assert_eq!(cols[k].value(r), expected[i][k], "candle {i} column {k}");
            }
            let (a, e) = (cols[4].value(r), expected[i][4]);
            assert!((a - e).abs() <= 1e-9 * e.abs().max(1.0), "candle {i} volume {a} vs {e}");
            i += 1;
        }
    }
    assert_eq!(i, expected.len());
}
