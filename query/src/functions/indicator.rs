//! `IndicatorFunc`: one TA-Lib indicator output as a DataFusion window function.
//!
//! One generic struct serves all indicators (rather than one struct per file as DataFusion's own
//! functions do): every indicator has the same shape — data columns, constant numeric parameters,
//! one f64 output — and differs only in its `indicators::Spec` and state machine.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanBufferBuilder, Float64Array};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    DocSection, Documentation, PartitionEvaluator, Signature, TypeSignature, Volatility, WindowUDFImpl,
};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::function::ExpressionArgs;
use datafusion::physical_expr::expressions::Literal;
use datafusion::physical_expr::PhysicalExpr;


use crate::indicators::{self, Spec};

const SECTION: DocSection = DocSection {
    include: true,
    label: "Technical indicators",
    description: Some("TA-Lib 0.8 indicators as window functions: use OVER (PARTITION BY ... ORDER BY open_time)"),
};

/// A window function computing one indicator output over each partition in one O(n) pass.
#[derive(Debug)]
pub struct IndicatorFunc {
    spec: &'static Spec,
    signature: Signature,
    doc: Documentation,
}

impl PartialEq for IndicatorFunc {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name
    }
}
impl Eq for IndicatorFunc {}
impl Hash for IndicatorFunc {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.name.hash(state);
    }
}

/// `ema(close, 12)`-style usage text of a spec: its inputs then its parameters with defaults.
pub fn syntax(spec: &Spec) -> String {
    let mut args: Vec<String> = spec.inputs.iter().map(|s| s.to_string()).collect();
    args.extend(spec.params.iter().map(|p| format!("[{} = {}]", p.name, p.default)));
    format!("{}({})", spec.name, args.join(", "))
}

impl IndicatorFunc {
    pub fn new(spec: &'static Spec) -> Self {
        let mut doc = Documentation::builder(SECTION, format!("{} (TA-Lib {})", spec.doc, spec.talib), syntax(spec))
            .with_sql_example(format!(
                "SELECT open_time, {}({}) OVER w FROM candles WINDOW w AS (PARTITION BY exchange, symbol, timeframe ORDER BY open_time)",
                spec.name,
                spec.inputs.iter().map(|i| if *i == "source" { "close" } else { i }).collect::<Vec<_>>().join(", ")
            ));
        for input in spec.inputs {
            doc = doc.with_argument(*input, "numeric column (NULL bars are skipped and give NULL)");
        }
        for p in spec.params {
            doc = doc.with_argument(p.name, format!("constant, default {}, range {}..={}{}", p.default, p.min, p.max, if p.integer { ", integer" } else { "" }));
        }
        // user-defined coercion gives precise errors; the exact variants let information_schema and
        // SHOW FUNCTIONS list each arity with its types
        let n = spec.inputs.len();
        let mut variants = vec![TypeSignature::UserDefined];
        variants.extend((n..=n + spec.params.len()).map(|k| TypeSignature::Exact(vec![DataType::Float64; k])));
        Self { spec, signature: Signature::one_of(variants, Volatility::Immutable), doc: doc.build() }
    }

    fn arg_name(&self, i: usize) -> String {
        let n = self.spec.inputs.len();
        if i < n { self.spec.inputs[i].to_string() } else { self.spec.params[i - n].name.to_string() }
    }
}

impl WindowUDFImpl for IndicatorFunc {
    fn name(&self) -> &str {
        self.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (inputs, params) = (self.spec.inputs.len(), self.spec.params.len());
        if arg_types.len() < inputs || arg_types.len() > inputs + params {
            return plan_err!(
                "{} takes {} to {} arguments ({}), got {}",
                self.spec.name,
                inputs,
                inputs + params,
                syntax(self.spec),
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                t if t.is_numeric() || t.is_null() => Ok(if i < inputs { DataType::Float64 } else { t.clone() }),
                other => plan_err!("{}: argument {} ({}) must be numeric, got {other}", self.spec.name, i + 1, self.arg_name(i)),
            })
            .collect()
    }

    fn expressions(&self, args: ExpressionArgs) -> Vec<Arc<dyn PhysicalExpr>> {
        // only the data columns are evaluated per row; parameters are read once as literals
        args.input_exprs().iter().take(self.spec.inputs.len()).cloned().collect()
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let n = self.spec.inputs.len();
        let mut params = Vec::new();
        for (i, e) in args.input_exprs().iter().enumerate().skip(n) {
            let Some(lit) = e.downcast_ref::<Literal>() else {
                return plan_err!("{}: argument {} ({}) must be a constant number, not a column or expression", self.spec.name, i + 1, self.arg_name(i));
            };
            let value = match lit.value().cast_to(&DataType::Float64)? {
                ScalarValue::Float64(Some(v)) => v,
                _ => return plan_err!("{}: argument {} ({}) must be a number, not NULL", self.spec.name, i + 1, self.arg_name(i)),
            };
            params.push(value);
        }
        // validate now so that a bad parameter fails at planning, naming the function and argument
        indicators::build(self.spec.name, &params).or_else(|e| plan_err!("{e}"))?;
        Ok(Box::new(IndicatorEvaluator { spec: self.spec, params }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Float64, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

/// Runs the indicator's state machine over one partition, skipping bars with a NULL input.
#[derive(Debug)]
struct IndicatorEvaluator {
    spec: &'static Spec,
    params: Vec<f64>,
}

impl PartitionEvaluator for IndicatorEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let mut state = match indicators::build(self.spec.name, &self.params) {
            Ok(s) => s,
            Err(e) => return exec_err!("{e}"),
        };
        let columns: Vec<&Float64Array> = values.iter().map(|v| v.as_primitive::<Float64Type>()).collect();
        let slices: Vec<&[f64]> = columns.iter().map(|c| &c.values()[..num_rows]).collect();
        // the rows where some input is NULL get NULL and leave the state alone (the spec's rule);
        // the runs of rows in between go through the batch path, the state carrying over
        let nulls = columns.iter().fold(None, |acc, c| NullBuffer::union(acc.as_ref(), c.nulls()));
        let runs: Vec<(usize, usize)> = match &nulls {
            None => vec![(0, num_rows)],
            Some(nulls) => nulls.valid_slices().collect(),
        };
        let (mut out, mut valid) = (Vec::with_capacity(num_rows), Vec::with_capacity(num_rows));
        let mut row = vec![0.0; slices.len()];
        for (start, end) in runs {
            out.resize(start, 0.0);
            valid.resize(start, false);
            if end - start >= MIN_BATCH_RUN {
                let run: Vec<&[f64]> = slices.iter().map(|s| &s[start..end]).collect();
                state.update_batch(&run, &mut out, &mut valid);
            } else {
                for r in start..end {
                    for (slot, s) in row.iter_mut().zip(&slices) {
                        *slot = s[r];
                    }
                    let value = state.update(&row);
                    out.push(value.unwrap_or(0.0));
                    valid.push(value.is_some());
                }
            }
        }
        out.resize(num_rows, 0.0);
        valid.resize(num_rows, false);
        Ok(Arc::new(Float64Array::new(out.into(), validity(&valid))))
    }
}

/// Runs of non-NULL rows shorter than this go bar by bar through `update`: the batch path's
/// set-up (warm-up checks, per-call buffers) does not pay off on a handful of rows.
const MIN_BATCH_RUN: usize = 32;

/// The null buffer of a batch path's output: `None` when every bar is valid, and built by runs
/// when only a warm-up prefix is not (the usual shape), which is cheaper than packing each flag.
fn validity(valid: &[bool]) -> Option<NullBuffer> {
    let warm_up = valid.iter().position(|&v| v).unwrap_or(valid.len());
    if valid[warm_up..].contains(&false) {
        return Some(NullBuffer::from(valid));
    }
    if warm_up == 0 {
        return None;
    }
    let mut bits = BooleanBufferBuilder::new(valid.len());
    bits.append_n(warm_up, false);
    bits.append_n(valid.len() - warm_up, true);
    Some(NullBuffer::new(bits.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_equals_packing_each_flag() {
        let shapes: [&[bool]; 6] = [
            &[],
            &[true; 100],
            &[false; 70],
            &[[false; 67].as_slice(), &[true; 130]].concat(),
            &[false, true, false, true, true],
            &[true, true, false, true],
        ];
        for valid in shapes {
            let expected = NullBuffer::from(valid);
            match validity(valid) {
                None => assert_eq!(expected.null_count(), 0, "{valid:?}"),
                Some(got) => assert_eq!(got, expected, "{valid:?}"),
            }
        }
    }
}

impl IndicatorFunc {
    /// The indicator this function computes.
    pub fn spec(&self) -> &'static Spec {
        self.spec
    }
}
