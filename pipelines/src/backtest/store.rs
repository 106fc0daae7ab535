//! Backtest results in the lake (`backtest_metrics`, `backtest_trades`, `backtest_equity`): the
//! writers that store a run under its id, and beside them the readers of its trade log and equity
//! curves (by run, by combination, paged) that the API and `bb` use.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use datafusion::logical_expr::{col, lit, Expr};
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
        strs(vec![p.market.exchange().to_string(); n]),
        strs(vec![p.market.symbol().to_string(); n]),
        strs(vec![p.market.timeframe().to_string(); n]),
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

/// One closed trade of a stored run, as `backtest_trades` holds it (times in epoch µs).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTrade {
    pub trade_no: i64,
    pub side: String,
    pub entry_time_us: i64,
    pub entry_price: f64,
    pub exit_time_us: i64,
    pub exit_price: f64,
    pub qty: f64,
    pub fees: f64,
    pub pnl: f64,
    pub return_pct: f64,
    pub exit_reason: String,
    pub bars_held: i64,
}

/// Reads `table`'s rows matching `filter`, ordered by `order`, at most `limit`.
async fn read(lake: &Lake, table: LakeTable, columns: &[&str], filter: Expr, order: &[&str], limit: Option<usize>) -> Result<Vec<RecordBatch>> {
    let ctx = query::session_with(lake, &query::Tables::none().latest(table)).await?;
    let df = ctx
        .table(table.name())
        .await?
        .filter(filter)?
        .select_columns(columns)?
        .sort(order.iter().map(|c| col(*c).sort(true, false)).collect())?
        .limit(0, limit)?;
    Ok(df.collect().await?)
}

/// A string column as plain UTF-8 (Delta scans may hand out string views).
fn utf8(a: &ArrayRef) -> Result<StringArray> {
    Ok(lake::utf8(a)?)
}

fn is_run(run_id: &str, combo: i64) -> Expr {
    col("run_id").eq(lit(run_id)).and(col("combo").eq(lit(combo)))
}

/// How many combinations of run `run_id` the lake holds metrics of (0: no such run).
pub async fn read_combinations(lake: &Lake, run_id: &str) -> Result<usize> {
    let batches = read(lake, LakeTable::BacktestMetrics, &["combo"], col("run_id").eq(lit(run_id)), &["combo"], None).await?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}

/// The closed trades of combination `combo` of run `run_id` after trade number `after` (0: from
/// the first), in order, at most `limit` (all when `None`).
pub async fn read_trades(lake: &Lake, run_id: &str, combo: i64, after: i64, limit: Option<usize>) -> Result<Vec<StoredTrade>> {
    let columns = ["trade_no", "side", "entry_time", "entry_price", "exit_time", "exit_price", "qty", "fees", "pnl", "return_pct", "exit_reason", "bars_held"];
    let filter = is_run(run_id, combo).and(col("trade_no").gt(lit(after)));
    let mut out = Vec::new();
    for b in read(lake, LakeTable::BacktestTrades, &columns, filter, &["trade_no"], limit).await? {
        let i64s = |c: usize| b.column(c).as_primitive::<Int64Type>().clone();
        let f64s = |c: usize| b.column(c).as_primitive::<Float64Type>().clone();
        let ts = |c: usize| b.column(c).as_primitive::<TimestampMicrosecondType>().clone();
        let (no, et, ep, xt, xp, qty, fees, pnl, ret, held) = (i64s(0), ts(2), f64s(3), ts(4), f64s(5), f64s(6), f64s(7), f64s(8), f64s(9), i64s(11));
        let (side, reason) = (utf8(b.column(1))?, utf8(b.column(10))?);
        for r in 0..b.num_rows() {
            out.push(StoredTrade {
                trade_no: no.value(r),
                side: side.value(r).to_string(),
                entry_time_us: et.value(r),
                entry_price: ep.value(r),
                exit_time_us: xt.value(r),
                exit_price: xp.value(r),
                qty: qty.value(r),
                fees: fees.value(r),
                pnl: pnl.value(r),
                return_pct: ret.value(r),
                exit_reason: reason.value(r).to_string(),
                bars_held: held.value(r),
            });
        }
    }
    Ok(out)
}

/// The points of the equity curves `filter` selects, at most `limit`, by (run id, combination).
async fn read_points(lake: &Lake, filter: Expr, limit: Option<usize>) -> Result<BTreeMap<(String, i64), Vec<(i64, f64)>>> {
    let mut out: BTreeMap<(String, i64), Vec<(i64, f64)>> = BTreeMap::new();
    let columns = ["run_id", "combo", "equity_time", "equity"];
    for b in read(lake, LakeTable::BacktestEquity, &columns, filter, &["run_id", "combo", "equity_time"], limit).await? {
        let run = utf8(b.column(0))?;
        let (combo, time, equity) = (b.column(1).as_primitive::<Int64Type>(), b.column(2).as_primitive::<TimestampMicrosecondType>(), b.column(3).as_primitive::<Float64Type>());
        for r in 0..b.num_rows() {
            out.entry((run.value(r).to_string(), combo.value(r))).or_default().push((time.value(r), equity.value(r)));
        }
    }
    Ok(out)
}

/// The equity curve of combination `combo` of run `run_id` as (time µs, equity) in time order:
/// the points after `after_us` (all when `None`), at most `limit` (all when `None`); empty if
/// nothing is stored.
pub async fn read_equity(lake: &Lake, run_id: &str, combo: i64, after_us: Option<i64>, limit: Option<usize>) -> Result<Vec<(i64, f64)>> {
    let mut filter = is_run(run_id, combo);
    if let Some(t) = after_us {
        filter = filter.and(col("equity_time").gt(lit(datafusion::scalar::ScalarValue::TimestampMicrosecond(Some(t), Some("UTC".into())))));
    }
    Ok(read_points(lake, filter, limit).await?.into_values().next().unwrap_or_default())
}

/// Whole equity curves of the given (run id, combination) pairs, in one read; every pair asked
/// for has an entry, empty if nothing is stored.
pub async fn read_curves(lake: &Lake, curves: &[(String, i64)]) -> Result<BTreeMap<(String, i64), Vec<(i64, f64)>>> {
    let Some(filter) = curves.iter().map(|(run, combo)| is_run(run, *combo)).reduce(Expr::or) else { return Ok(BTreeMap::new()) };
    let mut out = read_points(lake, filter, None).await?;
    for c in curves {
        out.entry(c.clone()).or_default();
    }
    Ok(out)
}
