//! Shared building blocks: a fixed-size history ring and the lag read through it, sliding-window extremes, and TA-Lib's numeric helpers.

/// TA-Lib's `TA_EPSILON` (ta_utility.h).
pub(crate) const TA_EPSILON: f64 = 0.000_000_000_000_01;

/// TA-Lib's `TA_IS_ZERO(v)`: strictly inside `(-TA_EPSILON, TA_EPSILON)`.
#[inline]
pub(crate) fn is_zero(v: f64) -> bool {
    -TA_EPSILON < v && v < TA_EPSILON
}

/// TA-Lib's `TA_IS_ZERO_SCALED(v, scale)`: `|v| <= TA_EPSILON * scale`.
#[inline]
pub(crate) fn is_zero_scaled(v: f64, scale: f64) -> bool {
    v.abs() <= TA_EPSILON * scale
}

/// TA-Lib's true range of a bar given the previous close, in TA-Lib's comparison order:
/// start from high - low, then replace by |prev_close - high|, then by |prev_close - low|.
#[inline]
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

    #[inline]
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
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The value pushed `ago` pushes before the newest one (`ago == 0` is the newest).
    #[inline]
    pub(crate) fn ago(&self, ago: usize) -> f64 {
        debug_assert!(ago < self.len, "ring read past its history");
        let cap = self.buf.len();
        // next < cap and ago < cap, so one conditional subtraction wraps (no division per read)
        let i = self.next + cap - 1 - ago;
        self.buf[if i >= cap { i - cap } else { i }]
    }

    /// The held values, oldest first.
    pub(crate) fn oldest_first(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).rev().map(move |ago| self.ago(ago))
    }
}

/// A series' value `period` bars back, through a [`Ring`] of the last `period + 1` values: the
/// step MOM and ROC share, in `update` ([`push`](Lag::push)) and in their batch loops
/// ([`pairs`](Lag::pairs), [`keep_tail`](Lag::keep_tail)).
#[derive(Debug, Clone)]
pub(crate) struct Lag {
    period: usize,
    window: Ring,
}

impl Lag {
    /// `period` ≥ 1.
    pub(crate) fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Lag {
            period,
            window: Ring::new(period + 1),
        }
    }

    pub(crate) fn period(&self) -> usize {
        self.period
    }

    /// Takes `x`; returns the value `period` pushes before it, None until there is one.
    #[inline(always)]
    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if self.window.len() <= self.period {
            return None;
        }
        Some(self.window.ago(self.period))
    }

    /// Each bar of `bars` of `x` (from `period` on) with the bar `period` before it, `(now, then)`,
    /// both read from the slice: a loop over them is one the compiler vectorises.
    #[inline(always)]
    pub(crate) fn pairs<'a>(&self, x: &'a [f64], bars: std::ops::Range<usize>) -> std::iter::Zip<std::slice::Iter<'a, f64>, std::slice::Iter<'a, f64>> {
        let p = self.period;
        x[bars.start..bars.end].iter().zip(&x[bars.start - p..bars.end - p])
    }

    /// After a batch loop over [`pairs`](Lag::pairs) up to bar `n` of `x` (`n` > `period`):
    /// takes the last `period + 1` values, as [`push`](Lag::push) would have left the ring.
    #[inline(always)]
    pub(crate) fn keep_tail(&mut self, x: &[f64], n: usize) {
        for &v in &x[n - (self.period + 1)..n] {
            self.window.push(v);
        }
    }
}

/// Highest high and lowest low over the last `period` bars, as TA-Lib tracks them: the extreme
/// and where it was, a rescan of the window only when that bar leaves it (O(1) amortised on
/// market data, no allocation per bar).
#[derive(Debug, Clone)]
pub(crate) struct Extremes {
    period: u64,
    /// Index of the next bar to be pushed.
    bar: u64,
    highs: Ring,
    lows: Ring,
    highest: f64,
    highest_at: u64,
    lowest: f64,
    lowest_at: u64,
}

impl Extremes {
    pub(crate) fn new(period: usize) -> Self {
        Extremes {
            period: period as u64,
            bar: 0,
            highs: Ring::new(period),
            lows: Ring::new(period),
            highest: f64::NEG_INFINITY,
            highest_at: 0,
            lowest: f64::INFINITY,
            lowest_at: 0,
        }
    }

    /// The extreme of the window held by `ring` (its newest value is bar `newest`) and the bar it
    /// is at, the latest one on ties; `better(a, b)` says whether `a` beats or ties `b`.
    fn rescan(ring: &Ring, newest: u64, better: impl Fn(f64, f64) -> bool) -> (f64, u64) {
        let (mut best, mut at) = (ring.ago(ring.len() - 1), newest + 1 - ring.len() as u64);
        for ago in (0..ring.len() - 1).rev() {
            let v = ring.ago(ago);
            if better(v, best) {
                best = v;
                at = newest - ago as u64;
            }
        }
        (best, at)
    }

    /// Adds a bar; the bar that left the window no longer counts.
    #[inline]
    pub(crate) fn push(&mut self, high: f64, low: f64) {
        let i = self.bar;
        self.bar += 1;
        self.highs.push(high);
        self.lows.push(low);
        let first_in_window = self.bar.saturating_sub(self.period);
        if i == 0 || self.highest_at < first_in_window {
            (self.highest, self.highest_at) = Self::rescan(&self.highs, i, |a, b| a >= b);
        } else if high >= self.highest {
            (self.highest, self.highest_at) = (high, i);
        }
        if i == 0 || self.lowest_at < first_in_window {
            (self.lowest, self.lowest_at) = Self::rescan(&self.lows, i, |a, b| a <= b);
        } else if low <= self.lowest {
            (self.lowest, self.lowest_at) = (low, i);
        }
    }

    /// The window's length in bars.
    pub(crate) fn period(&self) -> usize {
        self.period as usize
    }

    /// Starts over holding just these bars (oldest first): the state after pushing them.
    pub(crate) fn reset_to(&mut self, highs: &[f64], lows: &[f64]) {
        *self = Extremes::new(self.period as usize);
        for (&h, &l) in highs.iter().zip(lows) {
            self.push(h, l);
        }
    }

    /// Whether `period` bars have been pushed.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.bar >= self.period
    }

    #[inline]
    pub(crate) fn highest(&self) -> f64 {
        self.highest
    }

    #[inline]
    pub(crate) fn lowest(&self) -> f64 {
        self.lowest
    }
}

/// The highest high and lowest low of the `period`-bar window ending at each bar of `bars`, every
/// window lying in the slices, without rescans or branches (van Herk / Gil-Werman): the bars are
/// cut into blocks of `period`; a bar's window is the tail of the `period - 1` bars before its
/// block plus the head of its block, so its extreme is the better of a suffix extreme (computed
/// backwards once per block) and a prefix extreme (carried forwards). An extreme is exact whatever
/// the order, so the values equal the ones [`Extremes`] tracks. Calls `emit(first bar, highest,
/// lowest)` once per block, with one entry per bar of the block.
#[inline(always)]
pub(crate) fn sliding_extremes(high: &[f64], low: &[f64], bars: std::ops::Range<usize>, period: usize, mut emit: impl FnMut(usize, &[f64], &[f64])) {
    let p = period;
    let (mut suffix_high, mut suffix_low) = (vec![f64::NEG_INFINITY; p], vec![f64::INFINITY; p]);
    let (mut highest, mut lowest) = (vec![0.0; p], vec![0.0; p]);
    for block in bars.clone().step_by(p) {
        let len = p.min(bars.end - block);
        // suffix[m]: the extreme of bars block+1-p+m ..= block-1 (none for m = p - 1)
        let (mut h, mut l) = (f64::NEG_INFINITY, f64::INFINITY);
        let before = block + 1 - p..block;
        for ((sh, sl), (&bh, &bl)) in suffix_high[..p - 1]
            .iter_mut()
            .zip(&mut suffix_low[..p - 1])
            .zip(high[before.clone()].iter().zip(&low[before]))
            .rev()
        {
            h = if bh > h { bh } else { h };
            l = if bl < l { bl } else { l };
            (*sh, *sl) = (h, l);
        }
        let (mut h, mut l) = (f64::NEG_INFINITY, f64::INFINITY);
        let within = block..block + len;
        for (((hi, lo), (&sh, &sl)), (&bh, &bl)) in highest[..len]
            .iter_mut()
            .zip(&mut lowest[..len])
            .zip(suffix_high.iter().zip(&suffix_low))
            .zip(high[within.clone()].iter().zip(&low[within]))
        {
            h = if bh > h { bh } else { h };
            l = if bl < l { bl } else { l };
            *hi = if sh > h { sh } else { h };
            *lo = if sl < l { sl } else { l };
        }
        emit(block, &highest[..len], &lowest[..len]);
    }
}

/// The bars `bars` of high/low/close (starting at 1 or later), each with the bar before it:
/// `(high, low, previous high, previous low, previous close)`, for the batch loops that read
/// yesterday's bar from the slices.
#[inline(always)]
pub(crate) fn with_previous<'a>(
    high: &'a [f64],
    low: &'a [f64],
    close: &'a [f64],
    bars: std::ops::Range<usize>,
) -> impl Iterator<Item = (f64, f64, f64, f64, f64)> + 'a {
    let (from, n) = (bars.start, bars.end);
    let today = high[from..n].iter().zip(&low[from..n]);
    let yesterday = high[from - 1..n - 1].iter().zip(&low[from - 1..n - 1]).zip(&close[from - 1..n - 1]);
    today.zip(yesterday).map(|((&h, &l), ((&ph, &pl), &pc))| (h, l, ph, pl, pc))
}
