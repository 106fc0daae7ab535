//! WMA: linearly weighted moving average (TA-Lib `TA_WMA`).

use crate::indicators::window::Ring;
use crate::indicators::Indicator;

/// Linearly weighted moving average, TA-Lib `TA_WMA` (weights 1..=period, newest heaviest).
///
/// TA-Lib's running form: `period_sum` holds the weighted total and `period_sub` the plain total;
/// each bar adds `x * period`, outputs `period_sum / divider`, then subtracts `period_sub`.
/// Like TA-Lib 0.8 (#255) both totals are rebuilt from the window every `8 * period` output bars.
/// Lookback `period - 1`; period 1 is a copy of the input.
#[derive(Debug, Clone)]
pub struct Wma {
    period: usize,
    divider: f64,
    window: Ring,
    period_sum: f64,
    period_sub: f64,
    trailing_value: f64,
    bars_since_reseed: usize,
}

impl Wma {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Wma {
            period,
            divider: period as f64 * (period + 1) as f64 / 2.0,
            window: Ring::new(period),
            period_sum: 0.0,
            period_sub: 0.0,
            trailing_value: 0.0,
            bars_since_reseed: 8 * period,
        }
    }

    /// Feeds one value; returns the WMA once `period` values have been seen.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        if self.period == 1 {
            return Some(x);
        }
        self.window.push(x);
        let n = self.window.len();
        if n < self.period {
            // Priming: weights 1, 2, ... in arrival order.
            self.period_sub += x;
            self.period_sum += x * n as f64;
            return None;
        }
        self.period_sub += x;
        self.period_sub -= self.trailing_value;
        self.period_sum += x * self.period as f64;

        self.bars_since_reseed -= 1;
        if self.bars_since_reseed == 0 {
            self.bars_since_reseed = 8 * self.period;
            let (mut sub, mut sum) = (0.0, 0.0);
            for (w, v) in self.window.oldest_first().enumerate() {
                sub += v;
                sum += v * (w + 1) as f64;
            }
            self.period_sub = sub;
            self.period_sum = sum;
        }

        self.trailing_value = self.window.ago(self.period - 1);
        let out = self.period_sum / self.divider;
        self.period_sum -= self.period_sub;
        Some(out)
    }
}

impl Indicator for Wma {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Past the first `period` bars of the batch (which go through `step`), the trailing value
    /// and the periodic re-anchoring read the input slice instead of the ring; same operations in
    /// the same order, so the same bits. The ring then takes the batch's last `period` values.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let x = columns[0];
        let (n, p) = (x.len(), self.period);
        if p == 1 {
            return crate::indicators::batch::run_portable(self, columns, values, valid);
        }
        let Some((from, out)) = crate::indicators::batch::warm_then_tail(self, columns, |_, at| at >= p, values, valid) else { return };
        let (weight, divider) = (p as f64, self.divider);
        let (mut sub, mut sum, mut since, mut trailing) = (self.period_sub, self.period_sum, self.bars_since_reseed, self.trailing_value);
        for i in from..n {
            let v = x[i];
            sub += v;
            sub -= trailing;
            sum += v * weight;
            since -= 1;
            if since == 0 {
                since = 8 * p;
                let (mut s1, mut s2) = (0.0, 0.0);
                for (w, &y) in x[i + 1 - p..=i].iter().enumerate() {
                    s1 += y;
                    s2 += y * (w + 1) as f64;
                }
                sub = s1;
                sum = s2;
            }
            trailing = x[i + 1 - p];
            out[i - from] = sum / divider;
            sum -= sub;
        }
        (self.period_sub, self.period_sum, self.bars_since_reseed, self.trailing_value) = (sub, sum, since, trailing);
        for &v in &x[n - p..] {
            self.window.push(v);
        }
    }
}
