//! KAMA: Kaufman adaptive moving average (TA-Lib `TA_KAMA`).

use crate::indicators::window::Ring;
use crate::indicators::batch::{self, Fill};
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
        self.prev_kama = next_kama(self.prev_kama, x, self.sum_roc1, x - self.window.ago(p));
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

/// One KAMA step from the previous value, today's input, the volatility sum and the change over
/// the period.
#[inline(always)]
fn next_kama(prev: f64, x: f64, sum_roc1: f64, period_roc: f64) -> f64 {
    // The ratio is capped at 1: a rounding residue in the running sum can leave it just
    // below |period_roc| on a one-way move (TA-Lib 0.8 answers exactly 1 there).
    let er = if sum_roc1 <= 0.0 || sum_roc1 <= period_roc.abs() {
        1.0
    } else {
        (period_roc / sum_roc1).abs()
    };
    // TA-Lib 0.8 fuses both multiply-adds of the step.
    let mut sc = er.mul_add(2.0 / (2.0 + 1.0) - CONST_MAX, CONST_MAX);
    sc *= sc;
    (x - prev).mul_add(sc, prev)
}

impl Indicator for Kama {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Once the bar leaving a window lies in the batch, the loop of [`Fill`] reads the input
    /// slice instead of the ring; the first bars go through `step`.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let p = self.period;
        if p == 1 {
            return batch::run_portable(self, columns, values, valid);
        }
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |_, at| at > p, values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Kama {
    /// `step`'s sliding branch with the window read from the slice and the state in locals: the
    /// same operations in the same order, so the same bits. The ring then takes the batch's last
    /// `period + 2` values.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let x = columns[0];
        let p = self.period;
        let n = from + out.len();
        let (mut sum_roc1, mut null_run, mut kama) = (self.sum_roc1, self.null_run, self.prev_kama);
        let bars = x[from..n]
            .iter()
            .zip(&x[from - 1..n - 1])
            .zip(x[from - p..n - p].iter().zip(&x[from - p - 1..n - p - 1]));
        for (o, ((&today, &yesterday), (&trailing, &leaving))) in out.iter_mut().zip(bars) {
            sum_roc1 -= (leaving - trailing).abs();
            let change = today - yesterday;
            sum_roc1 += change.abs();
            null_run = if change == 0.0 { (null_run + 1).min(p) } else { 0 };
            if null_run >= p {
                sum_roc1 = 0.0;
            }
            kama = next_kama(kama, today, sum_roc1, today - trailing);
            *o = kama;
        }
        (self.sum_roc1, self.null_run, self.prev_kama) = (sum_roc1, null_run, kama);
        for &v in &x[n - (p + 2)..n] {
            self.window.push(v);
        }
    }
}
