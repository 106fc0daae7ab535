//! BBANDS: Bollinger Bands with an SMA middle band (TA-Lib `TA_BBANDS`, matype 0), one struct per band.

use super::stddev::Variance;
use crate::indicators::average::sma::Sma;
use crate::indicators::batch;
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
        Some(bands(middle?, variance, self.nbdev_up, self.nbdev_dn))
    }
}

/// `(upper, middle, lower)` from the middle band and the variance.
#[inline(always)]
fn bands(middle: f64, variance: f64, nbdev_up: f64, nbdev_dn: f64) -> (f64, f64, f64) {
    let deviation = if variance != 0.0 {
        variance.sqrt()
    } else {
        0.0
    };
    if nbdev_up == nbdev_dn {
        let width = deviation * nbdev_up;
        (middle + width, middle, middle - width)
    } else {
        // TA-Lib 0.8 fuses `middle + deviation * nbdev_up` (an add), not the subtraction.
        (deviation.mul_add(nbdev_up, middle), middle, middle - (deviation * nbdev_dn))
    }
}

/// The batch path of one band: once a bar's whole window lies in the batch, the variance loop
/// ([`Variance::fill`]) writes each bar's variance, then the SMA loop ([`Sma::fill_each`]) turns
/// it into the band `pick` selects.
fn update_batch<I: Indicator>(
    ind: &mut I,
    core: fn(&mut I) -> &mut BandsCore,
    pick: fn((f64, f64, f64)) -> f64,
    columns: &[&[f64]],
    values: &mut Vec<f64>,
    valid: &mut Vec<bool>,
) {
    let p = core(ind).sma.period();
    if let Some((from, out)) = batch::warm_then_tail(ind, columns, |_, at| at + 1 >= p, values, valid) {
        let core = core(ind);
        core.variance.fill(columns[0], from, out);
        let (up, dn) = (core.nbdev_up, core.nbdev_dn);
        core.sma.fill_each(columns[0], from, |j, middle| out[j] = pick(bands(middle, out[j], up, dn)));
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

    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        update_batch(self, |b| &mut b.0, |(u, _, _)| u, columns, values, valid);
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

    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        update_batch(self, |b| &mut b.0, |(_, m, _)| m, columns, values, valid);
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

    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        update_batch(self, |b| &mut b.0, |(_, _, l)| l, columns, values, valid);
    }
}
