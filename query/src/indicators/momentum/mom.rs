//! MOM: momentum (TA-Lib `TA_MOM`).

use crate::indicators::window::Ring;
use crate::indicators::Indicator;

/// Momentum, TA-Lib `TA_MOM`: `x - x[period ago]`. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Mom {
    period: usize,
    window: Ring,
}

impl Mom {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Mom {
            period,
            window: Ring::new(period + 1),
        }
    }

    /// Feeds one value; returns the momentum from the `period + 1`-th value on.
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if self.window.len() <= self.period {
            return None;
        }
        Some(x - self.window.ago(self.period))
    }
}

impl Indicator for Mom {
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
}
