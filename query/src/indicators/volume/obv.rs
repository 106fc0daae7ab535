//! OBV: on-balance volume (TA-Lib `TA_OBV`).

use crate::indicators::Indicator;

/// On-balance volume, TA-Lib `TA_OBV`. Inputs: source, volume. No warm-up.
///
/// Starts at the first bar's volume, then adds the volume on a bar whose source rose, subtracts
/// it when the source fell, and keeps it when unchanged.
#[derive(Debug, Clone, Default)]
pub struct Obv {
    started: bool,
    prev_value: f64,
    prev_obv: f64,
}

impl Obv {
    pub fn new() -> Self {
        Obv::default()
    }

    /// Feeds one bar; returns the running OBV.
    #[inline(always)]
    pub fn step(&mut self, value: f64, volume: f64) -> f64 {
        if !self.started {
            self.started = true;
            self.prev_obv = volume;
        } else if value > self.prev_value {
            self.prev_obv += volume;
        } else if value < self.prev_value {
            self.prev_obv -= volume;
        }
        self.prev_value = value;
        self.prev_obv
    }
}

impl Indicator for Obv {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        Some(self.step(inputs[0], inputs[1]))
    }
}
