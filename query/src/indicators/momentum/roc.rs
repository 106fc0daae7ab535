//! ROC: rate of change in percent (TA-Lib `TA_ROC`).

use crate::indicators::window::Lag;
use crate::indicators::batch::{self, Fill};
use crate::indicators::Indicator;

/// Rate of change, TA-Lib `TA_ROC`: `((x / x[period ago]) - 1) * 100`, or 0 when the older value
/// is 0. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Roc {
    lag: Lag,
}

impl Roc {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        Roc { lag: Lag::new(period) }
    }

    /// Feeds one value; returns the ROC from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        let before = self.lag.push(x)?;
        Some(roc(x, before))
    }
}

/// TA-Lib's ROC of `x` against the value `before` it, 0 when that is 0.
#[inline(always)]
fn roc(x: f64, before: f64) -> f64 {
    if before != 0.0 {
        ((x / before) - 1.0) * 100.0
    } else {
        0.0
    }
}

impl Indicator for Roc {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Once the bar `period` back lies in the batch, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let p = self.lag.period();
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |_, at| at >= p, values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Roc {
    /// Each bar against the input slice `period` bars back: a loop the compiler vectorises,
    /// divisions included. The ring then takes the batch's last `period + 1` values.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let x = columns[0];
        let n = from + out.len();
        for (o, (&today, &before)) in out.iter_mut().zip(self.lag.pairs(x, from..n)) {
            *o = roc(today, before);
        }
        self.lag.keep_tail(x, n);
    }
}
