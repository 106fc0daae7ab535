//! MACD: moving average convergence/divergence line, signal and histogram (TA-Lib `TA_MACD`).

use crate::indicators::Indicator;

/// TA-Lib's `PER_TO_K`: the EMA factor `2 / (period + 1)`.
fn per_to_k(period: usize) -> f64 {
    2.0 / ((period + 1) as f64)
}

/// The single-pass MACD state machine shared by the three outputs.
///
/// Like TA-Lib 0.8: the periods are swapped when `slow < fast`; the slow EMA is seeded with the
/// average of the first `slow` values and the fast EMA with the average of the last `fast` of
/// those (both seeds end on the same bar); the signal EMA is seeded with the average of the first
/// `signal` MACD values (period 1: the MACD line itself). Every EMA steps as TA-Lib 0.8's fused
/// `fma(x - prev, k, prev)` with `k = 2 / (period + 1)`.
/// All three outputs start after a lookback of `(slow - 1) + (signal - 1)`.
#[derive(Debug, Clone)]
struct MacdCore {
    fast: usize,
    slow: usize,
    signal: usize,
    fast_k: f64,
    slow_k: f64,
    signal_k: f64,
    seen: usize,
    fast_sum: f64,
    slow_sum: f64,
    prev_fast: f64,
    prev_slow: f64,
    prev_signal: f64,
}

impl MacdCore {
    fn new(fast: usize, slow: usize, signal: usize) -> Self {
        let (fast, slow) = if slow < fast {
            (slow, fast)
        } else {
            (fast, slow)
        };
        debug_assert!(fast >= 1 && signal >= 1);
        MacdCore {
            fast,
            slow,
            signal,
            fast_k: per_to_k(fast),
            slow_k: per_to_k(slow),
            signal_k: per_to_k(signal),
            seen: 0,
            fast_sum: 0.0,
            slow_sum: 0.0,
            prev_fast: 0.0,
            prev_slow: 0.0,
            prev_signal: 0.0,
        }
    }

    /// Returns `(macd, signal, hist)` after the warm-up.
    #[inline]
    fn step(&mut self, x: f64) -> Option<(f64, f64, f64)> {
        self.seen += 1;
        let n = self.seen;
        if n <= self.slow {
            // Seed windows: slow over bars 1..=slow, fast over the last `fast` of them.
            self.slow_sum += x;
            if n > self.slow - self.fast {
                self.fast_sum += x;
            }
            if n < self.slow {
                return None;
            }
            self.prev_slow = self.slow_sum / self.slow as f64;
            self.prev_fast = self.fast_sum / self.fast as f64;
        } else {
            self.prev_fast = (x - self.prev_fast).mul_add(self.fast_k, self.prev_fast);
            self.prev_slow = (x - self.prev_slow).mul_add(self.slow_k, self.prev_slow);
        }
        let macd = self.prev_fast - self.prev_slow;
        let signal_seen = n - (self.slow - 1);
        if signal_seen <= self.signal {
            // Signal seed: average of the first `signal` MACD values, summed from 0.0.
            self.prev_signal += macd;
            if signal_seen < self.signal {
                return None;
            }
            self.prev_signal /= self.signal as f64;
        } else if self.signal == 1 {
            self.prev_signal = macd;
        } else {
            self.prev_signal = (macd - self.prev_signal).mul_add(self.signal_k, self.prev_signal);
        }
        Some((macd, self.prev_signal, macd - self.prev_signal))
    }
}

/// MACD line, TA-Lib `TA_MACD` output `macd`: fast EMA - slow EMA.
#[derive(Debug, Clone)]
pub struct Macd(MacdCore);

impl Macd {
    /// `fast`, `slow` ≥ 2, `signal` ≥ 1.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Macd(MacdCore::new(fast, slow, signal))
    }
}

impl Indicator for Macd {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0]).map(|(m, _, _)| m)
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}

/// MACD signal line, TA-Lib `TA_MACD` output `macdsignal`: EMA of the MACD line.
#[derive(Debug, Clone)]
pub struct MacdSignal(MacdCore);

impl MacdSignal {
    /// `fast`, `slow` ≥ 2, `signal` ≥ 1.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        MacdSignal(MacdCore::new(fast, slow, signal))
    }
}

impl Indicator for MacdSignal {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0]).map(|(_, s, _)| s)
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}

/// MACD histogram, TA-Lib `TA_MACD` output `macdhist`: MACD line - signal line.
#[derive(Debug, Clone)]
pub struct MacdHist(MacdCore);

impl MacdHist {
    /// `fast`, `slow` ≥ 2, `signal` ≥ 1.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        MacdHist(MacdCore::new(fast, slow, signal))
    }
}

impl Indicator for MacdHist {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0]).map(|(_, _, h)| h)
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
