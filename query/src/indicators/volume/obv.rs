//! OBV: on-balance volume (TA-Lib `TA_OBV`).

use crate::indicators::batch;
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
        self.prev_obv = if self.started {
            next_obv(self.prev_obv, self.prev_value, value, volume)
        } else {
            self.started = true;
            volume
        };
        self.prev_value = value;
        self.prev_obv
    }
}

/// TA-Lib's OBV step: plus the volume when the value rose, minus it when it fell, unchanged
/// otherwise. Written as selects, not branches: the direction flips unpredictably bar to bar.
#[inline(always)]
fn next_obv(obv: f64, prev_value: f64, value: f64, volume: f64) -> f64 {
    let moved = if value > prev_value { obv + volume } else { obv - volume };
    if value != prev_value {
        moved
    } else {
        obv
    }
}

impl Indicator for Obv {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        Some(self.step(inputs[0], inputs[1]))
    }

    /// After the first bar, the running total and the previous value in registers.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |o, _| o.started, values, valid) {
            let n = from + out.len();
            let (mut obv, mut prev_value) = (self.prev_obv, self.prev_value);
            for (o, (&value, &volume)) in out.iter_mut().zip(columns[0][from..n].iter().zip(&columns[1][from..n])) {
                obv = next_obv(obv, prev_value, value, volume);
                prev_value = value;
                *o = obv;
            }
            (self.prev_obv, self.prev_value) = (obv, prev_value);
        }
    }
}
