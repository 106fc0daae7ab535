//! WILLR: Williams' %R (TA-Lib `TA_WILLR`).

use crate::indicators::window::{is_zero_scaled, sliding_extremes, Extremes};
use crate::indicators::batch::{self, Fill};
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
#[inline(always)]
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

    /// Once a bar's whole window lies in the batch, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let p = self.extremes.period();
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |_, at| at + 1 >= p, values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Willr {
    /// The window extremes from the input slices ([`sliding_extremes`]), then %R over each block
    /// in a loop the compiler vectorises (divisions included). The state machine then takes the
    /// batch's last `period` bars.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let (high, low, close) = (columns[0], columns[1], columns[2]);
        let p = self.extremes.period();
        let n = from + out.len();
        sliding_extremes(high, low, from..n, p, |block, highest, lowest| {
            let bars = block - from..block - from + highest.len();
            for ((o, &c), (&hi, &lo)) in out[bars].iter_mut().zip(&close[block..]).zip(highest.iter().zip(lowest)) {
                *o = percent_r(hi, lo, c);
            }
        });
        self.extremes.reset_to(&high[n - p..n], &low[n - p..n]);
    }
}
