//! TEMA: triple exponential moving average (TA-Lib `TA_TEMA`).

use super::ema::Ema;
use crate::indicators::Indicator;

/// Triple exponential moving average, TA-Lib `TA_TEMA`: `EMA3 + ((3 * EMA1) - (3 * EMA2))`
/// (TA-Lib's grouping), each EMA seeded with the average of the first `period` values of the
/// one before it. Lookback `3 * (period - 1)`; period 1 is an exact copy of the input.
#[derive(Debug, Clone)]
pub struct Tema {
    copy: bool,
    ema1: Ema,
    ema2: Ema,
    ema3: Ema,
}

impl Tema {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        Tema {
            copy: period == 1,
            ema1: Ema::new(period),
            ema2: Ema::new(period),
            ema3: Ema::new(period),
        }
    }

    /// Feeds one value; returns the TEMA after the warm-up.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        if self.copy {
            return Some(x);
        }
        let e1 = self.ema1.step(x)?;
        let e2 = self.ema2.step(e1)?;
        let e3 = self.ema3.step(e2)?;
        Some(e3 + ((3.0 * e1) - (3.0 * e2)))
    }
}

impl Indicator for Tema {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
