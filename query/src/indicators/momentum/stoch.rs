//! STOCH: slow stochastic %K and %D with SMA smoothing (TA-Lib `TA_STOCH`, matype 0).

use crate::indicators::average::sma::Sma;
use crate::indicators::batch;
use crate::indicators::window::{is_zero_scaled, sliding_extremes, Extremes};
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
    /// Whether both outputs exist (from then on every bar has them).
    emitting: bool,
}

impl StochCore {
    fn new(fastk: usize, slowk: usize, slowd: usize) -> Self {
        debug_assert!(fastk >= 1 && slowk >= 1 && slowd >= 1);
        StochCore {
            extremes: Extremes::new(fastk),
            slow_k: Sma::new(slowk),
            slow_d: Sma::new(slowd),
            emitting: false,
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
        self.smooth(fast_k(self.extremes.highest(), self.extremes.lowest(), close))
    }

    /// Feeds one fast %K through both SMAs.
    #[inline(always)]
    fn smooth(&mut self, fast_k: f64) -> Option<(f64, f64)> {
        let k = self.slow_k.step(fast_k)?;
        let d = self.slow_d.step(k)?;
        self.emitting = true;
        Some((k, d))
    }
}

/// Fast %K from the window's extremes, TA-Lib's flat-range rule included.
#[inline(always)]
fn fast_k(highest: f64, lowest: f64, close: f64) -> f64 {
    let range = highest - lowest;
    if is_zero_scaled(range, highest.abs() + lowest.abs()) {
        0.0
    } else {
        ((close - lowest) / range) * 100.0
    }
}

/// One STOCH output around the shared core.
trait Output: Indicator {
    fn core(&self) -> &StochCore;
    fn core_mut(&mut self) -> &mut StochCore;
    /// This output of `(slow %K, slow %D)`.
    fn pick(kd: (f64, f64)) -> f64;
}

/// The batch path of one output: once both outputs exist and a bar's whole window lies in the
/// batch, the fast %K of every bar comes from [`sliding_extremes`] (a vectorised loop per
/// block), then goes through both SMAs; the extremes then take the batch's last `fastk` bars.
fn update_batch<S: Output>(ind: &mut S, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
    let p = ind.core().extremes.period();
    let ready = |s: &S, at: usize| at + 1 >= p && s.core().emitting;
    let Some((from, out)) = batch::warm_then_tail(ind, columns, ready, values, valid) else { return };
    let (high, low, close) = (columns[0], columns[1], columns[2]);
    let n = from + out.len();
    let core = ind.core_mut();
    sliding_extremes(high, low, from..n, p, |block, highest, lowest| {
        let bars = block - from..block - from + highest.len();
        for ((o, &c), (&hi, &lo)) in out[bars].iter_mut().zip(&close[block..]).zip(highest.iter().zip(lowest)) {
            *o = fast_k(hi, lo, c);
        }
    });
    for o in out.iter_mut() {
        *o = S::pick(core.smooth(*o).expect("both SMAs are full once the outputs exist"));
    }
    core.extremes.reset_to(&high[n - p..n], &low[n - p..n]);
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
        self.0.step(inputs[0], inputs[1], inputs[2]).map(Self::pick)
    }

    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        update_batch(self, columns, values, valid);
    }
}

impl Output for StochK {
    fn core(&self) -> &StochCore {
        &self.0
    }
    fn core_mut(&mut self) -> &mut StochCore {
        &mut self.0
    }
    #[inline(always)]
    fn pick((k, _): (f64, f64)) -> f64 {
        k
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
        self.0.step(inputs[0], inputs[1], inputs[2]).map(Self::pick)
    }

    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        update_batch(self, columns, values, valid);
    }
}

impl Output for StochD {
    fn core(&self) -> &StochCore {
        &self.0
    }
    fn core_mut(&mut self) -> &mut StochCore {
        &mut self.0
    }
    #[inline(always)]
    fn pick((_, d): (f64, f64)) -> f64 {
        d
    }
}
