//! EMA: exponential moving average (TA-Lib `TA_EMA`).

use crate::indicators::Indicator;

/// Exponential moving average, TA-Lib `TA_EMA` (default compatibility, no unstable period).
///
/// Seeded with the simple average of the first `period` values (summed from 0.0 in input order),
/// then `prev = fma(x - prev, k, prev)` with `k = 2 / (period + 1)` (TA-Lib 0.8 fuses the step). Period 1 is an exact copy of
/// the input, as in TA-Lib 0.8. Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    seen: usize,
    sum: f64,
    prev: f64,
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
        // TA-Lib 0.8 emits this step as a fused multiply-add.
        self.prev = (x - self.prev).mul_add(self.k, self.prev);
        Some(self.prev)
    }
}

impl Indicator for Ema {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
