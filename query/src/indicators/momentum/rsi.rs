//! RSI: Wilder's relative strength index (TA-Lib `TA_RSI`), and the gain/loss sums it shares with CMO.

use crate::indicators::Indicator;

/// Relative strength index, TA-Lib `TA_RSI` (no unstable period).
///
/// Average gain and loss are seeded with the plain sums of the first `period` changes times
/// `1 / period`, then Wilder-smoothed: `avg = (avg * (period - 1) + change) * (1 / period)`.
/// Output `100 * gain / (gain + loss)`, or 0 when `gain + loss` is not positive. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Rsi {
    inv_period: f64,
    sums: GainLoss,
}

impl Rsi {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        Rsi {
            inv_period: 1.0 / period as f64,
            sums: GainLoss::new(period),
        }
    }

    /// Feeds one value; returns the RSI from the `period + 1`-th value on.
    #[inline]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        let change = self.sums.change(x)?;
        let gain_delta = if change > 0.0 { change } else { 0.0 };
        if !self.sums.add(gain_delta, gain_delta - change) {
            return None;
        }
        let s = &mut self.sums;
        s.loss *= self.inv_period;
        s.gain *= self.inv_period;
        let total = s.gain + s.loss;
        Some(if total > 0.0 {
            100.0 * (s.gain / total)
        } else {
            0.0
        })
    }
}

impl Indicator for Rsi {
    #[inline]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }
}

/// The Wilder-style gain and loss sums of RSI and CMO over a series' changes: the first `period`
/// changes' gains and losses summed, and from then on the averages (which the owner makes of the
/// sums, dividing by `period` its own way) scaled back up by `period - 1` before the next
/// change's gain and loss are added. How a change splits into a gain and a loss stays with the
/// owner as well (RSI's and CMO's branch-free splits differ on an infinite change).
#[derive(Debug, Clone)]
pub(super) struct GainLoss {
    period: usize,
    seen: usize,
    prev_value: f64,
    pub(super) gain: f64,
    pub(super) loss: f64,
}

impl GainLoss {
    /// `period` ≥ 2.
    pub(super) fn new(period: usize) -> Self {
        debug_assert!(period >= 2);
        GainLoss {
            period,
            seen: 0,
            prev_value: 0.0,
            gain: 0.0,
            loss: 0.0,
        }
    }

    pub(super) fn period(&self) -> usize {
        self.period
    }

    /// Takes the next value; returns its change from the one before, None for the first value.
    #[inline(always)]
    pub(super) fn change(&mut self, x: f64) -> Option<f64> {
        self.seen += 1;
        if self.seen == 1 {
            self.prev_value = x;
            return None;
        }
        let change = x - self.prev_value;
        self.prev_value = x;
        Some(change)
    }

    /// Adds the `gain` and `loss` of the change [`change`](GainLoss::change) just returned, past
    /// the seed after scaling the averages back up by `period - 1`. Returns whether `period`
    /// changes are in: the sums then want dividing by `period` into the averages.
    #[inline(always)]
    pub(super) fn add(&mut self, gain: f64, loss: f64) -> bool {
        if self.seen > self.period + 1 {
            let keep = (self.period - 1) as f64;
            self.loss *= keep;
            self.gain *= keep;
        }
        self.loss += loss;
        self.gain += gain;
        self.seen > self.period
    }
}
