//! STDDEV: population standard deviation (TA-Lib `TA_STDDEV`) and its variance core (`TA_VAR`).

use crate::indicators::window::Ring;
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
        let inv = self.inv_period;
        let mut sum = 0.0;
        for v in self.window.oldest_first() {
            sum += v;
        }
        self.shift = sum * inv;
        self.total1 = 0.0;
        self.total2 = 0.0;
        for v in self.window.oldest_first() {
            let dev = v - self.shift;
            self.total1 += dev;
            self.total2 += dev * dev;
        }
        let mean1 = self.total1 * inv;
        let mut variance = self.total2 * inv - mean1 * mean1;
        if variance < 0.000000000001 * (self.total2 * inv) {
            variance = 0.0;
        }
        let dev = self.window.ago(self.period - 1) - self.shift;
        self.total1 -= dev;
        self.total2 -= dev * dev;
        variance
    }
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
}
