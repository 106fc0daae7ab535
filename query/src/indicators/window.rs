//! Shared building blocks: a fixed-size history ring, sliding-window extremes, and TA-Lib's numeric helpers.

use std::collections::VecDeque;

/// TA-Lib's `TA_EPSILON` (ta_utility.h).
pub(crate) const TA_EPSILON: f64 = 0.000_000_000_000_01;

/// TA-Lib's `TA_IS_ZERO(v)`: strictly inside `(-TA_EPSILON, TA_EPSILON)`.
pub(crate) fn is_zero(v: f64) -> bool {
    -TA_EPSILON < v && v < TA_EPSILON
}

/// TA-Lib's `TA_IS_ZERO_SCALED(v, scale)`: `|v| <= TA_EPSILON * scale`.
pub(crate) fn is_zero_scaled(v: f64, scale: f64) -> bool {
    v.abs() <= TA_EPSILON * scale
}

/// TA-Lib's true range of a bar given the previous close, in TA-Lib's comparison order:
/// start from high - low, then replace by |prev_close - high|, then by |prev_close - low|.
pub(crate) fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut greatest = high - low;
    let val2 = (prev_close - high).abs();
    if val2 > greatest {
        greatest = val2;
    }
    let val3 = (prev_close - low).abs();
    if val3 > greatest {
        greatest = val3;
    }
    greatest
}

/// The last `capacity` values of a series (newest last), for O(1) "value n bars ago" reads.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    /// Slot the next push writes.
    next: usize,
    len: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Ring {
            buf: vec![0.0; capacity.max(1)],
            next: 0,
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, value: f64) {
        self.buf[self.next] = value;
        self.next += 1;
        if self.next == self.buf.len() {
            self.next = 0;
        }
        if self.len < self.buf.len() {
            self.len += 1;
        }
    }

    /// Number of values held (at most the capacity).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value pushed `ago` pushes before the newest one (`ago == 0` is the newest).
    pub(crate) fn ago(&self, ago: usize) -> f64 {
        debug_assert!(ago < self.len, "ring read past its history");
        let cap = self.buf.len();
        self.buf[(self.next + cap - 1 - ago) % cap]
    }

    /// The held values, oldest first.
    pub(crate) fn oldest_first(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).rev().map(move |ago| self.ago(ago))
    }
}

/// Highest high and lowest low over the last `period` bars, via monotonic deques (O(1) amortised).
#[derive(Debug, Clone)]
pub(crate) struct Extremes {
    period: u64,
    /// Index of the next bar to be pushed.
    bar: u64,
    highs: VecDeque<(u64, f64)>,
    lows: VecDeque<(u64, f64)>,
}

impl Extremes {
    pub(crate) fn new(period: usize) -> Self {
        Extremes {
            period: period as u64,
            bar: 0,
            highs: VecDeque::new(),
            lows: VecDeque::new(),
        }
    }

    /// Adds a bar and drops the one that left the window.
    pub(crate) fn push(&mut self, high: f64, low: f64) {
        let i = self.bar;
        self.bar += 1;
        while self.highs.back().is_some_and(|&(_, h)| h <= high) {
            self.highs.pop_back();
        }
        self.highs.push_back((i, high));
        while self.lows.back().is_some_and(|&(_, l)| l >= low) {
            self.lows.pop_back();
        }
        self.lows.push_back((i, low));
        let first_in_window = self.bar.saturating_sub(self.period);
        while self
            .highs
            .front()
            .is_some_and(|&(j, _)| j < first_in_window)
        {
            self.highs.pop_front();
        }
        while self.lows.front().is_some_and(|&(j, _)| j < first_in_window) {
            self.lows.pop_front();
        }
    }

    /// Whether a full window of `period` bars has been seen.
    pub(crate) fn is_full(&self) -> bool {
        self.bar >= self.period
    }

    pub(crate) fn highest(&self) -> f64 {
        self.highs.front().map_or(f64::NAN, |&(_, h)| h)
    }

    pub(crate) fn lowest(&self) -> f64 {
        self.lows.front().map_or(f64::NAN, |&(_, l)| l)
    }
}
