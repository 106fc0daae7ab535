//! Streaming technical indicators that reproduce TA-Lib 0.8.1 (warm-up included), one bar at a time.
//!
//! Every indicator is a small state machine fed with one bar's non-NULL inputs per call
//! ([`Indicator::update`]). It returns `None` during TA-Lib's warm-up (the bars TA-Lib leaves as
//! NaN) and the TA-Lib value afterwards. The floating-point operations follow the TA-Lib 0.8.1 C
//! sources (running sums and their re-anchoring, seeds, Wilder steps, epsilon guards), and the
//! multiply-adds that TA-Lib 0.8 fuses are fused here too (`f64::mul_add`), so outputs agree with
//! TA-Lib bit for bit on the reference data (and always far inside 1e-9 relative).
//!
//! NULL handling is the driver's job (see the strategy-graph spec): leading NULL inputs are
//! skipped so the indicator starts at the first non-NULL bar, and a later NULL input yields a NULL
//! output without calling `update`, leaving the state unchanged. `update` therefore never sees NaN.

mod batch;
mod catalog;
mod window;

pub mod average;
pub mod momentum;
pub mod trend;
pub mod volatility;
pub mod volume;

/// One bar's inputs in TA-Lib order for the indicator (source only; or high, low, close; or high, low, close, volume; obv: close, volume).
pub trait Indicator: Send + std::fmt::Debug {
    /// Feeds the next bar's (non-NULL) inputs; returns the output for that bar, None during warm-up.
    ///
    /// `inputs` holds one value per entry of the indicator's [`Spec::inputs`], in that order.
    fn update(&mut self, inputs: &[f64]) -> Option<f64>;

    /// Feeds whole columns at once (no NULLs; one slice per input, all of one length) and appends
    /// each bar's output to `values`, with `valid[i]` false (and `values[i]` 0) during warm-up.
    ///
    /// The same as calling [`update`](Indicator::update) bar by bar, but compiled once per
    /// indicator with `update` inlined: one dynamic call per batch instead of one per bar.
    /// Several indicators override it with a steady-state loop over the input slices once they
    /// are warm, or with an FMA build of the loop (see `batch.rs`).
    fn update_batch(&mut self, columns: &[&[f64]], values: &mut Vec<f64>, valid: &mut Vec<bool>) {
        batch::run_portable(self, columns, values, valid);
    }
}

/// Description of one indicator output: its name, inputs, parameters and TA-Lib counterpart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// Name as in the strategy-graph spec's indicator table (e.g. `bb_upper`).
    pub name: &'static str,
    /// Input series in the order `update` expects them: `["source"]`, `["high","low","close"]`,
    /// `["high","low","close","volume"]` or `["source","volume"]` (obv).
    pub inputs: &'static [&'static str],
    /// Parameters in spec order (the order `build` takes them).
    pub params: &'static [ParamSpec],
    /// The TA-Lib function and output reproduced, e.g. `"BBANDS upper band (matype 0)"`.
    pub talib: &'static str,
    /// One-line description.
    pub doc: &'static str,
}

/// One numeric parameter of an indicator, with its default and accepted range (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    /// Whether the value must be a whole number (periods).
    pub integer: bool,
}

impl ParamSpec {
    /// Checks one value against this parameter's range and integrality.
    fn check(&self, indicator: &str, value: f64) -> Result<f64, String> {
        let in_range = value >= self.min && value <= self.max; // false for NaN
        if self.integer {
            if !in_range || value.fract() != 0.0 {
                return Err(format!(
                    "{indicator}: parameter `{}` must be an integer in {}..={} (got {value})",
                    self.name, self.min, self.max
                ));
            }
        } else if !in_range {
            return Err(format!(
                "{indicator}: parameter `{}` must be a number in {:e}..={:e} (got {value})",
                self.name, self.min, self.max
            ));
        }
        Ok(value)
    }
}

/// Every indicator output of the spec's indicator table, in table order.
pub fn specs() -> &'static [Spec] {
    catalog::SPECS
}

/// The spec of the indicator called `name`, if there is one.
pub fn spec(name: &str) -> Option<&'static Spec> {
    catalog::SPECS.iter().find(|s| s.name == name)
}

/// Builds the indicator `name` with `params` in spec order; omitted trailing params take their
/// defaults.
///
/// # Errors
/// An unknown name, too many params, or a value out of range (or a non-integer period), with a
/// message that names the parameter and its allowed range.
pub fn build(name: &str, params: &[f64]) -> Result<Box<dyn Indicator>, String> {
    let spec = spec(name).ok_or_else(|| format!("unknown indicator `{name}`"))?;
    if params.len() > spec.params.len() {
        return Err(format!(
            "{name}: takes at most {} parameter(s), got {}",
            spec.params.len(),
            params.len()
        ));
    }
    let mut values = Vec::with_capacity(spec.params.len());
    for (i, p) in spec.params.iter().enumerate() {
        let v = params.get(i).copied().unwrap_or(p.default);
        values.push(p.check(name, v)?);
    }
    Ok(catalog::construct(name, &values))
}

#[cfg(test)]
mod tests;
