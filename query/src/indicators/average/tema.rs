//! TEMA: triple exponential moving average (TA-Lib `TA_TEMA`).

use super::ema::{ema_step, Ema};
use crate::indicators::batch::{self, Fill};
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
    /// Once the three EMAs are seeded, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if self.copy {
            return batch::run_portable(self, columns, values, valid);
        }
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |t, _| t.ema3.is_steady(), values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Tema {
    /// The three EMA steps per bar with the running values in registers (as TA-Lib 0.8 runs
    /// them, one loop for the chain).
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let k = self.ema1.k;
        let (mut e1, mut e2, mut e3) = (self.ema1.prev, self.ema2.prev, self.ema3.prev);
        for (o, &x) in out.iter_mut().zip(&columns[0][from..]) {
            e1 = ema_step(e1, x, k);
            e2 = ema_step(e2, e1, k);
            e3 = ema_step(e3, e2, k);
            *o = e3 + ((3.0 * e1) - (3.0 * e2));
        }
        (self.ema1.prev, self.ema2.prev, self.ema3.prev) = (e1, e2, e3);
    }
}
