//! ADX: average directional movement index (TA-Lib `TA_ADX`).

use crate::indicators::window::{is_zero, true_range};
use crate::indicators::Indicator;

/// Average directional movement index, TA-Lib `TA_ADX` (no unstable period).
/// Inputs: high, low, close. Lookback `2 * period - 1`.
///
/// +DM, -DM and TR are summed over the first `period - 1` changes, then Wilder-smoothed as
/// TA-Lib writes it (`s -= s / period`, then `+= today`). The first ADX is the plain average of the
/// next `period` DX values `100 * (|-DI - +DI| / (-DI + +DI))`; later ones are
/// `((adx * (period - 1)) + dx) / period`.
/// A bar whose TR sum is 0, or whose DI sum is within `TA_EPSILON` of 0, leaves the ADX unchanged.
#[derive(Debug, Clone)]
pub struct Adx {
    period: usize,
    seen: usize,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    prev_minus_dm: f64,
    prev_plus_dm: f64,
    prev_tr: f64,
    sum_dx: f64,
    prev_adx: f64,
}

impl Adx {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Adx {
            period,
            seen: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            prev_minus_dm: 0.0,
            prev_plus_dm: 0.0,
            prev_tr: 0.0,
            sum_dx: 0.0,
            prev_adx: 0.0,
        }
    }

    /// Feeds one bar; returns the ADX from bar `2 * period` on.
    #[inline(always)]
    pub fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.seen += 1;
        if self.seen == 1 {
            self.prev_high = high;
            self.prev_low = low;
            self.prev_close = close;
            return None;
        }
        let diff_p = high - self.prev_high;
        let diff_m = self.prev_low - low;
        self.prev_high = high;
        self.prev_low = low;
        let tr = true_range(high, low, self.prev_close);
        self.prev_close = close;

        let period = self.period as f64;
        if self.seen > self.period {
            self.prev_minus_dm -= self.prev_minus_dm / period;
            self.prev_plus_dm -= self.prev_plus_dm / period;
        }
        // At most one side moves: the larger positive move (none on a tie).
        // Branch-free (the side flips unpredictably bar to bar); adding 0.0 to the other side
        // leaves its bits unchanged (it is never -0.0).
        let minus = diff_m > 0.0 && diff_p < diff_m;
        let plus = !minus && diff_p > 0.0 && diff_p > diff_m;
        self.prev_minus_dm += if minus { diff_m } else { 0.0 };
        self.prev_plus_dm += if plus { diff_p } else { 0.0 };
        if self.seen <= self.period {
            self.prev_tr += tr;
            return None;
        }
        self.prev_tr = self.prev_tr - (self.prev_tr / period) + tr;

        let dx = self.dx();
        if self.seen <= 2 * self.period {
            if let Some(dx) = dx {
                self.sum_dx += dx;
            }
            if self.seen < 2 * self.period {
                return None;
            }
            self.prev_adx = self.sum_dx / period;
        } else if let Some(dx) = dx {
            self.prev_adx = ((self.prev_adx * (period - 1.0)) + dx) / period;
        }
        Some(self.prev_adx)
    }

    /// This bar's DX, or None when TA-Lib skips it (zero TR sum or zero DI sum).
    fn dx(&self) -> Option<f64> {
        if self.prev_tr > 0.0 {
            let minus_di = 100.0 * (self.prev_minus_dm / self.prev_tr);
            let plus_di = 100.0 * (self.prev_plus_dm / self.prev_tr);
            let sum = minus_di + plus_di;
            if !is_zero(sum) {
                return Some(100.0 * ((minus_di - plus_di).abs() / sum));
            }
        }
        None
    }
}

impl Indicator for Adx {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }
}
