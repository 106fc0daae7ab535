//! TRIMA: triangular moving average (TA-Lib `TA_TRIMA`).

use crate::indicators::window::Ring;
use crate::indicators::Indicator;

/// Triangular moving average, TA-Lib `TA_TRIMA` (weights 1, 2, .., n, .., 2, 1).
///
/// Reproduces TA-Lib's incremental form: a `numerator` adjusted each bar through the two
/// half-window totals `numerator_sub` (oldest half) and `numerator_add` (newest half), with the
/// odd/even step orders of the C code, then multiplied by `1 / sum(weights)`.
/// Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Trima {
    period: usize,
    /// `period / 2` (integer division).
    half: usize,
    factor: f64,
    /// The last `period + 1` inputs: today, the middle bar and the bar leaving the window.
    window: Ring,
    numerator: f64,
    numerator_sub: f64,
    numerator_add: f64,
    primed: bool,
}

impl Trima {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        let half = period >> 1;
        let weights = if period % 2 == 1 {
            (half + 1) as f64 * (half + 1) as f64
        } else {
            half as f64 * (half + 1) as f64
        };
        Trima {
            period,
            half,
            factor: 1.0 / weights,
            window: Ring::new(period + 1),
            numerator: 0.0,
            numerator_sub: 0.0,
            numerator_add: 0.0,
            primed: false,
        }
    }

    /// Feeds one value; returns the TRIMA once `period` values have been seen.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if !self.primed {
            if self.window.len() < self.period {
                return None;
            }
            self.prime();
            return Some(self.numerator * self.factor);
        }
        let odd = self.period % 2 == 1;
        // Step (1): drop the bar leaving the window, move the middle bar into the old half.
        self.numerator -= self.numerator_sub;
        self.numerator_sub -= self.window.ago(self.period);
        let middle = self.window.ago(self.half);
        self.numerator_sub += middle;
        // Step (2): move the middle bar out of the new half, add today.
        if odd {
            self.numerator += self.numerator_add;
            self.numerator_add -= middle;
        } else {
            self.numerator_add -= middle;
            self.numerator += self.numerator_add;
        }
        self.numerator_add += x;
        // Step (3).
        self.numerator += x;
        Some(self.numerator * self.factor)
    }

    /// First window: TA-Lib's two priming loops (old half walked backwards from the middle).
    fn prime(&mut self) {
        self.primed = true;
        let p = self.period;
        // Window slots by age: the oldest bar is `p - 1` ago, today is 0 ago.
        let middle_age = if p % 2 == 1 {
            p - 1 - self.half
        } else {
            p - self.half
        };
        for age in middle_age..p {
            self.numerator_sub += self.window.ago(age);
            self.numerator += self.numerator_sub;
        }
        for age in (0..middle_age).rev() {
            self.numerator_add += self.window.ago(age);
            self.numerator += self.numerator_add;
        }
    }
}

impl Indicator for Trima {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Past the first `period` bars of the batch (which go through `step`), the bars leaving the
    /// window and the halves are read from the input slice instead of the ring; same operations
    /// in the same order, so the same bits. The ring then takes the batch's last `period + 1` values.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let x = columns[0];
        let (n, p, half) = (x.len(), self.period, self.half);
        let Some((from, out)) = crate::indicators::batch::warm_then_tail(self, columns, |_, at| at >= p, values, valid) else { return };
        let (odd, factor) = (p % 2 == 1, self.factor);
        let (mut num, mut num_sub, mut num_add) = (self.numerator, self.numerator_sub, self.numerator_add);
        for i in from..n {
            let v = x[i];
            num -= num_sub;
            num_sub -= x[i - p];
            let middle = x[i - half];
            num_sub += middle;
            if odd {
                num += num_add;
                num_add -= middle;
            } else {
                num_add -= middle;
                num += num_add;
            }
            num_add += v;
            num += v;
            out[i - from] = num * factor;
        }
        (self.numerator, self.numerator_sub, self.numerator_add) = (num, num_sub, num_add);
        for &v in &x[n - (p + 1)..] {
            self.window.push(v);
        }
    }
}
