//! WILLR: Williams' %R (TA-Lib `TA_WILLR`).

use crate::indicators::window::{is_zero_scaled, Extremes};
use crate::indicators::Indicator;

/// Williams' %R, TA-Lib `TA_WILLR`: `-100 * ((highest - close) / (highest - lowest))` over the
/// last `period` bars, 0 when the range is within `TA_EPSILON * (|highest| + |lowest|)` of zero. Inputs: high, low, close. Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Willr {
    extremes: Extremes,
}

impl Willr {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Willr {
            extremes: Extremes::new(period),
        }
    }

    /// Feeds one bar; returns %R once `period` bars have been seen.
    #[inline]
    pub fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.extremes.push(high, low);
        if !self.extremes.is_full() {
            return None;
        }
        let (highest, lowest) = (self.extremes.highest(), self.extremes.lowest());
        let range = highest - lowest;
        // A range within TA_EPSILON of the window's own level counts as flat (TA-Lib 0.8, #253).
        Some(if is_zero_scaled(range, highest.abs() + lowest.abs()) {
            0.0
        } else {
            -100.0 * ((highest - close) / range)
        })
    }
}

impl Indicator for Willr {
    #[inline]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }
}
