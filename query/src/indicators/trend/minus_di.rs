//! MINUS_DI: minus directional indicator (TA-Lib `TA_MINUS_DI`).

use super::di::{DiCore, Side};
use crate::indicators::batch::{self, Fill};
use crate::indicators::Indicator;

/// Minus directional indicator, TA-Lib `TA_MINUS_DI`: `100 * smoothed(-DM) / smoothed(TR)`
/// (Wilder smoothing), lookback `period`. Period 1 gives TA-Lib's raw `-DM1 / TR1` (not × 100).
/// Inputs: high, low, close.
#[derive(Debug, Clone)]
pub struct MinusDi(DiCore);

impl MinusDi {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        MinusDi(DiCore::new(Side::Minus, period))
    }
}

impl Indicator for MinusDi {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0], inputs[1], inputs[2])
    }

    /// Once the warm-up is done and the previous bar lies in the batch, the core's loop.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |d, at| at >= 1 && d.0.is_steady(), values, valid) {
            self.0.fill(columns, from, out);
        }
    }
}
