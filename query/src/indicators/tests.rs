//! Unit tests of the registry: spec table, parameter validation, defaults and warm-up lengths.

use super::{build, spec, specs};

const TABLE_ORDER: [&str; 29] = [
    "sma",
    "ema",
    "wma",
    "dema",
    "tema",
    "trima",
    "kama",
    "rsi",
    "cmo",
    "roc",
    "mom",
    "stddev",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "macd",
    "macd_signal",
    "macd_hist",
    "atr",
    "natr",
    "adx",
    "plus_di",
    "minus_di",
    "cci",
    "willr",
    "stoch_k",
    "stoch_d",
    "mfi",
    "obv",
];

/// A deterministic bar `(high, low, close, volume)` with some wiggle.
fn bar(i: usize) -> [f64; 4] {
    let t = i as f64;
    let close = 100.0 + 10.0 * (t * 0.37).sin() + 0.5 * (t * 1.3).cos();
    [
        close + 1.0 + 0.3 * (t * 0.7).sin().abs(),
        close - 1.0 - 0.2 * (t * 0.5).cos().abs(),
        close,
        1000.0 + 50.0 * t,
    ]
}

/// The inputs of bar `i` in the order `name`'s spec lists them.
fn inputs(name: &str, i: usize) -> Vec<f64> {
    let [h, l, c, v] = bar(i);
    spec(name)
        .unwrap()
        .inputs
        .iter()
        .map(|&input| match input {
            "source" | "close" => c,
            "high" => h,
            "low" => l,
            "volume" => v,
            other => panic!("unexpected input {other}"),
        })
        .collect()
}

/// Number of leading `None`s over `n` bars (n if never Some).
fn warm_up(name: &str, params: &[f64], n: usize) -> usize {
    let mut ind = build(name, params).unwrap();
    (0..n)
        .position(|i| ind.update(&inputs(name, i)).is_some())
        .unwrap_or(n)
}

#[test]
fn specs_follow_the_table_order() {
    let names: Vec<&str> = specs().iter().map(|s| s.name).collect();
    assert_eq!(names, TABLE_ORDER);
    for s in specs() {
        assert_eq!(spec(s.name), Some(s));
        assert!(!s.doc.is_empty() && !s.talib.is_empty());
        for p in s.params {
            assert!(
                p.min <= p.default && p.default <= p.max,
                "{}: default of {}",
                s.name,
                p.name
            );
        }
    }
    assert!(spec("nope").is_none());
}

#[test]
fn unknown_names_and_extra_params_are_errors() {
    assert!(build("nope", &[]).unwrap_err().contains("nope"));
    assert!(build("sma", &[10.0, 2.0]).is_err());
    assert!(build("obv", &[1.0]).is_err());
}

#[test]
fn out_of_range_params_are_errors_naming_the_param() {
    let cases: &[(&str, &[f64], &str)] = &[
        ("sma", &[0.0], "period"),
        ("sma", &[100_001.0], "period"),
        ("sma", &[10.5], "period"),
        ("sma", &[f64::NAN], "period"),
        ("ema", &[0.0], "period"),
        ("rsi", &[1.0], "period"),
        ("cmo", &[1.0], "period"),
        ("roc", &[0.0], "period"),
        ("mom", &[0.0], "period"),
        ("stddev", &[1.0], "period"),
        ("stddev", &[5.0, f64::INFINITY], "nbdev"),
        ("stddev", &[5.0, -3.1e37], "nbdev"),
        ("bb_upper", &[1.0], "period"),
        ("bb_lower", &[20.0, 2.0, 4e37], "nbdev_dn"),
        ("macd", &[1.0], "fast"),
        ("macd_signal", &[12.0, 1.0], "slow"),
        ("macd_hist", &[12.0, 26.0, 0.0], "signal"),
        ("atr", &[0.0], "period"),
        ("adx", &[1.0], "period"),
        ("plus_di", &[0.0], "period"),
        ("cci", &[1.0], "period"),
        ("willr", &[1.0], "period"),
        ("stoch_k", &[0.0], "fastk_period"),
        ("stoch_d", &[5.0, 3.0, 0.0], "slowd_period"),
        ("mfi", &[1.0], "period"),
    ];
    for (name, params, param) in cases {
        let err = build(name, params).expect_err(&format!("{name} {params:?} must be rejected"));
        assert!(
            err.contains(&format!("`{param}`")),
            "{name}: error `{err}` should name `{param}`"
        );
        assert!(
            err.contains(".."),
            "{name}: error `{err}` should give the range"
        );
    }
}

#[test]
fn boundary_params_are_accepted() {
    let cases: &[(&str, &[f64])] = &[
        ("sma", &[1.0]),
        ("sma", &[100_000.0]),
        ("ema", &[1.0]),
        ("kama", &[1.0]),
        ("rsi", &[2.0]),
        ("roc", &[1.0]),
        ("mom", &[1.0]),
        ("stddev", &[2.0, -3e37]),
        ("bb_upper", &[2.0, 0.0, -1.0]),
        ("macd", &[2.0, 2.0, 1.0]),
        ("atr", &[1.0]),
        ("natr", &[1.0]),
        ("adx", &[2.0]),
        ("plus_di", &[1.0]),
        ("minus_di", &[1.0]),
        ("stoch_k", &[1.0, 1.0, 1.0]),
        ("mfi", &[2.0]),
    ];
    for (name, params) in cases {
        assert!(
            build(name, params).is_ok(),
            "{name} {params:?} must be accepted"
        );
    }
}

#[test]
fn omitted_params_take_the_defaults() {
    for s in specs() {
        let defaults: Vec<f64> = s.params.iter().map(|p| p.default).collect();
        let mut a = build(s.name, &[]).unwrap();
        let mut b = build(s.name, &defaults).unwrap();
        for i in 0..200 {
            let x = inputs(s.name, i);
            let (ga, gb) = (a.update(&x), b.update(&x));
            assert_eq!(
                ga.map(f64::to_bits),
                gb.map(f64::to_bits),
                "{} bar {i}",
                s.name
            );
        }
    }
    // Trailing params only: stddev with its default nbdev, macd with its default signal.
    assert_eq!(warm_up("stddev", &[7.0], 50), 6);
    assert_eq!(warm_up("macd", &[5.0, 35.0], 100), 34 + 8);
}

#[test]
fn warm_up_lengths_match_talib_lookbacks() {
    let cases: &[(&str, &[f64], usize)] = &[
        ("sma", &[30.0], 29),
        ("ema", &[10.0], 9),
        ("wma", &[9.0], 8),
        ("dema", &[10.0], 18),
        ("tema", &[10.0], 27),
        ("trima", &[11.0], 10),
        ("kama", &[10.0], 10),
        ("kama", &[1.0], 0),
        ("rsi", &[14.0], 14),
        ("cmo", &[9.0], 9),
        ("roc", &[3.0], 3),
        ("mom", &[1.0], 1),
        ("stddev", &[5.0, 1.0], 4),
        ("bb_middle", &[20.0, 2.0, 2.0], 19),
        ("macd_signal", &[12.0, 26.0, 9.0], 33),
        ("macd", &[26.0, 12.0, 9.0], 33),
        ("atr", &[1.0], 1),
        ("natr", &[21.0], 21),
        ("adx", &[10.0], 19),
        ("plus_di", &[14.0], 14),
        ("minus_di", &[1.0], 1),
        ("cci", &[20.0], 19),
        ("willr", &[7.0], 6),
        ("stoch_k", &[14.0, 3.0, 3.0], 17),
        ("stoch_d", &[5.0, 3.0, 3.0], 8),
        ("mfi", &[10.0], 10),
        ("obv", &[], 0),
    ];
    for (name, params, lookback) in cases {
        assert_eq!(warm_up(name, params, 200), *lookback, "{name} {params:?}");
    }
}

#[test]
fn a_partition_shorter_than_the_warm_up_gives_only_none() {
    for s in specs() {
        if s.name == "obv" {
            continue;
        }
        let defaults: Vec<f64> = s.params.iter().map(|p| p.default).collect();
        let lookback = warm_up(s.name, &defaults, 500);
        assert!(lookback > 0 && lookback < 500, "{}", s.name);
        let mut ind = build(s.name, &defaults).unwrap();
        for i in 0..lookback {
            assert!(
                ind.update(&inputs(s.name, i)).is_none(),
                "{} bar {i}",
                s.name
            );
        }
    }
}

#[test]
fn period_one_averages_copy_the_input() {
    for name in ["sma", "ema", "wma", "dema", "tema", "trima", "kama"] {
        let mut ind = build(name, &[1.0]).unwrap();
        for (i, x) in [1.0, 3.3, 100.7, 0.01, 5e5, 3.0, 7.0, 1e-3]
            .into_iter()
            .enumerate()
        {
            assert_eq!(ind.update(&[x]), Some(x), "{name} bar {i}");
        }
    }
}

#[test]
fn flat_input_gives_talib_neutral_values() {
    let flat = |name: &str, params: &[f64]| {
        let mut ind = build(name, params).unwrap();
        let n = spec(name).unwrap().inputs.len();
        let mut last = None;
        for _ in 0..60 {
            last = ind.update(&vec![5.0; n]);
        }
        last.unwrap()
    };
    assert_eq!(flat("rsi", &[14.0]), 0.0);
    assert_eq!(flat("cmo", &[14.0]), 0.0);
    assert_eq!(flat("stddev", &[5.0, 2.0]), 0.0);
    assert_eq!(flat("bb_upper", &[20.0, 2.0, 2.0]), 5.0);
    assert_eq!(flat("willr", &[14.0]), 0.0);
    assert_eq!(flat("stoch_k", &[5.0, 3.0, 3.0]), 0.0);
    assert_eq!(flat("cci", &[14.0]), 0.0);
    assert_eq!(flat("adx", &[14.0]), 0.0);
    assert_eq!(flat("mfi", &[14.0]), 0.0);
}

#[test]
fn the_batch_path_equals_bar_by_bar_updates_bit_for_bit() {
    let n = 400;
    // a stretch of identical bars (KAMA's zero-volatility reset, WILLR's flat range, ...)
    let flat = |i: usize| if (200..240).contains(&i) { 200 } else { i };
    for s in specs() {
        let rows: Vec<Vec<f64>> = (0..n).map(|i| inputs(s.name, flat(i))).collect();
        let columns: Vec<Vec<f64>> = (0..s.inputs.len()).map(|k| rows.iter().map(|r| r[k]).collect()).collect();
        let slices: Vec<&[f64]> = columns.iter().map(|c| c.as_slice()).collect();
        // the defaults, then the smallest periods and a few others
        let mut param_sets = vec![vec![]];
        if let Some(period) = s.params.first().filter(|p| p.integer) {
            param_sets.extend([period.min, period.min + 1.0, 7.0, 23.0].map(|p| vec![p]));
        }
        // and every parameter off its default (distinct deviations: BBANDS' unequal-bands path)
        if s.params.len() > 1 {
            param_sets.push(
                s.params
                    .iter()
                    .enumerate()
                    .map(|(k, p)| if p.integer { p.default + 1.0 } else { p.default + 0.25 * (k + 1) as f64 })
                    .collect(),
            );
        }
        for params in &param_sets {
            let mut one = build(s.name, params).unwrap();
            let expected: Vec<Option<f64>> = rows.iter().map(|r| one.update(r)).collect();
            // in uneven batches (state carries over), one shorter than most warm-ups, then bar by
            // bar (the batches left the state as `update` would)
            let (mut values, mut valid) = (Vec::new(), Vec::new());
            let mut batched = build(s.name, params).unwrap();
            for (from, to) in [(0, 7), (7, 150), (150, 170), (170, 300)] {
                let part: Vec<&[f64]> = slices.iter().map(|c| &c[from..to]).collect();
                batched.update_batch(&part, &mut values, &mut valid);
            }
            let mut got: Vec<Option<f64>> = values.iter().zip(&valid).map(|(v, ok)| ok.then_some(*v)).collect();
            got.extend(rows[300..].iter().map(|r| batched.update(r)));
            assert_eq!(got.len(), n, "{} {params:?}", s.name);
            for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
                assert!(
                    a.map(f64::to_bits) == b.map(f64::to_bits),
                    "{} {params:?} bar {i}: batch {a:?}, update {b:?}",
                    s.name
                );
            }
        }
    }
}
