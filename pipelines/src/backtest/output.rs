//! The Arrow form of `backtest_run`'s result (a struct: bars, open times, and per combination its
//! metrics, trades and equity) and its conversion from and to [`RunOutput`].

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, StringArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, Fields, Float64Type, Int64Type};
use datafusion::common::{exec_err, Result};

use super::sim::{ExitReason, Trade};
use super::udaf::{ComboOutput, RunOutput};
use crate::graph::Side;

/// The metric names in the spec's order (the fields of the `metrics` struct).
pub const METRICS: [&str; 18] = [
    "total_return_pct",
    "cagr_pct",
    "volatility_ann_pct",
    "sharpe",
    "sortino",
    "max_drawdown_pct",
    "calmar",
    "trades",
    "win_rate_pct",
    "profit_factor",
    "avg_trade_return_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_bars_held",
    "exposure_pct",
    "sqn",
    "fees_paid",
    "buy_and_hold_return_pct",
];

fn trade_fields() -> Fields {
    let f = |n: &str, t: DataType| Field::new(n, t, false);
    Fields::from(vec![
        f("side", DataType::Utf8),
        f("entry_time", DataType::Int64),
        f("entry_price", DataType::Float64),
        f("exit_time", DataType::Int64),
        f("exit_price", DataType::Float64),
        f("qty", DataType::Float64),
        f("fees", DataType::Float64),
        f("pnl", DataType::Float64),
        f("return_pct", DataType::Float64),
        f("exit_reason", DataType::Utf8),
        f("entry_bar", DataType::Int64),
        f("exit_bar", DataType::Int64),
    ])
}

fn metric_fields() -> Fields {
    Fields::from(METRICS.iter().map(|m| Field::new(*m, DataType::Float64, true)).collect::<Vec<_>>())
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

fn combo_fields() -> Fields {
    Fields::from(vec![
        Field::new("metrics", DataType::Struct(metric_fields()), false),
        Field::new("trades", list_of(DataType::Struct(trade_fields())), false),
        Field::new("equity", list_of(DataType::Float64), false),
    ])
}

fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("bars", DataType::Int64, false),
        Field::new("open_times", list_of(DataType::Int64), false),
        Field::new("combos", list_of(DataType::Struct(combo_fields())), false),
    ])
}

/// The result type of `backtest_run`.
pub fn result_type() -> DataType {
    DataType::Struct(result_fields())
}

fn list(values: ArrayRef, lengths: impl IntoIterator<Item = usize>) -> ArrayRef {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    Arc::new(ListArray::new(field, OffsetBuffer::from_lengths(lengths), values, None))
}

/// Builds the one-row struct array holding `out` (column-wise, no per-row builders).
pub fn to_array(out: &RunOutput) -> Result<StructArray> {
    let trades: Vec<&Trade> = out.combos.iter().flat_map(|c| &c.trades).collect();
    let f = |g: fn(&Trade) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(trades.iter().map(|t| g(t)))) };
    let i = |g: fn(&Trade) -> i64| -> ArrayRef { Arc::new(Int64Array::from_iter_values(trades.iter().map(|t| g(t)))) };
    let trade_struct = StructArray::try_new(
        trade_fields(),
        vec![
            Arc::new(StringArray::from_iter_values(trades.iter().map(|t| t.side.as_str()))),
            i(|t| t.entry_time),
            f(|t| t.entry_price),
            i(|t| t.exit_time),
            f(|t| t.exit_price),
            f(|t| t.qty),
            f(|t| t.fees),
            f(|t| t.pnl),
            f(|t| t.return_pct),
            Arc::new(StringArray::from_iter_values(trades.iter().map(|t| t.exit_reason.as_str()))),
            i(|t| t.entry_bar as i64),
            i(|t| t.exit_bar as i64),
        ],
        None,
    )?;
    let metrics: Vec<serde_json::Value> = out.combos.iter().map(|c| serde_json::to_value(&c.metrics).unwrap_or_default()).collect();
    let metric_struct = StructArray::try_new(
        metric_fields(),
        METRICS.iter().map(|m| Arc::new(Float64Array::from_iter(metrics.iter().map(|v| v[*m].as_f64()))) as ArrayRef).collect(),
        None,
    )?;
    let equity: Vec<f64> = out.combos.iter().flat_map(|c| c.equity.iter().copied()).collect();
    let combos = StructArray::try_new(
        combo_fields(),
        vec![
            Arc::new(metric_struct),
            list(Arc::new(trade_struct), out.combos.iter().map(|c| c.trades.len())),
            list(Arc::new(Float64Array::from(equity)), out.combos.iter().map(|c| c.equity.len())),
        ],
        None,
    )?;
    Ok(StructArray::try_new(
        result_fields(),
        vec![
            Arc::new(Int64Array::from(vec![out.bars as i64])),
            list(Arc::new(Int64Array::from(out.open_times.clone())), [out.open_times.len()]),
            list(Arc::new(combos), [out.combos.len()]),
        ],
        None,
    )?)
}

/// Reads row `row` of a `backtest_run` result column back into a [`RunOutput`].
pub fn from_array(array: &dyn Array, row: usize) -> Result<RunOutput> {
    let Some(s) = array.as_struct_opt() else { return exec_err!("backtest_run result is not a struct") };
    let bars = s.column(0).as_primitive::<Int64Type>().value(row) as usize;
    let open_times = s.column(1).as_list::<i32>().value(row).as_primitive::<Int64Type>().values().to_vec();
    let combos = s.column(2).as_list::<i32>().value(row);
    let combos = combos.as_struct();
    let (metrics, trades, equity) = (combos.column(0).as_struct(), combos.column(1).as_list::<i32>(), combos.column(2).as_list::<i32>());
    let mut out = Vec::with_capacity(combos.len());
    for k in 0..combos.len() {
        let mut m = serde_json::Map::new();
        for (j, name) in METRICS.iter().enumerate() {
            let col = metrics.column(j).as_primitive::<Float64Type>();
            let v = if col.is_null(k) { serde_json::Value::Null } else { serde_json::json!(col.value(k)) };
            m.insert(name.to_string(), if *name == "trades" { serde_json::json!(col.value(k) as u64) } else { v });
        }
        let t = trades.value(k);
        let t = t.as_struct();
        let (fc, ic, sc) = (
            |j: usize| t.column(j).as_primitive::<Float64Type>().clone(),
            |j: usize| t.column(j).as_primitive::<Int64Type>().clone(),
            |j: usize| t.column(j).as_string::<i32>().clone(),
        );
        let (side, et, ep, xt, xp, qty, fees, pnl, ret, reason, eb, xb) = (sc(0), ic(1), fc(2), ic(3), fc(4), fc(5), fc(6), fc(7), fc(8), sc(9), ic(10), ic(11));
        let rows = (0..t.len())
            .map(|r| -> Result<Trade> {
                let (s, x) = (side.value(r), reason.value(r));
                let (Some(side), Some(exit_reason)) = (Side::parse(s), ExitReason::parse(x)) else {
                    return exec_err!("backtest_run result: unknown side '{s}' or exit reason '{x}'");
                };
                Ok(Trade {
                side,
                entry_time: et.value(r),
                entry_price: ep.value(r),
                exit_time: xt.value(r),
                exit_price: xp.value(r),
                qty: qty.value(r),
                fees: fees.value(r),
                pnl: pnl.value(r),
                return_pct: ret.value(r),
                exit_reason,
                entry_bar: eb.value(r) as usize,
                exit_bar: xb.value(r) as usize,
            })
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(ComboOutput {
            metrics: serde_json::from_value(serde_json::Value::Object(m)).or_else(|e| exec_err!("metrics: {e}"))?,
            trades: rows,
            equity: equity.value(k).as_primitive::<Float64Type>().values().to_vec(),
        });
    }
    Ok(RunOutput { bars, open_times, combos: out })
}
