//! Momentum oscillators: RSI, CMO, ROC, MOM, stochastic, Williams' %R and CCI.

pub mod cci;
pub mod cmo;
pub mod mom;
pub mod roc;
pub mod rsi;
pub mod stoch;
pub mod willr;
