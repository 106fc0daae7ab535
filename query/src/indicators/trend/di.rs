//! The directional-indicator state machine shared by +DI and -DI (TA-Lib `TA_PLUS_DI` / `TA_MINUS_DI`).

use crate::indicators::batch::Fill;
use crate::indicators::window::{true_range, with_previous};

/// Which directional movement a [`DiCore`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// +DM: the part of today's range above yesterday's high.
    Plus,
    /// -DM: the part of today's range below yesterday's low.
    Minus,
}

/// TA-Lib's +DI / -DI for one side.
///
/// Period > 1: the one-bar DM and the true range are summed over the first `period - 1` changes,
/// then Wilder-smoothed as TA-Lib writes it (`s - (s / period) + today`), and the output is
/// `100 * (DM / TR)` (0 when TR is 0); lookback `period`. Period 1: TA-Lib's unsmoothed
/// `DM1 / TR1` — note, as in TA-Lib, NOT multiplied by 100; lookback 1.
#[derive(Debug, Clone)]
pub(super) struct DiCore {
    side: Side,
    period: usize,
    seen: usize,
    prev_high: f64,
    prev_low: f64,
    prev_close: f64,
    prev_dm: f64,
    prev_tr: f64,
}

impl DiCore {
    pub(super) fn new(side: Side, period: usize) -> Self {
        debug_assert!(period >= 1);
        DiCore {
            side,
            period,
            seen: 0,
            prev_high: 0.0,
            prev_low: 0.0,
            prev_close: 0.0,
            prev_dm: 0.0,
            prev_tr: 0.0,
        }
    }

    pub(super) fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
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
        let (own, other) = match self.side {
            Side::Plus => (diff_p, diff_m),
            Side::Minus => (diff_m, diff_p),
        };
        let tr = true_range(high, low, self.prev_close);
        self.prev_close = close;

        if self.period == 1 {
            return Some(if own > 0.0 && own > other && tr > 0.0 {
                own / tr
            } else {
                0.0
            });
        }
        let dm1 = dm1(own, other);
        if self.seen <= self.period {
            // TA-Lib adds only a positive DM1; adding 0.0 leaves the (never -0.0) sum unchanged
            self.prev_dm += dm1;
            self.prev_tr += tr;
            return None;
        }
        let period = self.period as f64;
        (self.prev_dm, self.prev_tr) = (wilder(self.prev_dm, dm1, period), wilder(self.prev_tr, tr, period));
        Some(di(self.prev_dm, self.prev_tr))
    }

    /// Whether the next bar takes the smoothing step (period above 1, warm-up done).
    pub(super) fn is_steady(&self) -> bool {
        self.period > 1 && self.seen >= self.period
    }
}

/// One Wilder step of a smoothed DM or TR sum, as TA-Lib writes it (`s - (s / period) + today`).
/// A DM's `today` is 0.0 on a bar without that side's move: TA-Lib then skips the addition, and
/// adding 0.0 leaves the bits unchanged (the smoothed DM is never -0.0), without a branch that
/// flips unpredictably. Shared with ADX.
#[inline(always)]
pub(super) fn wilder(sum: f64, today: f64, period: f64) -> f64 {
    sum - (sum / period) + today
}

/// A side's one-bar DM: its move when it is positive and beats the other side's, else 0 (so at
/// most one side moves, none on a tie). Shared with ADX.
#[inline(always)]
pub(super) fn dm1(own: f64, other: f64) -> f64 {
    if own > 0.0 && own > other {
        own
    } else {
        0.0
    }
}

/// `100 * (DM / TR)`, 0 when TR is not positive.
#[inline(always)]
fn di(dm: f64, tr_sum: f64) -> f64 {
    if tr_sum > 0.0 {
        100.0 * (dm / tr_sum)
    } else {
        0.0
    }
}

impl Fill for DiCore {
    /// `step` past the warm-up with the previous bar read from the slices and the smoothed sums
    /// in locals: the same operations in the same order, so the same bits.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let (high, low, close) = (columns[0], columns[1], columns[2]);
        let n = from + out.len();
        let period = self.period as f64;
        let (mut dm, mut tr_sum) = (self.prev_dm, self.prev_tr);
        for (o, (h, l, prev_high, prev_low, prev_close)) in out.iter_mut().zip(with_previous(high, low, close, from..n)) {
            let diff_p = h - prev_high;
            let diff_m = prev_low - l;
            let (own, other) = match self.side {
                Side::Plus => (diff_p, diff_m),
                Side::Minus => (diff_m, diff_p),
            };
            dm = wilder(dm, dm1(own, other), period);
            tr_sum = wilder(tr_sum, true_range(h, l, prev_close), period);
            *o = di(dm, tr_sum);
        }
        (self.prev_dm, self.prev_tr) = (dm, tr_sum);
        (self.prev_high, self.prev_low, self.prev_close) = (high[n - 1], low[n - 1], close[n - 1]);
        self.seen += out.len();
    }
}
