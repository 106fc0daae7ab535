//! ATR: average true range (TA-Lib `TA_ATR`), with the Wilder core shared by NATR.

use crate::indicators::window::true_range;
use crate::indicators::Indicator;

/// TA-Lib 0.8's ATR recursion: the first ATR is the plain average of the first `period` true
/// ranges (bars 2..=period+1), then `atr = fma(beta, atr, alpha * tr)` with
/// `beta = (period - 1) / period` and `alpha = 1 - beta` (the fused multiply-add TA-Lib 0.8
/// emits). Lookback `period`.
#[derive(Debug, Clone)]
pub(crate) struct AtrCore {
    period: usize,
    alpha: f64,
    beta: f64,
    seen: usize,
    prev_close: f64,
    total: f64,
    prev_atr: f64,
}

impl AtrCore {
    pub(crate) fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        let beta = (period - 1) as f64 / period as f64;
        AtrCore {
            period,
            alpha: 1.0 - beta,
            beta,
            seen: 0,
            prev_close: 0.0,
            total: 0.0,
            prev_atr: 0.0,
        }
    }

    /// Feeds one bar; returns the ATR from bar `period + 1` on.
    #[inline(always)]
    pub(crate) fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.seen += 1;
        let prev_close = self.prev_close;
        self.prev_close = close;
        if self.seen == 1 {
            return None;
        }
        let tr = true_range(high, low, prev_close);
        if self.seen <= self.period + 1 {
            self.total += tr;
            if self.seen <= self.period {
                return None;
            }
            self.prev_atr = self.total / self.period as f64;
        } else {
            // TA-Lib 0.8 emits this step as fma(beta, prev_atr, alpha * tr).
            self.prev_atr = self.beta.mul_add(self.prev_atr, self.alpha * tr);
        }
        Some(self.prev_atr)
    }
}

/// Average true range, TA-Lib `TA_ATR` (Wilder smoothing, no unstable period).
/// Inputs: high, low, close. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Atr(AtrCore);

impl Atr {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        Atr(AtrCore::new(period))
    }
}

impl Indicator for Atr {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0], inputs[1], inputs[2])
    }
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        crate::indicators::batch::run_fused(self, columns, values, valid);
    }
}
