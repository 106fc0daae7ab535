//! SMA: simple moving average (TA-Lib `TA_SMA`).

use crate::indicators::window::Ring;
use crate::indicators::batch;
use crate::indicators::Indicator;

/// Simple moving average, TA-Lib `TA_SMA`.
///
/// Keeps TA-Lib's running sum: add the new value, read the total, then subtract the trailing
/// value, so the rounding drift over a long series is the same as TA-Lib's. Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    total: f64,
    window: Ring,
}

impl Sma {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Sma {
            period,
            total: 0.0,
            window: Ring::new(period),
        }
    }

    /// Feeds one value; returns the average once `period` values have been seen.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        self.total += x;
        if self.window.len() < self.period {
            return None;
        }
        let total = self.total;
        self.total -= self.window.ago(self.period - 1);
        Some(total / self.period as f64)
    }
}

impl Indicator for Sma {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Once a bar's whole window lies in the batch, the running total drops the leaving value
    /// read from the input slice instead of the ring; same operations in the same order, so the
    /// same bits. The ring then takes the batch's last `period` values.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let x = columns[0];
        let p = self.period;
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |_, at| at + 1 >= p, values, valid) {
            self.fill_each(x, from, |j, average| out[j] = average);
        }
    }
}

impl Sma {
    /// The window's length.
    pub(crate) fn period(&self) -> usize {
        self.period
    }

    /// `step` for bars `from..` of `x` once every bar's window lies in `x` (bar `from - 1` and
    /// all before it fed): the value leaving the window is read from the slice; same operations in
    /// the same order, so the same bits. Calls `emit(j, average)` for bar `from + j`; the ring then
    /// takes the last `period` values.
    #[inline(always)]
    pub(crate) fn fill_each(&mut self, x: &[f64], from: usize, mut emit: impl FnMut(usize, f64)) {
        let (n, p) = (x.len(), self.period);
        let (divisor, mut total) = (p as f64, self.total);
        for (j, (&today, &leaving)) in x[from..].iter().zip(&x[from + 1 - p..]).enumerate() {
            total += today;
            emit(j, total / divisor);
            total -= leaving;
        }
        self.total = total;
        for &v in &x[n - p..] {
            self.window.push(v);
        }
    }
}
