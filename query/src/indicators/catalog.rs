//! The indicator table (specs in spec order) and the constructor dispatch behind `build`.

use super::average::{
    dema::Dema, ema::Ema, kama::Kama, sma::Sma, tema::Tema, trima::Trima, wma::Wma,
};
use super::momentum::{
    cci::Cci, cmo::Cmo, mom::Mom, roc::Roc, rsi::Rsi, stoch::StochD, stoch::StochK, willr::Willr,
};
use super::trend::{
    adx::Adx, macd::Macd, macd::MacdHist, macd::MacdSignal, minus_di::MinusDi, plus_di::PlusDi,
};
use super::volatility::{
    atr::Atr, bbands::BbLower, bbands::BbMiddle, bbands::BbUpper, natr::Natr, stddev::StdDev,
};
use super::volume::{mfi::Mfi, obv::Obv};
use super::{Indicator, ParamSpec, Spec};

/// Largest period TA-Lib accepts for any function.
const MAX_PERIOD: f64 = 100_000.0;
/// TA-Lib's real-parameter bounds (TA_REAL_MIN / TA_REAL_MAX).
const REAL_MIN: f64 = -3e37;
const REAL_MAX: f64 = 3e37;

const SOURCE: &[&str] = &["source"];
const HLC: &[&str] = &["high", "low", "close"];
const HLCV: &[&str] = &["high", "low", "close", "volume"];
const SOURCE_VOLUME: &[&str] = &["source", "volume"];

const fn period(name: &'static str, default: f64, min: f64) -> ParamSpec {
    ParamSpec {
        name,
        default,
        min,
        max: MAX_PERIOD,
        integer: true,
    }
}

const fn real(name: &'static str, default: f64) -> ParamSpec {
    ParamSpec {
        name,
        default,
        min: REAL_MIN,
        max: REAL_MAX,
        integer: false,
    }
}

const MA30: &[ParamSpec] = &[period("period", 30.0, 1.0)];
const P14_MIN2: &[ParamSpec] = &[period("period", 14.0, 2.0)];
const P14_MIN1: &[ParamSpec] = &[period("period", 14.0, 1.0)];
const P10_MIN1: &[ParamSpec] = &[period("period", 10.0, 1.0)];
const STDDEV: &[ParamSpec] = &[period("period", 5.0, 2.0), real("nbdev", 1.0)];
const BBANDS: &[ParamSpec] = &[
    period("period", 20.0, 2.0),
    real("nbdev_up", 2.0),
    real("nbdev_dn", 2.0),
];
const MACD: &[ParamSpec] = &[
    period("fast", 12.0, 2.0),
    period("slow", 26.0, 2.0),
    period("signal", 9.0, 1.0),
];
const STOCH: &[ParamSpec] = &[
    period("fastk_period", 5.0, 1.0),
    period("slowk_period", 3.0, 1.0),
    period("slowd_period", 3.0, 1.0),
];

const fn s(
    name: &'static str,
    inputs: &'static [&'static str],
    params: &'static [ParamSpec],
    talib: &'static str,
    doc: &'static str,
) -> Spec {
    Spec {
        name,
        inputs,
        params,
        talib,
        doc,
    }
}

/// Every indicator output of the spec table, in table order.
pub(super) const SPECS: &[Spec] = &[
    s("sma", SOURCE, MA30, "SMA", "Simple moving average."),
    s(
        "ema",
        SOURCE,
        MA30,
        "EMA",
        "Exponential moving average seeded with the SMA of the first period.",
    ),
    s(
        "wma",
        SOURCE,
        MA30,
        "WMA",
        "Linearly weighted moving average.",
    ),
    s(
        "dema",
        SOURCE,
        MA30,
        "DEMA",
        "Double exponential moving average: 2*EMA - EMA(EMA).",
    ),
    s(
        "tema",
        SOURCE,
        MA30,
        "TEMA",
        "Triple exponential moving average: 3*EMA1 - 3*EMA2 + EMA3.",
    ),
    s(
        "trima",
        SOURCE,
        MA30,
        "TRIMA",
        "Triangular moving average (SMA of an SMA).",
    ),
    s(
        "kama",
        SOURCE,
        MA30,
        "KAMA",
        "Kaufman adaptive moving average.",
    ),
    s(
        "rsi",
        SOURCE,
        P14_MIN2,
        "RSI",
        "Wilder's relative strength index, 0..100.",
    ),
    s(
        "cmo",
        SOURCE,
        P14_MIN2,
        "CMO",
        "Chande momentum oscillator, -100..100.",
    ),
    s(
        "roc",
        SOURCE,
        P10_MIN1,
        "ROC",
        "Rate of change in percent: (x/x[n ago] - 1) * 100.",
    ),
    s("mom", SOURCE, P10_MIN1, "MOM", "Momentum: x - x[n ago]."),
    s(
        "stddev",
        SOURCE,
        STDDEV,
        "STDDEV",
        "Population standard deviation over the period, times nbdev.",
    ),
    s(
        "bb_upper",
        SOURCE,
        BBANDS,
        "BBANDS upper band (matype 0)",
        "Bollinger upper band: SMA + nbdev_up * stddev.",
    ),
    s(
        "bb_middle",
        SOURCE,
        BBANDS,
        "BBANDS middle band (matype 0)",
        "Bollinger middle band: SMA of the period.",
    ),
    s(
        "bb_lower",
        SOURCE,
        BBANDS,
        "BBANDS lower band (matype 0)",
        "Bollinger lower band: SMA - nbdev_dn * stddev.",
    ),
    s(
        "macd",
        SOURCE,
        MACD,
        "MACD macd",
        "MACD line: fast EMA - slow EMA.",
    ),
    s(
        "macd_signal",
        SOURCE,
        MACD,
        "MACD macdsignal",
        "MACD signal line: EMA of the MACD line.",
    ),
    s(
        "macd_hist",
        SOURCE,
        MACD,
        "MACD macdhist",
        "MACD histogram: MACD line - signal line.",
    ),
    s(
        "atr",
        HLC,
        P14_MIN1,
        "ATR",
        "Average true range (Wilder smoothing).",
    ),
    s(
        "natr",
        HLC,
        P14_MIN1,
        "NATR",
        "Normalized average true range: ATR / close * 100.",
    ),
    s(
        "adx",
        HLC,
        P14_MIN2,
        "ADX",
        "Average directional movement index.",
    ),
    s(
        "plus_di",
        HLC,
        P14_MIN1,
        "PLUS_DI",
        "Plus directional indicator.",
    ),
    s(
        "minus_di",
        HLC,
        P14_MIN1,
        "MINUS_DI",
        "Minus directional indicator.",
    ),
    s("cci", HLC, P14_MIN2, "CCI", "Commodity channel index."),
    s("willr", HLC, P14_MIN2, "WILLR", "Williams' %R, -100..0."),
    s(
        "stoch_k",
        HLC,
        STOCH,
        "STOCH slowk (matype 0)",
        "Slow stochastic %K: SMA of fast %K.",
    ),
    s(
        "stoch_d",
        HLC,
        STOCH,
        "STOCH slowd (matype 0)",
        "Slow stochastic %D: SMA of slow %K.",
    ),
    s("mfi", HLCV, P14_MIN2, "MFI", "Money flow index, 0..100."),
    s(
        "obv",
        SOURCE_VOLUME,
        &[],
        "OBV",
        "On-balance volume over source and volume.",
    ),
];

/// Builds the indicator `name` from already validated, complete `params` (spec order).
pub(super) fn construct(name: &str, p: &[f64]) -> Box<dyn Indicator> {
    let n = |i: usize| p[i] as usize;
    match name {
        "sma" => Box::new(Sma::new(n(0))),
        "ema" => Box::new(Ema::new(n(0))),
        "wma" => Box::new(Wma::new(n(0))),
        "dema" => Box::new(Dema::new(n(0))),
        "tema" => Box::new(Tema::new(n(0))),
        "trima" => Box::new(Trima::new(n(0))),
        "kama" => Box::new(Kama::new(n(0))),
        "rsi" => Box::new(Rsi::new(n(0))),
        "cmo" => Box::new(Cmo::new(n(0))),
        "roc" => Box::new(Roc::new(n(0))),
        "mom" => Box::new(Mom::new(n(0))),
        "stddev" => Box::new(StdDev::new(n(0), p[1])),
        "bb_upper" => Box::new(BbUpper::new(n(0), p[1], p[2])),
        "bb_middle" => Box::new(BbMiddle::new(n(0), p[1], p[2])),
        "bb_lower" => Box::new(BbLower::new(n(0), p[1], p[2])),
        "macd" => Box::new(Macd::new(n(0), n(1), n(2))),
        "macd_signal" => Box::new(MacdSignal::new(n(0), n(1), n(2))),
        "macd_hist" => Box::new(MacdHist::new(n(0), n(1), n(2))),
        "atr" => Box::new(Atr::new(n(0))),
        "natr" => Box::new(Natr::new(n(0))),
        "adx" => Box::new(Adx::new(n(0))),
        "plus_di" => Box::new(PlusDi::new(n(0))),
        "minus_di" => Box::new(MinusDi::new(n(0))),
        "cci" => Box::new(Cci::new(n(0))),
        "willr" => Box::new(Willr::new(n(0))),
        "stoch_k" => Box::new(StochK::new(n(0), n(1), n(2))),
        "stoch_d" => Box::new(StochD::new(n(0), n(1), n(2))),
        "mfi" => Box::new(Mfi::new(n(0))),
        "obv" => Box::new(Obv::new()),
        other => unreachable!("`{other}` is in SPECS but has no constructor"),
    }
}
