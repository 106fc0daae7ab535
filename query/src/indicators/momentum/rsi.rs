//! RSI: Wilder's relative strength index (TA-Lib `TA_RSI`).

use crate::indicators::Indicator;

/// Relative strength index, TA-Lib `TA_RSI` (no unstable period).
///
/// Average gain and loss are seeded with the plain sums of the first `period` changes times
/// `1 / period`, then Wilder-smoothed: `avg = (avg * (period - 1) + change) * (1 / period)`.
/// Output `100 * gain / (gain + loss)`, or 0 when `gain + loss` is not positive. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    inv_period: f64,
    seen: usize,
    prev_value: f64,
    prev_gain: f64,
    prev_loss: f64,
}

impl Rsi {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 2);
        Rsi {
            period,
            inv_period: 1.0 / period as f64,
            seen: 0,
            prev_value: 0.0,
            prev_gain: 0.0,
            prev_loss: 0.0,
        }
    }

    /// Feeds one value; returns the RSI from the `period + 1`-th value on.
    #[inline]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        if self.seen == 1 {
            self.prev_value = x;
            return None;
        }
        let change = x - self.prev_value;
        self.prev_value = x;
        let gain_delta = if change > 0.0 { change } else { 0.0 };
        if self.seen <= self.period + 1 {
            self.prev_gain += gain_delta;
            self.prev_loss += gain_delta - change;
            if self.seen <= self.period {
                return None;
            }
        } else {
            let keep = (self.period - 1) as f64;
            self.prev_loss *= keep;
            self.prev_gain *= keep;
            self.prev_gain += gain_delta;
            self.prev_loss += gain_delta - change;
        }
        self.prev_loss *= self.inv_period;
        self.prev_gain *= self.inv_period;
        let total = self.prev_gain + self.prev_loss;
        Some(if total > 0.0 {
            100.0 * (self.prev_gain / total)
        } else {
            0.0
        })
    }
}

impl Indicator for Rsi {
    #[inline]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
}
