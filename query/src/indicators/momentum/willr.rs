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
    #[inline(always)]
    pub fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.extremes.push(high, low);
        if !self.extremes.is_full() {
            return None;
        }
        // A range within TA_EPSILON of the window's own level counts as flat (TA-Lib 0.8, #253).
        Some(percent_r(self.extremes.highest(), self.extremes.lowest(), close))
    }
}

/// %R from the window's extremes, TA-Lib's flat-range rule included.
#[inline]
fn percent_r(highest: f64, lowest: f64, close: f64) -> f64 {
    let range = highest - lowest;
    if is_zero_scaled(range, highest.abs() + lowest.abs()) {
        0.0
    } else {
        -100.0 * ((highest - close) / range)
    }
}

impl Indicator for Willr {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }

    /// As TA-Lib runs it: once a bar's whole window lies in the batch, the extremes are tracked
    /// over the input slices themselves and rescanned (a contiguous slice) only when the extreme
    /// leaves the window. The state machine then holds the batch's last `period` bars.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let (high, low, close) = (columns[0], columns[1], columns[2]);
        let n = high.len().min(low.len()).min(close.len());
        let p = self.extremes.period();
        let Some(out) = crate::indicators::batch::head_then_tail(self, columns, p - 1, values, valid) else { return };
        let (mut highest, mut highest_at, mut lowest, mut lowest_at) = (f64::NEG_INFINITY, 0, f64::INFINITY, 0);
        for i in p - 1..n {
            let first = i + 1 - p;
            if i == p - 1 || highest_at < first {
                (highest, highest_at) = (high[first], first);
                for (k, &h) in high[first + 1..=i].iter().enumerate() {
                    if h >= highest {
                        (highest, highest_at) = (h, first + 1 + k);
                    }
                }
            } else if high[i] >= highest {
                (highest, highest_at) = (high[i], i);
            }
            if i == p - 1 || lowest_at < first {
                (lowest, lowest_at) = (low[first], first);
                for (k, &l) in low[first + 1..=i].iter().enumerate() {
                    if l <= lowest {
                        (lowest, lowest_at) = (l, first + 1 + k);
                    }
                }
            } else if low[i] <= lowest {
                (lowest, lowest_at) = (low[i], i);
            }
            out[i + 1 - p] = percent_r(highest, lowest, close[i]);
        }
        self.extremes.reset_to(&high[n - p..n], &low[n - p..n]);
    }
}
