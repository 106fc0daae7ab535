//! CMO: Chande momentum oscillator (TA-Lib `TA_CMO`).

use crate::indicators::Indicator;

/// Chande momentum oscillator, TA-Lib `TA_CMO` (default compatibility, no unstable period).
///
/// Same Wilder-smoothed gain/loss as RSI but with TA-Lib CMO's divisions:
/// `avg = (avg * (period - 1) + change) / period`, seeded with the sums of the first `period`
/// changes divided by `period`. Output `100 * (gain - loss) / (gain + loss)`, 0 when the sum is
/// not positive. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Cmo {
    period: usize,
    seen: usize,
    prev_value: f64,
    prev_gain: f64,
    prev_loss: f64,
}

impl Cmo {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 2);
        Cmo {
            period,
            seen: 0,
            prev_value: 0.0,
            prev_gain: 0.0,
            prev_loss: 0.0,
        }
    }

    /// Feeds one value; returns the CMO from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        if self.seen == 1 {
            self.prev_value = x;
            return None;
        }
        let change = x - self.prev_value;
        self.prev_value = x;
        let period = self.period as f64;
        if self.seen > self.period + 1 {
            let keep = (self.period - 1) as f64;
            self.prev_loss *= keep;
            self.prev_gain *= keep;
        }
        // branch-free (price changes flip sign unpredictably); the same bits as adding to one side
        let falling = change < 0.0;
        self.prev_loss += if falling { -change } else { 0.0 };
        self.prev_gain += if falling { 0.0 } else { change };
        if self.seen <= self.period {
            return None;
        }
        self.prev_loss /= period;
        self.prev_gain /= period;
        let total = self.prev_gain + self.prev_loss;
        Some(if total > 0.0 {
            100.0 * ((self.prev_gain - self.prev_loss) / total)
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
