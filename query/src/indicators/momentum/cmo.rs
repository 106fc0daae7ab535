//! CMO: Chande momentum oscillator (TA-Lib `TA_CMO`).

use super::rsi::GainLoss;
use crate::indicators::Indicator;

/// Chande momentum oscillator, TA-Lib `TA_CMO` (default compatibility, no unstable period).
///
/// Same Wilder-smoothed gain/loss as RSI but with TA-Lib CMO's divisions:
/// `avg = (avg * (period - 1) + change) / period`, seeded with the sums of the first `period`
/// changes divided by `period`. Output `100 * (gain - loss) / (gain + loss)`, 0 when the sum is
/// not positive. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Cmo {
    sums: GainLoss,
}

impl Cmo {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        Cmo {
            sums: GainLoss::new(period),
        }
    }

    /// Feeds one value; returns the CMO from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        let change = self.sums.change(x)?;
        // branch-free (price changes flip sign unpredictably); the same bits as adding to one side
        let falling = change < 0.0;
        if !self.sums.add(if falling { 0.0 } else { change }, if falling { -change } else { 0.0 }) {
            return None;
        }
        let period = self.sums.period() as f64;
        let s = &mut self.sums;
        s.loss /= period;
        s.gain /= period;
        let total = s.gain + s.loss;
        Some(if total > 0.0 {
            100.0 * ((s.gain - s.loss) / total)
        } else {
            0.0
        })
    }
}

impl Indicator for Cmo {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
}
