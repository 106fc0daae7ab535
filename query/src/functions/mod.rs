//! The platform's SQL functions: every indicator of the strategy-graph spec as a window function,
//! the crossover tests strategy plans use, and the market spellings (`canonical_symbol`).

mod crosses;
mod indicator;
mod market;
mod stddev_samp;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

pub use crosses::CrossesFunc;
pub use indicator::{syntax, IndicatorFunc};
pub use market::{CanonicalFunc, Part};
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
    for above in [true, false] {
        ctx.register_udf(ScalarUDF::from(CrossesFunc::new(above)));
    }
    for part in [Part::Symbol, Part::Timeframe] {
        ctx.register_udf(ScalarUDF::from(CanonicalFunc::new(part)));
    }
    for f in functions() {
        ctx.register_udwf(f);
    }
}

/// The indicator reference as Markdown (one row per function: call syntax, TA-Lib function,
/// parameter ranges, description); `docs/indicators.md` holds it and a test keeps it in step.
pub fn indicators_markdown() -> String {
    let mut out = String::from("| function | TA-Lib | parameters (default, range) | what it is |\n| --- | --- | --- | --- |\n");
    for s in crate::indicators::specs() {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| {
                let range = if p.max >= 1e30 { "any".to_string() } else { format!("{}..={}", p.min, p.max) };
                format!("{} ({}, {range}{})", p.name, p.default, if p.integer { ", integer" } else { "" })
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            syntax(s),
            s.talib,
            if params.is_empty() { "none".to_string() } else { params.join("; ") },
            s.doc
        ));
    }
    out
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

    #[test]
    fn the_indicator_docs_list_every_function() {
        let path = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())).join("../docs/indicators.md");
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        let table = super::indicators_markdown();
        if std::env::var_os("BB_BLESS").is_some() {
            let head = doc.split("| function |").next().unwrap_or_default().to_string();
            std::fs::write(&path, format!("{head}{table}")).unwrap();
            return;
        }
        assert!(doc.contains(&table), "docs/indicators.md is out of date; run BB_BLESS=1 cargo test -p query");
    }
}
