//! EMA: exponential moving average (TA-Lib `TA_EMA`).

use crate::indicators::batch::{self, Fill};
use crate::indicators::Indicator;

/// Exponential moving average, TA-Lib `TA_EMA` (default compatibility, no unstable period).
///
/// Seeded with the simple average of the first `period` values (summed from 0.0 in input order),
/// then `prev = fma(x - prev, k, prev)` with `k = 2 / (period + 1)` (TA-Lib 0.8 fuses the step). Period 1 is an exact copy of
/// the input, as in TA-Lib 0.8. Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    /// The smoothing factor `2 / (period + 1)`.
    pub(super) k: f64,
    seen: usize,
    sum: f64,
    /// The last output (once seeded).
    pub(super) prev: f64,
}

impl Ema {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Ema {
            period,
            k: 2.0 / ((period + 1) as f64),
            seen: 0,
            sum: 0.0,
            prev: 0.0,
        }
    }

    /// Feeds one value; returns the EMA once `period` values have been seen.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        if self.period == 1 {
            return Some(x);
        }
        if self.seen < self.period {
            self.sum += x;
            self.seen += 1;
            if self.seen < self.period {
                return None;
            }
            self.prev = self.sum / self.period as f64;
            return Some(self.prev);
        }
        self.prev = ema_step(self.prev, x, self.k);
        Some(self.prev)
    }

    /// Whether the next value takes the plain EMA step (seeded, and period above 1).
    #[inline]
    pub(super) fn is_steady(&self) -> bool {
        self.period > 1 && self.seen >= self.period
    }

    /// Whether the EMA copies its input (period 1).
    pub(super) fn is_copy(&self) -> bool {
        self.period == 1
    }
}

/// One EMA step after the seed; TA-Lib 0.8 emits it as a fused multiply-add.
#[inline(always)]
pub(super) fn ema_step(prev: f64, x: f64, k: f64) -> f64 {
    (x - prev).mul_add(k, prev)
}

impl Indicator for Ema {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
    /// Past the seed, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if self.is_copy() {
            return batch::run_portable(self, columns, values, valid);
        }
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |e, _| e.is_steady(), values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Ema {
    /// The EMA step with the running value in a register.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let (k, mut prev) = (self.k, self.prev);
        for (o, &x) in out.iter_mut().zip(&columns[0][from..]) {
            prev = ema_step(prev, x, k);
            *o = prev;
        }
        self.prev = prev;
    }
}
