//! The platform's SQL functions: every indicator of the strategy-graph spec as a window function.

mod indicator;
mod stddev_samp;

use datafusion::logical_expr::{AggregateUDF, WindowUDF};
use datafusion::prelude::SessionContext;

pub use indicator::{syntax, IndicatorFunc};
pub use stddev_samp::StddevSamp;

/// Every window function this crate defines.
pub fn functions() -> Vec<WindowUDF> {
    crate::indicators::specs().iter().map(|s| WindowUDF::from(IndicatorFunc::new(s))).collect()
}

/// Registers every function of [`functions`] in `ctx`. DataFusion's `stddev` aggregate would shadow
/// the `stddev` indicator (aggregates win name lookups in `OVER` calls), so it stays available as
/// `stddev_samp` only.
pub fn register_all(ctx: &SessionContext) {
    // deregistering removes the aggregate under every name (stddev and its alias stddev_samp)
    ctx.deregister_udaf("stddev");
    ctx.register_udaf(AggregateUDF::from(StddevSamp::new()));
    for f in functions() {
        ctx.register_udwf(f);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn no_name_is_registered_twice() {
        let mut seen = HashSet::new();
        for f in super::functions() {
            assert!(seen.insert(f.name().to_string()), "{} twice", f.name());
        }
        assert_eq!(seen.len(), crate::indicators::specs().len());
    }
}
