//! `backtest_run`: the aggregate function that walks a market's bars in time order and simulates
//! every combination (in parallel) from its signal columns; the last step of the backtest plan.
//!
//! Arguments: `open_time, open, high, low, close, signal_0, …, signal_k, config` where `config` is a
//! dictionary-encoded JSON literal ([`RunConfig`]); the result is a struct (see `output.rs`) with,
//! per combination, its metrics, trades and (when asked) equity.
//! Registered by name, so a distributed engine registering the same function runs the same plan.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array};
use arrow::compute::concat;
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type, TimeUnit};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datafusion::physical_expr::expressions::Literal;
use serde::{Deserialize, Serialize};

use super::metrics::{self, Metrics};
use super::sim::{simulate, Bar, BarSignals, SimConfig, Trade};

/// Per-combination settings in the config literal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComboConfig {
    /// Argument index (0-based among the signal arguments) of entry long, entry short, exit long, exit short.
    pub signals: [Option<usize>; 4],
    pub risk: super::sim::Risk,
}

/// The config literal of `backtest_run`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub initial_capital: f64,
    pub fee_rate: f64,
    pub slippage: f64,
    pub fill_policy: super::sim::FillPolicy,
    pub timeframe_seconds: f64,
    /// Return the per-bar equity of every combination (and the bar times).
    pub save_equity: bool,
    pub combos: Vec<ComboConfig>,
    /// Key of the [`super::progress`] counters to advance, if someone watches this run.
    #[serde(default)]
    pub progress_key: Option<String>,
}

/// One combination's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComboOutput {
    pub metrics: Metrics,
    pub trades: Vec<Trade>,
    /// Equity after each bar; empty unless `save_equity`.
    pub equity: Vec<f64>,
}

/// What `backtest_run` returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOutput {
    pub bars: usize,
    /// Bar open times (ms); empty unless `save_equity`.
    pub open_times: Vec<i64>,
    pub combos: Vec<ComboOutput>,
}

/// The `backtest_run` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BacktestRun {
    signature: Signature,
}

impl Default for BacktestRun {
    fn default() -> Self {
        Self { signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

const FIXED_ARGS: usize = 5;

impl AggregateUDFImpl for BacktestRun {
    fn name(&self) -> &str {
        "backtest_run"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(super::output::result_type())
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let n = args.exprs.len();
        if n < FIXED_ARGS + 1 {
            return plan_err!("backtest_run(open_time, open, high, low, close, signals..., config) needs at least 6 arguments");
        }
        let Some(lit) = args.exprs[n - 1].downcast_ref::<Literal>() else {
            return plan_err!("backtest_run: the last argument (config) must be a literal");
        };
        let text = match lit.value() {
            ScalarValue::Dictionary(_, v) => match v.as_ref() {
                ScalarValue::Utf8(Some(s)) => s.clone(),
                other => return plan_err!("backtest_run: config must be a string, got {other}"),
            },
            ScalarValue::Utf8(Some(s)) => s.clone(),
            other => return plan_err!("backtest_run: config must be a string, got {other}"),
        };
        let config: RunConfig = serde_json::from_str(&text).or_else(|e| plan_err!("backtest_run: bad config: {e}"))?;
        let progress = config.progress_key.as_deref().and_then(super::progress::lookup);
        if let Some(p) = &progress {
            p.set_combos_total(config.combos.len() as u64);
        }
        Ok(Box::new(BacktestAccumulator { config, columns: vec![Vec::new(); n - 1], progress }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let n = args.input_fields.len();
        Ok(args.input_fields[..n - 1]
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let item = Field::new_list_field(state_type(i, f.data_type()), true);
                Arc::new(Field::new(format!("{}_{i}", args.name), DataType::List(Arc::new(item)), true))
            })
            .collect())
    }
}

/// The type a column is kept as in the accumulator state.
fn state_type(i: usize, _input: &DataType) -> DataType {
    match i {
        0 => DataType::Int64,
        1..=4 => DataType::Float64,
        _ => DataType::Boolean,
    }
}

fn normalise(i: usize, a: &ArrayRef) -> Result<ArrayRef> {
    Ok(match (i, a.data_type()) {
        (0, DataType::Timestamp(_, _)) => {
            let us = arrow::compute::cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?;
            arrow::compute::cast(&us, &DataType::Int64)?
        }
        (i, _) => arrow::compute::cast(a, &state_type(i, a.data_type()))?,
    })
}

#[derive(Debug)]
struct BacktestAccumulator {
    config: RunConfig,
    /// Collected chunks per argument (config excluded), in state types.
    columns: Vec<Vec<ArrayRef>>,
    progress: Option<Arc<super::progress::Progress>>,
}

impl Accumulator for BacktestAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for (i, v) in values.iter().take(self.columns.len()).enumerate() {
            self.columns[i].push(normalise(i, v)?);
        }
        if let (Some(p), Some(v)) = (&self.progress, values.first()) {
            p.add_bars(v.len() as u64);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for (i, s) in states.iter().enumerate().take(self.columns.len()) {
            let list = s.as_list::<i32>();
            for r in 0..list.len() {
                if list.is_valid(r) {
                    self.columns[i].push(list.value(r));
                }
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, chunks)| {
                let whole = concat_or_empty(chunks, &state_type(i, &DataType::Null))?;
                Ok(ScalarValue::List(Arc::new(arrow::array::ListArray::new(
                    Arc::new(Field::new_list_field(whole.data_type().clone(), true)),
                    arrow::buffer::OffsetBuffer::from_lengths([whole.len()]),
                    whole,
                    None,
                ))))
            })
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let cols: Vec<ArrayRef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, chunks)| concat_or_empty(chunks, &state_type(i, &DataType::Null)))
            .collect::<Result<_>>()?;
        let output = run(&self.config, &cols, self.progress.as_deref())?;
        Ok(ScalarValue::Struct(Arc::new(super::output::to_array(&output)?)))
    }

    fn size(&self) -> usize {
        self.columns.iter().flatten().map(|a| a.get_array_memory_size()).sum::<usize>() + std::mem::size_of_val(self)
    }
}

fn concat_or_empty(chunks: &[ArrayRef], t: &DataType) -> Result<ArrayRef> {
    if chunks.is_empty() {
        return Ok(arrow::array::new_empty_array(t));
    }
    let refs: Vec<&dyn Array> = chunks.iter().map(|a| a.as_ref()).collect();
    Ok(concat(&refs)?)
}

/// Sorts the bars by time and simulates every combination, in parallel over the machine's cores.
fn run(config: &RunConfig, cols: &[ArrayRef], progress: Option<&super::progress::Progress>) -> Result<RunOutput> {
    let t: &Int64Array = cols[0].as_primitive::<Int64Type>();
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by_key(|&i| t.value(i));
    let price = |k: usize| -> &Float64Array { cols[k].as_primitive::<Float64Type>() };
    let bars: Vec<Bar> = order
        .iter()
        .map(|&i| Bar { open_time: t.value(i) / 1_000, open: price(1).value(i), high: price(2).value(i), low: price(3).value(i), close: price(4).value(i) })
        .collect();
    let signals: Vec<Vec<bool>> = cols[FIXED_ARGS..]
        .iter()
        .map(|a| {
            let b: &BooleanArray = a.as_boolean();
            order.iter().map(|&i| b.is_valid(i) && b.value(i)).collect()
        })
        .collect();
    if bars.is_empty() {
        return Ok(RunOutput { bars: 0, open_times: Vec::new(), combos: Vec::new() });
    }
    let (first_open, last_close) = (bars.first().map_or(f64::NAN, |b| b.open), bars.last().map_or(f64::NAN, |b| b.close));
    let one = |c: &ComboConfig| -> ComboOutput {
        let cfg = SimConfig {
            initial_capital: config.initial_capital,
            fee_rate: config.fee_rate,
            slippage: config.slippage,
            fill_policy: config.fill_policy,
            risk: c.risk,
        };
        let get = |k: usize, i: usize| c.signals[k].is_some_and(|s| signals[s][i]);
        let result = simulate(&cfg, &bars, |i| BarSignals { entry_long: get(0, i), entry_short: get(1, i), exit_long: get(2, i), exit_short: get(3, i) });
        let metrics = metrics::compute(&result, config.initial_capital, first_open, last_close, config.timeframe_seconds);
        if let Some(p) = progress {
            p.combo_done();
        }
        ComboOutput {
            metrics,
            trades: result.trades,
            equity: if config.save_equity { result.equity } else { Vec::new() },
        }
    };
    let one = &one;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(config.combos.len().max(1));
    let chunk = config.combos.len().div_ceil(threads).max(1);
    let combos: Vec<ComboOutput> = std::thread::scope(|s| {
        let handles: Vec<_> = config.combos.chunks(chunk).map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("simulation thread")).collect()
    });
    Ok(RunOutput {
        bars: bars.len(),
        open_times: if config.save_equity { bars.iter().map(|b| b.open_time).collect() } else { Vec::new() },
        combos,
    })
}
