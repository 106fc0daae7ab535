//! ADX: average directional movement index (TA-Lib `TA_ADX`).

use super::di::{dm1, moves_in, next_moves, wilder, Bar};
use crate::indicators::window::is_zero;
use crate::indicators::batch::{self, Fill};
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
    prev: Option<Bar>,
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
            prev: None,
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
        let (up, down, tr) = next_moves(&mut self.prev, high, low, close)?;

        let period = self.period as f64;
        let (minus_dm1, plus_dm1) = (dm1(down, up), dm1(up, down));
        if self.seen <= self.period {
            self.prev_minus_dm += minus_dm1;
            self.prev_plus_dm += plus_dm1;
            self.prev_tr += tr;
            return None;
        }
        self.prev_minus_dm = wilder(self.prev_minus_dm, minus_dm1, period);
        self.prev_plus_dm = wilder(self.prev_plus_dm, plus_dm1, period);
        self.prev_tr = wilder(self.prev_tr, tr, period);

        let dx = dx(self.prev_minus_dm, self.prev_plus_dm, self.prev_tr);
        if self.seen <= 2 * self.period {
            if let Some(dx) = dx {
                self.sum_dx += dx;
            }
            if self.seen < 2 * self.period {
                return None;
            }
            self.prev_adx = self.sum_dx / period;
        } else if let Some(dx) = dx {
            self.prev_adx = next_adx(self.prev_adx, dx, period);
        }
        Some(self.prev_adx)
    }

}

/// The ADX after the seed: `((adx * (period - 1)) + dx) / period`.
#[inline(always)]
fn next_adx(adx: f64, dx: f64, period: f64) -> f64 {
    ((adx * (period - 1.0)) + dx) / period
}

/// A bar's DX from the smoothed DMs and true range, or None when TA-Lib skips it (zero TR sum or
/// zero DI sum).
#[inline(always)]
fn dx(minus_dm: f64, plus_dm: f64, tr: f64) -> Option<f64> {
    if tr > 0.0 {
        let minus_di = 100.0 * (minus_dm / tr);
        let plus_di = 100.0 * (plus_dm / tr);
        let sum = minus_di + plus_di;
        if !is_zero(sum) {
            return Some(100.0 * ((minus_di - plus_di).abs() / sum));
        }
    }
    None
}

impl Indicator for Adx {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }

    /// Once the ADX is seeded and the previous bar lies in the batch, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let ready = |a: &Self, at: usize| at >= 1 && a.seen >= 2 * a.period;
        if let Some((from, out)) = batch::warm_then_tail(self, columns, ready, values, valid) {
            self.fill(columns, from, out);
        }
    }
}

impl Fill for Adx {
    /// `step` past the seed with the previous bar read from the slices and the smoothed sums in
    /// locals: the same operations in the same order, so the same bits.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let n = from + out.len();
        let period = self.period as f64;
        let (mut minus_dm, mut plus_dm, mut tr_sum, mut adx) = (self.prev_minus_dm, self.prev_plus_dm, self.prev_tr, self.prev_adx);
        for (o, (up, down, tr)) in out.iter_mut().zip(moves_in(columns, from..n)) {
            minus_dm = wilder(minus_dm, dm1(down, up), period);
            plus_dm = wilder(plus_dm, dm1(up, down), period);
            tr_sum = wilder(tr_sum, tr, period);
            if let Some(dx) = dx(minus_dm, plus_dm, tr_sum) {
                adx = next_adx(adx, dx, period);
            }
            *o = adx;
        }
        (self.prev_minus_dm, self.prev_plus_dm, self.prev_tr, self.prev_adx) = (minus_dm, plus_dm, tr_sum, adx);
        self.prev = Some(Bar::at(columns, n - 1));
        self.seen += out.len();
    }
}
