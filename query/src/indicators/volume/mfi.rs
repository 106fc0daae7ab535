//! MFI: money flow index (TA-Lib `TA_MFI`).

use crate::indicators::window::is_zero_scaled;
use crate::indicators::batch::{self, Fill};
use crate::indicators::Indicator;

/// Money flow index, TA-Lib `TA_MFI`. Inputs: high, low, close, volume. Lookback `period`.
///
/// Each bar's money flow `tp * volume` (typical price `tp = (h + l + c) / 3`) goes to the
/// positive side when `tp` rose and to the negative side when it fell; a change within
/// `TA_EPSILON` of `|tp| + |prev tp|` counts as no flow. Running sums over a ring of `period`
/// bars (reset to exactly 0 after a full period without flow); output
/// `100 * clamp(pos) / (pos + neg)`, 0 when the total is not positive.
#[derive(Debug, Clone)]
pub struct Mfi {
    period: usize,
    positive: Vec<f64>,
    negative: Vec<f64>,
    slot: usize,
    seen: usize,
    prev_tp: f64,
    pos_sum: f64,
    neg_sum: f64,
    null_run: usize,
}

impl Mfi {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Mfi {
            period,
            positive: vec![0.0; period],
            negative: vec![0.0; period],
            slot: 0,
            seen: 0,
            prev_tp: 0.0,
            pos_sum: 0.0,
            neg_sum: 0.0,
            null_run: 0,
        }
    }

    /// Feeds one bar; returns the MFI from bar `period + 1` on.
    #[inline(always)]
    pub fn step(&mut self, high: f64, low: f64, close: f64, volume: f64) -> Option<f64> {
        let tp = typical_price(high, low, close);
        self.seen += 1;
        if self.seen == 1 {
            self.prev_tp = tp;
            return None;
        }
        let full = self.seen > self.period + 1;
        if full {
            self.pos_sum -= self.positive[self.slot];
            self.neg_sum -= self.negative[self.slot];
        }
        let (pos, neg) = flows(tp, self.prev_tp, volume);
        self.prev_tp = tp;
        self.positive[self.slot] = pos;
        self.negative[self.slot] = neg;
        self.pos_sum += pos;
        self.neg_sum += neg;
        self.null_run = flat_run(self.null_run, pos, neg, self.period);
        if self.null_run >= self.period {
            self.pos_sum = 0.0;
            self.neg_sum = 0.0;
        }
        // wraps without an integer division
        self.slot += 1;
        if self.slot == self.period {
            self.slot = 0;
        }
        if self.seen <= self.period {
            return None;
        }
        Some(mfi(self.pos_sum, self.neg_sum))
    }
}

/// TA-Lib's typical price.
#[inline(always)]
fn typical_price(high: f64, low: f64, close: f64) -> f64 {
    (high + low + close) / 3.0
}

/// A bar's `(positive, negative)` money flow: `tp * volume` on the side `tp` moved to, none when
/// the change is within `TA_EPSILON` of `|tp| + |prev tp|`.
#[inline(always)]
fn flows(tp: f64, prev_tp: f64, volume: f64) -> (f64, f64) {
    let change = tp - prev_tp;
    let money_flow = if is_zero_scaled(change, tp.abs() + prev_tp.abs()) {
        0.0
    } else {
        tp * volume
    };
    if change < 0.0 {
        (0.0, money_flow)
    } else {
        (money_flow, 0.0)
    }
}

/// The run of bars without money flow (capped at `period`): once it spans the period, both sums
/// are exactly 0.
#[inline(always)]
fn flat_run(run: usize, pos: f64, neg: f64, period: usize) -> usize {
    if pos + neg == 0.0 {
        (run + 1).min(period)
    } else {
        0
    }
}

/// `100 * clamp(pos) / (pos + neg)`, 0 when the total is not positive.
#[inline(always)]
fn mfi(pos_sum: f64, neg_sum: f64) -> f64 {
    let total = pos_sum + neg_sum;
    let pos_clamped = if pos_sum < 0.0 {
        0.0
    } else if pos_sum > total {
        total
    } else {
        pos_sum
    };
    if total <= 0.0 {
        0.0
    } else {
        100.0 * (pos_clamped / total)
    }
}

impl Indicator for Mfi {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2], inputs[3])
    }

    /// Once the ring is full, the loop of [`Fill`].
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |m, _| m.seen > m.period, values, valid) {
            self.fill(columns, from, out);
        }
    }
}

impl Fill for Mfi {
    /// `step` with a full ring, the sums, the previous typical price and the ring slot in locals
    /// (kept in the struct they were stored and reloaded every bar): the same operations in the
    /// same order, so the same bits.
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let n = from + out.len();
        let (high, low, close, volume) = (&columns[0][from..n], &columns[1][from..n], &columns[2][from..n], &columns[3][from..n]);
        let p = self.period;
        let (mut prev_tp, mut pos_sum, mut neg_sum, mut slot, mut null_run) = (self.prev_tp, self.pos_sum, self.neg_sum, self.slot, self.null_run);
        let (positive, negative) = (&mut self.positive[..p], &mut self.negative[..p]);
        for (o, ((&h, &l), (&c, &v))) in out.iter_mut().zip(high.iter().zip(low).zip(close.iter().zip(volume))) {
            let tp = typical_price(h, l, c);
            pos_sum -= positive[slot];
            neg_sum -= negative[slot];
            let (pos, neg) = flows(tp, prev_tp, v);
            prev_tp = tp;
            positive[slot] = pos;
            negative[slot] = neg;
            pos_sum += pos;
            neg_sum += neg;
            null_run = flat_run(null_run, pos, neg, p);
            if null_run >= p {
                pos_sum = 0.0;
                neg_sum = 0.0;
            }
            slot += 1;
            if slot == p {
                slot = 0;
            }
            *o = mfi(pos_sum, neg_sum);
        }
        (self.prev_tp, self.pos_sum, self.neg_sum, self.slot, self.null_run) = (prev_tp, pos_sum, neg_sum, slot, null_run);
        self.seen += out.len();
    }
}
