//! Moving averages: SMA, EMA, WMA, DEMA, TEMA, TRIMA and KAMA.

pub mod dema;
pub mod ema;
pub mod kama;
pub mod sma;
pub mod tema;
pub mod trima;
pub mod wma;
