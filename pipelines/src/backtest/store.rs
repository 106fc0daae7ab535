//! Writing backtest results to the lake (`backtest_metrics`, `backtest_trades`, `backtest_equity`).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use lake::{Lake, LakeTable};

use super::params::BacktestParams;
use super::run::BacktestOutput;
use crate::error::Result;

fn utc(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}
fn utc_opt(v: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}
fn strs(v: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}
fn f64s(v: Vec<f64>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}
fn opt(v: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(v))
}
fn i64s(v: Vec<i64>) -> ArrayRef {
    Arc::new(Int64Array::from(v))
}

/// The metrics rows of a run, one per combination.
pub fn metrics_batch(run_id: &str, p: &BacktestParams, out: &BacktestOutput, candles_version: Option<u64>) -> Result<RecordBatch> {
    let c = &out.run.combos;
    let n = c.len();
    let m = |f: fn(&super::Metrics) -> f64| f64s(c.iter().map(|x| f(&x.metrics)).collect());
    let mo = |f: fn(&super::Metrics) -> Option<f64>| opt(c.iter().map(|x| f(&x.metrics)).collect());
    let now = chrono_now_us();
    let columns: Vec<ArrayRef> = vec![
        strs(vec![run_id.to_string(); n]),
        i64s((0..n as i64).collect()),
        strs(out.combinations.iter().map(|v| serde_json::to_string(v).unwrap_or_default()).collect()),
        strs(vec![p.exchange.clone(); n]),
        strs(vec![p.symbol.clone(); n]),
        strs(vec![p.timeframe.clone(); n]),
        utc_opt(vec![p.start.map(|s| s * 1_000); n]),
        utc_opt(vec![p.end.map(|e| e * 1_000); n]),
        Arc::new(Int64Array::from(vec![candles_version.map(|v| v as i64); n])),
        i64s(vec![out.run.bars as i64; n]),
        utc(vec![now; n]),
        m(|x| x.total_return_pct),
        m(|x| x.cagr_pct),
        m(|x| x.volatility_ann_pct),
        m(|x| x.sharpe),
        m(|x| x.sortino),
        m(|x| x.max_drawdown_pct),
        m(|x| x.calmar),
        i64s(c.iter().map(|x| x.metrics.trades as i64).collect()),
        m(|x| x.win_rate_pct),
        mo(|x| x.profit_factor),
        mo(|x| x.avg_trade_return_pct),
        mo(|x| x.best_trade_pct),
        mo(|x| x.worst_trade_pct),
        mo(|x| x.avg_bars_held),
        m(|x| x.exposure_pct),
        mo(|x| x.sqn),
        m(|x| x.fees_paid),
        m(|x| x.buy_and_hold_return_pct),
    ];
    Ok(RecordBatch::try_new(LakeTable::BacktestMetrics.schema(), columns)?)
}

fn chrono_now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The trades of a run.
pub fn trades_batch(run_id: &str, out: &BacktestOutput) -> Result<RecordBatch> {
    let rows: Vec<(usize, usize, &super::Trade)> =
        out.run.combos.iter().enumerate().flat_map(|(k, c)| c.trades.iter().enumerate().map(move |(i, t)| (k, i, t))).collect();
    let n = rows.len();
    let columns: Vec<ArrayRef> = vec![
        strs(vec![run_id.to_string(); n]),
        i64s(rows.iter().map(|r| r.0 as i64).collect()),
        i64s(rows.iter().map(|r| r.1 as i64 + 1).collect()),
        strs(rows.iter().map(|r| r.2.side.as_str().to_string()).collect()),
        utc(rows.iter().map(|r| r.2.entry_time * 1_000).collect()),
        f64s(rows.iter().map(|r| r.2.entry_price).collect()),
        utc(rows.iter().map(|r| r.2.exit_time * 1_000).collect()),
        f64s(rows.iter().map(|r| r.2.exit_price).collect()),
        f64s(rows.iter().map(|r| r.2.qty).collect()),
        f64s(rows.iter().map(|r| r.2.fees).collect()),
        f64s(rows.iter().map(|r| r.2.pnl).collect()),
        f64s(rows.iter().map(|r| r.2.return_pct).collect()),
        strs(rows.iter().map(|r| r.2.exit_reason.as_str().to_string()).collect()),
        i64s(rows.iter().map(|r| (r.2.exit_bar - r.2.entry_bar + 1) as i64).collect()),
    ];
    Ok(RecordBatch::try_new(LakeTable::BacktestTrades.schema(), columns)?)
}

/// The equity series of a run as the spec stamps it: the initial capital at the first bar's open,
/// then each bar's equity at its close time.
pub fn equity_batch(run_id: &str, p: &BacktestParams, out: &BacktestOutput) -> Result<RecordBatch> {
    let tf = out.timeframe.millis();
    let (mut combo, mut time, mut equity) = (Vec::new(), Vec::new(), Vec::new());
    for (k, c) in out.run.combos.iter().enumerate() {
        if c.equity.is_empty() {
            continue;
        }
        combo.push(k as i64);
        time.push(out.run.open_times[0] * 1_000);
        equity.push(p.initial_capital);
        for (t, e) in out.run.open_times.iter().zip(&c.equity) {
            combo.push(k as i64);
            time.push((t + tf) * 1_000);
            equity.push(*e);
        }
    }
    let n = combo.len();
    let columns: Vec<ArrayRef> = vec![strs(vec![run_id.to_string(); n]), i64s(combo), utc(time), f64s(equity)];
    Ok(RecordBatch::try_new(LakeTable::BacktestEquity.schema(), columns)?)
}

/// Writes a run's trades and equity, then its metrics (a run with metrics rows is complete).
/// Each table's `run_id` partition is replaced, not appended to: saving a run again (a job retried
/// after its worker died mid-write) leaves exactly one copy of its rows.
pub async fn save(lake: &Lake, run_id: &str, p: &BacktestParams, out: &BacktestOutput, candles_version: Option<u64>) -> Result<()> {
    lake.replace_where_eq(LakeTable::BacktestTrades, "run_id", run_id, vec![trades_batch(run_id, out)?]).await?;
    lake.replace_where_eq(LakeTable::BacktestEquity, "run_id", run_id, vec![equity_batch(run_id, p, out)?]).await?;
    lake.replace_where_eq(LakeTable::BacktestMetrics, "run_id", run_id, vec![metrics_batch(run_id, p, out, candles_version)?]).await?;
    Ok(())
}
