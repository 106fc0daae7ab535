//! ROC: rate of change in percent (TA-Lib `TA_ROC`).

use crate::indicators::window::Ring;
use crate::indicators::Indicator;

/// Rate of change, TA-Lib `TA_ROC`: `((x / x[period ago]) - 1) * 100`, or 0 when the older value
/// is 0. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Roc {
    period: usize,
    window: Ring,
}

impl Roc {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Roc {
            period,
            window: Ring::new(period + 1),
        }
    }

    /// Feeds one value; returns the ROC from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if self.window.len() <= self.period {
            return None;
        }
        let before = self.window.ago(self.period);
        Some(if before != 0.0 {
            ((x / before) - 1.0) * 100.0
        } else {
            0.0
        })
    }
}

impl Indicator for Roc {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
}
