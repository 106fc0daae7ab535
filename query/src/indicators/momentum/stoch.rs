//! STOCH: slow stochastic %K and %D with SMA smoothing (TA-Lib `TA_STOCH`, matype 0).

use crate::indicators::average::sma::Sma;
use crate::indicators::window::{is_zero_scaled, Extremes};
use crate::indicators::Indicator;

/// Shared state of both STOCH outputs: fast %K, its SMA (slow %K) and that one's SMA (slow %D).
///
/// Fast %K is `((close - lowest) / (highest - lowest)) * 100` over the last `fastk` bars, 0 when
/// the range is within `TA_EPSILON * (|highest| + |lowest|)` of zero; both SMAs are TA-Lib's
/// running-sum SMA started at the first fast %K.
#[derive(Debug, Clone)]
struct StochCore {
    extremes: Extremes,
    slow_k: Sma,
    slow_d: Sma,
}

impl StochCore {
    fn new(fastk: usize, slowk: usize, slowd: usize) -> Self {
        debug_assert!(fastk >= 1 && slowk >= 1 && slowd >= 1);
        StochCore {
            extremes: Extremes::new(fastk),
            slow_k: Sma::new(slowk),
            slow_d: Sma::new(slowd),
        }
    }

    /// Returns `(slow %K, slow %D)` once both exist: TA-Lib starts both outputs on the same bar,
    /// after a lookback of `(fastk - 1) + (slowk - 1) + (slowd - 1)`.
    #[inline]
    fn step(&mut self, high: f64, low: f64, close: f64) -> Option<(f64, f64)> {
        self.extremes.push(high, low);
        if !self.extremes.is_full() {
            return None;
        }
        let (highest, lowest) = (self.extremes.highest(), self.extremes.lowest());
        let range = highest - lowest;
        let fast_k = if is_zero_scaled(range, highest.abs() + lowest.abs()) {
            0.0
        } else {
            ((close - lowest) / range) * 100.0
        };
        let k = self.slow_k.step(fast_k)?;
        let d = self.slow_d.step(k)?;
        Some((k, d))
    }
}

/// Slow stochastic %K, TA-Lib `TA_STOCH` output `slowk` (both MA types SMA).
/// Inputs: high, low, close.
#[derive(Debug, Clone)]
pub struct StochK(StochCore);

impl StochK {
    /// Periods ≥ 1.
    pub fn new(fastk_period: usize, slowk_period: usize, slowd_period: usize) -> Self {
        StochK(StochCore::new(fastk_period, slowk_period, slowd_period))
    }
}

impl Indicator for StochK {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0], inputs[1], inputs[2]).map(|(k, _)| k)
    }
}

/// Slow stochastic %D, TA-Lib `TA_STOCH` output `slowd` (both MA types SMA).
/// Inputs: high, low, close.
#[derive(Debug, Clone)]
pub struct StochD(StochCore);

impl StochD {
    /// Periods ≥ 1.
    pub fn new(fastk_period: usize, slowk_period: usize, slowd_period: usize) -> Self {
        StochD(StochCore::new(fastk_period, slowk_period, slowd_period))
    }
}

impl Indicator for StochD {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0], inputs[1], inputs[2]).map(|(_, d)| d)
    }
}
