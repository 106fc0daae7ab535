//! DEMA: double exponential moving average (TA-Lib `TA_DEMA`).

use super::ema::{ema_step, Ema};
use crate::indicators::batch::{self, Fill};
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
    /// Once both EMAs are seeded, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if self.ema1.is_copy() {
            return batch::run_portable(self, columns, values, valid);
        }
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |d, _| d.ema2.is_steady(), values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Dema {
    /// Both EMA steps per bar with the running values in registers (as TA-Lib 0.8 runs them, one
    /// loop for the chain).
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let (k, mut e1, mut e2) = (self.ema1.k, self.ema1.prev, self.ema2.prev);
        for (o, &x) in out.iter_mut().zip(&columns[0][from..]) {
            e1 = ema_step(e1, x, k);
            e2 = ema_step(e2, e1, k);
            *o = (2.0 * e1) - e2;
        }
        (self.ema1.prev, self.ema2.prev) = (e1, e2);
    }
}
