//! Volume indicators: OBV and MFI.

pub mod mfi;
pub mod obv;
