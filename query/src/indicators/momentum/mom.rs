//! MOM: momentum (TA-Lib `TA_MOM`).

use crate::indicators::window::Lag;
use crate::indicators::Indicator;

/// Momentum, TA-Lib `TA_MOM`: `x - x[period ago]`. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Mom {
    lag: Lag,
}

impl Mom {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        Mom { lag: Lag::new(period) }
    }

    /// Feeds one value; returns the momentum from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        let before = self.lag.push(x)?;
        Some(x - before)
    }
}

impl Indicator for Mom {
    #[inline(always)]
    fn update(&mut self, inputs: &[f64]) -> Option<f64> {
        self.step(inputs[0])
    }

    /// Once `period` bars of the batch are in, `x[i] - x[i - period]` reads the batch itself: a
    /// loop the compiler vectorises. The ring then takes the batch's tail, as `step` would leave it.
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        let x = columns[0];
        let (n, p) = (x.len(), self.lag.period());
        if let Some((from, out)) = crate::indicators::batch::warm_then_tail(self, columns, |_, at| at >= p, values, valid) {
            for (o, (now, then)) in out.iter_mut().zip(self.lag.pairs(x, from..n)) {
                *o = now - then;
            }
            self.lag.keep_tail(x, n);
        }
    }
}
