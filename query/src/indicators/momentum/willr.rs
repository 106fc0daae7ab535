//! WILLR: Williams' %R (TA-Lib `TA_WILLR`).

use crate::indicators::window::{is_zero_scaled, Extremes};
use crate::indicators::batch::{self, Fill};
use crate::indicators::Indicator;

/// Williams' %R, TA-Lib `TA_WILLR`: `-100 * ((highest - close) / (highest - lowest))` over the
/// last `period` bars, 0 when the range is within `TA_EPSILON * (|highest| + |lowest|)` of zero. Inputs: high, low, close. Lookback `period - 1`.
#[derive(Debug, Clone)]
pub struct Willr {
    extremes: Extremes,
}

impl Willr {
    /// `period` ≥ 2.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Willr {
            extremes: Extremes::new(period),
        }
    }

    /// Feeds one bar; returns %R once `period` bars have been seen.
    #[inline(always)]
    pub fn step(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        self.extremes.push(high, low);
        if !self.extremes.is_full() {
            return None;
        }
        // A range within TA_EPSILON of the window's own level counts as flat (TA-Lib 0.8, #253).
        Some(percent_r(self.extremes.highest(), self.extremes.lowest(), close))
    }
}

/// %R from the window's extremes, TA-Lib's flat-range rule included.
#[inline(always)]
fn percent_r(highest: f64, lowest: f64, close: f64) -> f64 {
    let range = highest - lowest;
    if is_zero_scaled(range, highest.abs() + lowest.abs()) {
        0.0
    } else {
        -100.0 * ((highest - close) / range)
    }
}

impl Indicator for Willr {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0], inputs[1], inputs[2])
    }

    /// Once a bar's whole window lies in the batch, the extremes come from the input slices by
    /// van Herk / Gil-Werman (see [`Fill`]), then the state machine takes the batch's last
    /// `period` bars.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let p = self.extremes.period();
        if let Some((from, out)) = batch::warm_then_tail(self, columns, |_, at| at + 1 >= p, values, valid) {
            batch::fill_fused(self, columns, from, out);
        }
    }
}

impl Fill for Willr {
    /// The window extremes without rescans or branches (van Herk / Gil-Werman): the bars from
    /// `from` on are cut into blocks of `period`; a bar's window is the tail of the `period - 1`
    /// bars before its block plus the head of its block, so its highest high is the larger of a
    /// suffix maximum (computed backwards once per block) and a prefix maximum (carried forwards),
    /// and likewise for the lowest low. A maximum is exact whatever the order, so the values
    /// equal the ones `step` tracks. %R then runs over the block in a loop the compiler
    /// vectorises (divisions included).
    #[inline(always)]
    fn fill(&mut self, columns: &[&[f64]], from: usize, out: &mut [f64]) {
        let (high, low, close) = (columns[0], columns[1], columns[2]);
        let p = self.extremes.period();
        let n = from + out.len();
        let (mut suffix_high, mut suffix_low) = (vec![f64::NEG_INFINITY; p], vec![f64::INFINITY; p]);
        let (mut highest, mut lowest) = (vec![0.0; p], vec![0.0; p]);
        for block in (from..n).step_by(p) {
            let len = p.min(n - block);
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
                .zip(high[within.clone()].iter().zip(&low[within.clone()]))
            {
                h = if bh > h { bh } else { h };
                l = if bl < l { bl } else { l };
                *hi = if sh > h { sh } else { h };
                *lo = if sl < l { sl } else { l };
            }
            for ((o, &c), (&hi, &lo)) in out[block - from..block - from + len]
                .iter_mut()
                .zip(&close[within])
                .zip(highest[..len].iter().zip(&lowest[..len]))
            {
                *o = percent_r(hi, lo, c);
            }
        }
        self.extremes.reset_to(&high[n - p..n], &low[n - p..n]);
    }
}
