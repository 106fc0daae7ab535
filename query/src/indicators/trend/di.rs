//! The directional-indicator state machine behind +DI and -DI (TA-Lib `TA_PLUS_DI` / `TA_MINUS_DI`), and the one-bar steps ADX shares with it.

use std::ops::Range;

use crate::indicators::batch::{self, Fill};
use crate::indicators::window::{true_range, with_previous};
use crate::indicators::Indicator;

/// TA-Lib's +DI (`PLUS`) or -DI (`!PLUS`): [`PlusDi`](super::plus_di::PlusDi) and
/// [`MinusDi`](super::minus_di::MinusDi). Inputs: high, low, close.
///
/// Period > 1: the one-bar DM and the true range are summed over the first `period - 1` changes,
/// then Wilder-smoothed as TA-Lib writes it (`s - (s / period) + today`), and the output is
/// `100 * (DM / TR)` (0 when TR is 0); lookback `period`. Period 1: TA-Lib's unsmoothed
/// `DM1 / TR1` — note, as in TA-Lib, NOT multiplied by 100; lookback 1.
#[derive(Debug, Clone)]
pub struct Di<const PLUS: bool> {
    period: usize,
    seen: usize,
    prev: Option<Bar>,
    prev_dm: f64,
    prev_tr: f64,
}

impl<const PLUS: bool> Di<PLUS> {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Di {
            period,
            seen: 0,
            prev: None,
            prev_dm: 0.0,
            prev_tr: 0.0,
        }
    }

    fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.seen += 1;
        let (up, down, tr) = next_moves(&mut self.prev, high, low, close)?;
        let (own, other) = Self::own_other(up, down);

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

    /// This side's move and the other side's, `(own, other)`, of a bar's up and down [`moves`].
    #[inline(always)]
    fn own_other(up: f64, down: f64) -> (f64, f64) {
        if PLUS {
            (up, down)
        } else {
            (down, up)
        }
    }

    /// Whether the next bar takes the smoothing step (period above 1, warm-up done).
    fn is_steady(&self) -> bool {
        self.period > 1 && self.seen >= self.period
    }
}

/// A bar's high, low and close: what the next bar's [`moves`] are taken against.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bar {
    high: f64,
    low: f64,
    close: f64,
}

impl Bar {
    /// Bar `i` of the high, low and close columns.
    #[inline(always)]
    pub(super) fn at(columns: &[&[f64]], i: usize) -> Self {
        Bar {
            high: columns[0][i],
            low: columns[1][i],
            close: columns[2][i],
        }
    }
}

/// A bar's moves against the bar before it, `(up, down, true range)`: up = high - previous
/// high and down = previous low - low, the raw moves [`dm1`] turns into +DM and -DM. Shared with
/// ADX, in `update` through [`next_moves`] and in the batch loops through [`moves_in`].
#[inline(always)]
pub(super) fn moves(high: f64, low: f64, prev: Bar) -> (f64, f64, f64) {
    (high - prev.high, prev.low - low, true_range(high, low, prev.close))
}

/// The `update` side of [`moves`]: the bar (`high`, `low`, `close`) becomes `prev`; returns its
/// moves against the bar it replaces, None on the first bar.
#[inline(always)]
pub(super) fn next_moves(prev: &mut Option<Bar>, high: f64, low: f64, close: f64) -> Option<(f64, f64, f64)> {
    let moves = prev.map(|p| moves(high, low, p));
    *prev = Some(Bar { high, low, close });
    moves
}

/// The batch side of [`moves`]: the bars `bars` (from 1 on) of the high, low and close columns,
/// each against the bar before it read from the slices.
#[inline(always)]
pub(super) fn moves_in<'a>(columns: &[&'a [f64]], bars: Range<usize>) -> impl Iterator<Item = (f64, f64, f64)> + 'a {
    with_previous(columns[0], columns[1], columns[2], bars).map(|(h, l, high, low, close)| moves(h, l, Bar { high, low, close }))
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

impl<const PLUS: bool> Indicator for Di<PLUS> {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }

    /// Once the warm-up is done and the previous bar lies in the batch, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |d, at| at >= 1 && d.is_steady(), values, valid) {
            self.fill(columns, from, out);
        }
    }
}

impl<const PLUS: bool> Fill for Di<PLUS> {
    /// `step` past the warm-up with the previous bar read from the slices and the smoothed sums
    /// in locals: the same operations in the same order, so the same bits.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let n = from + out.len();
        let period = self.period as f64;
        let (mut dm, mut tr_sum) = (self.prev_dm, self.prev_tr);
        for (o, (up, down, tr)) in out.iter_mut().zip(moves_in(columns, from..n)) {
            let (own, other) = Self::own_other(up, down);
            dm = wilder(dm, dm1(own, other), period);
            tr_sum = wilder(tr_sum, tr, period);
            *o = di(dm, tr_sum);
        }
        (self.prev_dm, self.prev_tr) = (dm, tr_sum);
        self.prev = Some(Bar::at(columns, n - 1));
        self.seen += out.len();
    }
}
