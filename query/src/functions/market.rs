//! `canonical_symbol(text)` and `canonical_timeframe(text)`: a market as the lake spells it, from
//! any spelling a user writes (`'btc/usdt'` → `BTCUSDT`, `'60m'` → `1h`), by the lake's own rules.

use std::sync::Arc;

use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

const SECTION: DocSection = DocSection { include: true, label: "Market functions", description: None };

/// What a [`CanonicalFunc`] spells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Part {
    Symbol,
    Timeframe,
}

/// `canonical_symbol(s)` or `canonical_timeframe(s)`: NULL stays NULL; a spelling that names no
/// symbol or timeframe is an error naming it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CanonicalFunc {
    part: Part,
    signature: Signature,
    doc: Documentation,
}

impl CanonicalFunc {
    pub fn new(part: Part) -> Self {
        let (name, what, example) = match part {
            Part::Symbol => ("canonical_symbol", "The symbol as the lake stores it (BTC/USDT, btc_usdt → BTCUSDT; BTC/USDT:USDT → BTCUSDT-PERP)", "canonical_symbol('btc/usdt')"),
            Part::Timeframe => ("canonical_timeframe", "The timeframe as the lake stores it (60m → 1h, 1440m → 1d)", "canonical_timeframe('60m')"),
        };
        let doc = Documentation::builder(SECTION, what, format!("{name}(text)"))
            .with_sql_example(format!("SELECT * FROM candles WHERE symbol = {example}"))
            .build();
        Self { part, signature: Signature::string(1, Volatility::Immutable), doc }
    }

    fn canonical(&self, s: &str) -> Result<String> {
        let r = match self.part {
            Part::Symbol => lake::canonical_symbol(s),
            Part::Timeframe => lake::Timeframe::parse(s).map(|t| t.to_string()),
        };
        match r {
            Ok(v) => Ok(v),
            Err(e) => exec_err!("{}: {e}", self.name()),
        }
    }
}

impl ScalarUDFImpl for CanonicalFunc {
    fn name(&self) -> &str {
        match self.part {
            Part::Symbol => "canonical_symbol",
            Part::Timeframe => "canonical_timeframe",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() != 1 {
            return plan_err!("{} takes one text argument", self.name());
        }
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let input = arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let input = input.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let out = input.iter().map(|v| v.map(|s| self.canonical(s)).transpose()).collect::<Result<StringArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
