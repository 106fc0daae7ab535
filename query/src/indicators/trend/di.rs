//! The directional-indicator state machine shared by +DI and -DI (TA-Lib `TA_PLUS_DI` / `TA_MINUS_DI`).

use crate::indicators::window::true_range;

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
        // This side's one-bar DM: its move when it is positive and beats the other side's.
        let dm1 = (own > 0.0 && own > other).then_some(own);
        if self.seen <= self.period {
            if let Some(dm1) = dm1 {
                self.prev_dm += dm1;
            }
            self.prev_tr += tr;
            return None;
        }
        let period = self.period as f64;
        self.prev_dm = match dm1 {
            Some(dm1) => self.prev_dm - (self.prev_dm / period) + dm1,
            None => self.prev_dm - (self.prev_dm / period),
        };
        self.prev_tr = self.prev_tr - (self.prev_tr / period) + tr;
        Some(if self.prev_tr > 0.0 {
            100.0 * (self.prev_dm / self.prev_tr)
        } else {
            0.0
        })
    }
}
