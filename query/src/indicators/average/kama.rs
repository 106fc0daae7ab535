//! KAMA: Kaufman adaptive moving average (TA-Lib `TA_KAMA`).

use crate::indicators::window::Ring;
use crate::indicators::Indicator;

/// TA-Lib's `constMax`: the slowest smoothing constant, `2 / (30 + 1)`.
const CONST_MAX: f64 = 2.0 / (30.0 + 1.0);

/// Kaufman adaptive moving average, TA-Lib `TA_KAMA`.
///
/// Efficiency ratio `|x - x[period ago]| / sum(|x[i] - x[i-1]|)` over the period, capped at 1
/// (and 1 when the volatility sum is not positive; the running sum is reset to exactly 0 after a
/// full period of unchanged values, as in TA-Lib 0.8), smoothing constant
/// `fma(er, 2/3 - 2/31, 2/31)^2`, seeded with the previous bar's value, and the step
/// `fma(x - kama, sc, kama)` (TA-Lib 0.8's fused multiply-adds). Lookback `period`;
/// period 1 is a copy of the input.
#[derive(Debug, Clone)]
pub struct Kama {
    period: usize,
    /// The last `period + 2` inputs: the window and the one-bar change leaving it.
    window: Ring,
    sum_roc1: f64,
    /// Consecutive one-bar changes that were exactly zero (capped at `period`).
    null_run: usize,
    prev_kama: f64,
}

impl Kama {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Kama {
            period,
            window: Ring::new(period + 2),
            sum_roc1: 0.0,
            null_run: 0,
            prev_kama: 0.0,
        }
    }

    /// Feeds one value; returns the KAMA from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        if self.period == 1 {
            return Some(x);
        }
        let p = self.period;
        self.window.push(x);
        let n = self.window.len();
        if n >= 2 && n <= p + 1 {
            // Priming: TA-Lib sums |x[i] - x[i+1]| over the first `period` differences.
            let change = self.window.ago(1) - x;
            self.sum_roc1 += change.abs();
            self.count_flat(change);
        }
        if n <= p {
            return None;
        }
        if n > p + 1 {
            // Slide: drop the oldest one-bar change, add today's.
            let leaving = self.window.ago(p + 1);
            let trailing = self.window.ago(p);
            self.sum_roc1 -= (leaving - trailing).abs();
            let change = x - self.window.ago(1);
            self.sum_roc1 += change.abs();
            // A whole window of zero changes: the sum is exactly 0, drop the rounding residue.
            if self.count_flat(change) >= p {
                self.sum_roc1 = 0.0;
            }
        } else {
            // First output: the previous bar seeds the average.
            self.prev_kama = self.window.ago(1);
        }
        let period_roc = x - self.window.ago(p);
        // The ratio is capped at 1: a rounding residue in the running sum can leave it just
        // below |period_roc| on a one-way move (TA-Lib 0.8 answers exactly 1 there).
        let er = if self.sum_roc1 <= 0.0 || self.sum_roc1 <= period_roc.abs() {
            1.0
        } else {
            (period_roc / self.sum_roc1).abs()
        };
        // TA-Lib 0.8 fuses both multiply-adds of the step.
        let mut sc = er.mul_add(2.0 / (2.0 + 1.0) - CONST_MAX, CONST_MAX);
        sc *= sc;
        self.prev_kama = (x - self.prev_kama).mul_add(sc, self.prev_kama);
        Some(self.prev_kama)
    }

    /// Updates the run of exactly-zero one-bar changes; returns its (capped) length.
    fn count_flat(&mut self, change: f64) -> usize {
        self.null_run = if change == 0.0 {
            (self.null_run + 1).min(self.period)
        } else {
            0
        };
        self.null_run
    }
}

impl Indicator for Kama {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
