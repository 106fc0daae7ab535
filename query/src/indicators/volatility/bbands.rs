//! BBANDS: Bollinger Bands with an SMA middle band (TA-Lib `TA_BBANDS`, matype 0), one struct per band.

use super::stddev::Variance;
use crate::indicators::average::sma::Sma;
use crate::indicators::Indicator;

/// TA-Lib's fused SMA path of BBANDS: the SMA running sum and the variance of [`Variance`],
/// `deviation = sqrt(variance)` (0 when the variance is exactly 0), lookback `period - 1`.
#[derive(Debug, Clone)]
struct BandsCore {
    sma: Sma,
    variance: Variance,
    nbdev_up: f64,
    nbdev_dn: f64,
}

impl BandsCore {
    fn new(period: usize, nbdev_up: f64, nbdev_dn: f64) -> Self {
        BandsCore {
            sma: Sma::new(period),
            variance: Variance::new(period),
            nbdev_up,
            nbdev_dn,
        }
    }

    /// Returns `(upper, middle, lower)` once `period` values have been seen.
    #[inline]
    fn step(&mut self, x: f64) -> Option<(f64, f64, f64)> {
        let middle = self.sma.step(x);
        let variance = self.variance.step(x)?;
        let middle = middle?;
        let deviation = if variance != 0.0 {
            variance.sqrt()
        } else {
            0.0
        };
        if self.nbdev_up == self.nbdev_dn {
            let width = deviation * self.nbdev_up;
            Some((middle + width, middle, middle - width))
        } else {
            // TA-Lib 0.8 fuses `middle + deviation * nbdev_up` (an add), not the subtraction.
            Some((
                deviation.mul_add(self.nbdev_up, middle),
                middle,
                middle - (deviation * self.nbdev_dn),
            ))
        }
    }
}

/// Bollinger upper band, TA-Lib `TA_BBANDS` output `upperband` (matype 0):
/// `SMA + nbdev_up * stddev`.
#[derive(Debug, Clone)]
pub struct BbUpper(BandsCore);

impl BbUpper {
    /// `period` ≥ 2; deviations any finite reals.
    pub fn new(period: usize, nbdev_up: f64, nbdev_dn: f64) -> Self {
        BbUpper(BandsCore::new(period, nbdev_up, nbdev_dn))
    }
}

impl Indicator for BbUpper {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0]).map(|(u, _, _)| u)
    }
}

/// Bollinger middle band, TA-Lib `TA_BBANDS` output `middleband` (matype 0): the SMA.
#[derive(Debug, Clone)]
pub struct BbMiddle(BandsCore);

impl BbMiddle {
    /// `period` ≥ 2; deviations any finite reals (unused by this band).
    pub fn new(period: usize, nbdev_up: f64, nbdev_dn: f64) -> Self {
        BbMiddle(BandsCore::new(period, nbdev_up, nbdev_dn))
    }
}

impl Indicator for BbMiddle {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0]).map(|(_, m, _)| m)
    }
}

/// Bollinger lower band, TA-Lib `TA_BBANDS` output `lowerband` (matype 0):
/// `SMA - nbdev_dn * stddev`.
#[derive(Debug, Clone)]
pub struct BbLower(BandsCore);

impl BbLower {
    /// `period` ≥ 2; deviations any finite reals.
    pub fn new(period: usize, nbdev_up: f64, nbdev_dn: f64) -> Self {
        BbLower(BandsCore::new(period, nbdev_up, nbdev_dn))
    }
}

impl Indicator for BbLower {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.0.step(inputs[0]).map(|(_, _, l)| l)
    }
}
