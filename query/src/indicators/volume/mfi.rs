//! MFI: money flow index (TA-Lib `TA_MFI`).

use crate::indicators::window::is_zero_scaled;
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
        let tp = (high + low + close) / 3.0;
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
        let change = tp - self.prev_tp;
        let scale = tp.abs() + self.prev_tp.abs();
        self.prev_tp = tp;
        let money_flow = if is_zero_scaled(change, scale) {
            0.0
        } else {
            tp * volume
        };
        let (pos, neg) = if change < 0.0 {
            (0.0, money_flow)
        } else {
            (money_flow, 0.0)
        };
        self.positive[self.slot] = pos;
        self.negative[self.slot] = neg;
        self.pos_sum += pos;
        self.neg_sum += neg;
        self.null_run = if money_flow == 0.0 {
            self.null_run + 1
        } else {
            0
        };
        if self.null_run >= self.period {
            self.null_run = self.period;
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
        let total = self.pos_sum + self.neg_sum;
        let pos_clamped = if self.pos_sum < 0.0 {
            0.0
        } else if self.pos_sum > total {
            total
        } else {
            self.pos_sum
        };
        Some(if total <= 0.0 {
            0.0
        } else {
            100.0 * (pos_clamped / total)
        })
    }
}

impl Indicator for Mfi {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2], inputs[3])
    }
}
