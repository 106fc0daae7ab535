//! `crosses_above(a, b, a_prev, b_prev)` and `crosses_below(...)`: the strategy-graph spec's
//! crossover with its NULL rule, in one pass (the previous values come from `lag`).

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{plan_err, Result};
use datafusion::logical_expr::{ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

const SECTION: DocSection = DocSection { include: true, label: "Strategy functions", description: None };

/// A crossover test: `above` (left[t] > right[t] and left[t-1] <= right[t-1]) or below (mirrored).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CrossesFunc {
    above: bool,
    signature: Signature,
    doc: Documentation,
}

impl CrossesFunc {
    pub fn new(above: bool) -> Self {
        let name = if above { "crosses_above" } else { "crosses_below" };
        let (now, before) = if above { (">", "<=") } else { ("<", ">=") };
        let doc = Documentation::builder(
            SECTION,
            format!("True when a {now} b now and a_prev {before} b_prev; NULL when any of the four is NULL (strategy-graph spec)"),
            format!("{name}(a, b, a_prev, b_prev)"),
        )
        .with_sql_example(format!("{name}(fast, slow, lag(fast) OVER w, lag(slow) OVER w)"))
        .build();
        Self { above, signature: Signature::uniform(4, vec![DataType::Float64], Volatility::Immutable), doc }
    }
}

impl ScalarUDFImpl for CrossesFunc {
    fn name(&self) -> &str {
        if self.above { "crosses_above" } else { "crosses_below" }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() != 4 {
            return plan_err!("{} takes 4 arguments (a, b, a_prev, b_prev)", self.name());
        }
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [a, b, pa, pb] = [0, 1, 2, 3].map(|i| arrays[i].as_primitive::<Float64Type>());
        let out: BooleanArray = (0..args.number_rows)
            .map(|i| {
                if a.is_null(i) || b.is_null(i) || pa.is_null(i) || pb.is_null(i) {
                    return None;
                }
                let (x, y, px, py) = (a.value(i), b.value(i), pa.value(i), pb.value(i));
                Some(if self.above { x > y && px <= py } else { x < y && px >= py })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}
