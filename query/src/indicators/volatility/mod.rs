//! Volatility indicators: standard deviation, Bollinger Bands, ATR and NATR.

pub mod atr;
pub mod bbands;
pub mod natr;
pub mod stddev;
