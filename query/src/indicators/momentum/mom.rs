//! MOM: momentum (TA-Lib `TA_MOM`).

use crate::indicators::window::Ring;
use crate::indicators::Indicator;

/// Momentum, TA-Lib `TA_MOM`: `x - x[period ago]`. Lookback `period`.
#[derive(Debug, Clone)]
pub struct Mom {
    period: usize,
    window: Ring,
}

impl Mom {
    /// `period` ≥ 1.
    pub fn new(period: usize) -> Self {
        debug_assert!(period >= 1);
        Mom {
            period,
            window: Ring::new(period + 1),
        }
    }

    /// Feeds one value; returns the momentum from the `period + 1`-th value on.
    #[inline(always)]
    pub fn step(&mut self, x: f64) -> Option<f64> {
        self.window.push(x);
        if self.window.len() <= self.period {
            return None;
        }
        Some(x - self.window.ago(self.period))
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
        let (n, p) = (x.len(), self.period);
        if let Some((from, out)) = crate::indicators::batch::warm_then_tail(self, columns, |_, at| at >= p, values, valid) {
            for (o, (now, then)) in out.iter_mut().zip(x[from..].iter().zip(&x[from - p..n - p])) {
                *o = now - then;
            }
            for &v in &x[n - (p + 1).min(n)..] {
                self.window.push(v);
            }
        }
    }
}
