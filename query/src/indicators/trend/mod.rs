//! Trend indicators: MACD and Wilder's directional movement (ADX, +DI, -DI).

pub mod adx;
mod di;
pub mod macd;
pub mod minus_di;
pub mod plus_di;
