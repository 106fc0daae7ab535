//! DEMA: double exponential moving average (TA-Lib `TA_DEMA`).

use super::ema::Ema;
use crate::indicators::Indicator;

/// Double exponential moving average, TA-Lib `TA_DEMA`: `(2 * EMA1) - EMA2` where EMA2 is the
/// EMA of EMA1, itself seeded with the average of EMA1's first `period` values.
/// Lookback `2 * (period - 1)`; period 1 is a copy of the input.
#[derive(Debug, Clone)]
pub struct Dema {
    ema1: Ema,
    ema2: Ema,
}

impl Dema {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        Dema {
            ema1: Ema::new(period),
            ema2: Ema::new(period),
        }
    }

    /// Feeds one value; returns the DEMA after the warm-up.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        let e1 = self.ema1.step(x)?;
        let e2 = self.ema2.step(e1)?;
        Some((2.0 * e1) - e2)
    }
}

impl Indicator for Dema {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
