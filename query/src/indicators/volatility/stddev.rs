//! STDDEV: population standard deviation (TA-Lib `TA_STDDEV`) and its variance core (`TA_VAR`).

use crate::indicators::window::Ring;
use crate::indicators::batch;
use crate::indicators::Indicator;

/// TA-Lib 0.8's cancellation-free rolling variance (`TA_VAR`, #118/#243), shared with BBANDS.
///
/// Running sums of `x - shift` and `(x - shift)^2`, with `shift` first the window's first value.
/// When the variance falls below 1e-6 of the mean squared deviation, when the value leaving the
/// window dominates the surviving sum, or every `32 * period` bars, the shift is re-anchored to
/// the window mean and both sums are rebuilt from the window (floored to 0 below 1e-12 of scale).
#[derive(Debug, Clone)]
pub(crate) struct Variance {
    period: usize,
    inv_period: f64,
    window: Ring,
    shift: f64,
    total1: f64,
    total2: f64,
    bars_since_reseed: usize,
}

impl Variance {
    pub(crate) fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Variance {
            period,
            inv_period: 1.0 / period as f64,
            window: Ring::new(period),
            shift: 0.0,
            total1: 0.0,
            total2: 0.0,
            bars_since_reseed: 32 * period,
        }
    }

    /// Feeds one value; returns the population variance once `period` values have been seen.
    #[inline(always)]
    pub(crate) fn step(&mut self, x: f64) -> Option<f64> {
        if self.window.len() == 0 {
            self.shift = x;
        }
        self.window.push(x);
        let mut dev = x - self.shift;
        self.total1 += dev;
        dev *= dev;
        self.total2 += dev;
        if self.window.len() < self.period {
            return None;
        }
        let inv = self.inv_period;
        let mean1 = self.total1 * inv;
        let mut variance = self.total2 * inv - mean1 * mean1;

        // Remove the trailing value (prepares the next window).
        let trailing = self.window.ago(self.period - 1);
        let mut dev = trailing - self.shift;
        self.total1 -= dev;
        dev *= dev;
        self.total2 -= dev;

        self.bars_since_reseed -= 1;
        if variance < 0.000001 * (self.total2 * inv)
            || dev > 1000000.0 * self.total2
            || self.bars_since_reseed == 0
        {
            variance = self.reseed();
        }
        Some(variance)
    }

    /// Re-anchors the shift on the window mean, rebuilds the sums and returns the fresh variance.
    fn reseed(&mut self) -> f64 {
        self.bars_since_reseed = 32 * self.period;
        let variance;
        (self.shift, self.total1, self.total2, variance) = rebuild(|| self.window.oldest_first(), self.inv_period);
        variance
    }

    /// `step` for bars `from..` of `x` once every bar's window lies in `x` and the warm-up is
    /// done (bar `from - 1` and all before it fed): the value leaving the window and the reseeds
    /// read the slice, the sums live in locals; the same operations in the same order, so the same
    /// bits. Writes each bar's variance to `out`; the ring then takes the last `period` values.
    #[inline(always)]
    pub(crate) fn fill(&mut self, x: &[f64], from: usize, out: &mut [f64]) {
        let (p, inv, n) = (self.period, self.inv_period, from + out.len());
        let (mut shift, mut total1, mut total2, mut since) = (self.shift, self.total1, self.total2, self.bars_since_reseed);
        for (i, o) in (from..n).zip(out.iter_mut()) {
            let mut dev = x[i] - shift;
            total1 += dev;
            dev *= dev;
            total2 += dev;
            let mean1 = total1 * inv;
            let mut variance = total2 * inv - mean1 * mean1;
            let mut dev = x[i + 1 - p] - shift;
            total1 -= dev;
            dev *= dev;
            total2 -= dev;
            since -= 1;
            if variance < 0.000001 * (total2 * inv) || dev > 1000000.0 * total2 || since == 0 {
                since = 32 * p;
                (shift, total1, total2, variance) = rebuild(|| x[i + 1 - p..=i].iter().copied(), inv);
            }
            *o = variance;
        }
        (self.shift, self.total1, self.total2, self.bars_since_reseed) = (shift, total1, total2, since);
        for &v in &x[n - p..n] {
            self.window.push(v);
        }
    }
}

/// TA-Lib's re-anchoring over a full window (`window()` yields it oldest first, twice): the shift
/// becomes the window mean, both sums are rebuilt, the variance is taken (floored to 0 below 1e-12
/// of scale), and the oldest value is removed from the sums for the next bar. Returns the shift,
/// the two sums and the variance.
fn rebuild<I: Iterator<Item = f64>>(window: impl Fn() -> I, inv: f64) -> (f64, f64, f64, f64) {
    let mut sum = 0.0;
    for v in window() {
        sum += v;
    }
    let shift = sum * inv;
    let (mut total1, mut total2) = (0.0, 0.0);
    for v in window() {
        let dev = v - shift;
        total1 += dev;
        total2 += dev * dev;
    }
    let mean1 = total1 * inv;
    let mut variance = total2 * inv - mean1 * mean1;
    if variance < 0.000000000001 * (total2 * inv) {
        variance = 0.0;
    }
    let oldest = window().next().unwrap_or(0.0);
    let dev = oldest - shift;
    total1 -= dev;
    total2 -= dev * dev;
    (shift, total1, total2, variance)
}

/// Standard deviation, TA-Lib `TA_STDDEV`: `sqrt(variance) * nbdev` (population variance over
/// `period` values, see [`Variance`]). Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct StdDev {
    variance: Variance,
    nbdev: f64,
}

impl StdDev {
    /// `period` ≥ 2; `nbdev` any finite real.
    pub fn new(period: usize, nbdev: f64) -> Self {
        StdDev {
            variance: Variance::new(period),
            nbdev,
        }
    }

    /// Feeds one value; returns the deviation once `period` values have been seen.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        let variance = self.variance.step(x)?;
        Some(if self.nbdev != 1.0 {
            variance.sqrt() * self.nbdev
        } else {
            variance.sqrt()
        })
    }
}

impl Indicator for StdDev {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Once a bar's whole window lies in the batch, [`Variance::fill`], then the square roots in
    /// a loop the compiler vectorises.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let p = self.variance.period;
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |_, at| at + 1 >= p, values, valid) {
            self.variance.fill(columns[0], from, out);
            let nbdev = self.nbdev;
            if nbdev != 1.0 {
                out.iter_mut().for_each(|v| *v = v.sqrt() * nbdev);
            } else {
                out.iter_mut().for_each(|v| *v = v.sqrt());
            }
        }
    }
}
