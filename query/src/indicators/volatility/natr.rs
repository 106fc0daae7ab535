//! NATR: normalized average true range (TA-Lib `TA_NATR`).

use super::atr::AtrCore;
use crate::indicators::Indicator;

/// Normalized average true range, TA-Lib `TA_NATR`: `(ATR / close) * 100`, 0 when the close is 0.
/// As in TA-Lib 0.8, period 1 returns the raw true range (not normalized).
/// Inputs: high, low, close. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Natr {
    atr: AtrCore,
    normalize: bool,
}

impl Natr {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        Natr {
            atr: AtrCore::new(period),
            normalize: period > 1,
        }
    }

    /// Feeds one bar; returns the NATR from bar `period + 1` on.
    #[inline(always)]
    pub fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let atr = self.atr.step(high, low, close)?;
        if !self.normalize {
            return Some(atr);
        }
        Some(if close != 0.0 {
            (atr / close) * 100.0
        } else {
            0.0
        })
    }
}

impl Indicator for Natr {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
