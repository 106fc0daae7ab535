//! CCI: commodity channel index (TA-Lib `TA_CCI`).

use crate::indicators::window::is_zero_scaled;
use crate::indicators::Indicator;

/// Commodity channel index, TA-Lib `TA_CCI`. Inputs: high, low, close. Lookback `period - 1`.
///
/// Typical prices `(h + l + c) / 3` live in a circular buffer laid out like TA-Lib's (bar `i`
/// in slot `i % period`); the mean and the mean absolute deviation are summed over the slots in
/// slot order, as TA-Lib does, so the O(period) rescan per bar is TA-Lib's own. Output
/// `(tp - mean) / (0.015 * mean_dev)`, 0 when either term is within `TA_EPSILON * |mean|` of zero.
#[derive(Debug, Clone)]
pub struct Cci {
    period: usize,
    slots: Vec<f64>,
    next_slot: usize,
    seen: usize,
}

impl Cci {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Cci {
            period,
            slots: vec![0.0; period],
            next_slot: 0,
            seen: 0,
        }
    }

    /// Feeds one bar; returns the CCI once `period` bars have been seen.
    #[inline(always)]
    pub fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let last = (high + low + close) / 3.0;
        self.slots[self.next_slot] = last;
        self.next_slot = (self.next_slot + 1) % self.period;
        self.seen += 1;
        if self.seen < self.period {
            return None;
        }
        let period = self.period as f64;
        let mut average = 0.0;
        for &v in &self.slots {
            average += v;
        }
        average /= period;
        let mut mean_dev = 0.0;
        for &v in &self.slots {
            mean_dev += (v - average).abs();
        }
        mean_dev /= period;
        let dev = last - average;
        // Flatness is judged relative to the window's own price level (TA-Lib 0.8, #253).
        let level = average.abs();
        Some(
            if !is_zero_scaled(dev, level) && !is_zero_scaled(mean_dev, level) {
                dev / (0.015 * mean_dev)
            } else {
                0.0
            },
        )
    }
}

impl Indicator for Cci {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }
}
