//! Running a backtest: the candles of one market, the compiled graph and `backtest_run` as one
//! DataFusion plan; results parsed back into trades, equity and metrics per combination.

use std::collections::BTreeMap;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{col, lit, AggregateUDF};
use datafusion::prelude::{DataFrame, SessionContext};
use lake::{LakeTable, Market, Span, Timeframe};

use super::compile::compile;
use super::params::BacktestParams;
use super::udaf::{BacktestRun, ComboConfig, RunConfig, RunOutput};
use crate::error::{Error, Result};
use crate::graph::ValidGraph;

/// The result of one backtest or sweep.
#[derive(Debug, Clone)]
pub struct BacktestOutput {
    /// Parameter values of each combination (defaults filled in), in input order.
    pub combinations: Vec<BTreeMap<String, f64>>,
    pub timeframe: Timeframe,
    pub run: RunOutput,
}

/// How to run: whether to keep every bar's equity, and which progress counters to advance.
/// A plain `bool` converts to options with just `save_equity`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Return the per-bar equity of every combination.
    pub save_equity: bool,
    /// Key of a live [`super::ProgressHandle`] to advance while running.
    pub progress_key: Option<String>,
}

impl From<bool> for RunOptions {
    fn from(save_equity: bool) -> Self {
        RunOptions { save_equity, progress_key: None }
    }
}

/// The candles of `market` with an open time in `span` from the session's `candles` table.
pub async fn market_candles(ctx: &SessionContext, market: &Market, span: Span) -> Result<DataFrame> {
    Ok(ctx.table("candles").await?.filter(market.candles_filter(span))?.select_columns(&["open_time", "open", "high", "low", "close", "volume"])?)
}

/// Builds the whole backtest as one plan (not yet run).
pub async fn plan(ctx: &SessionContext, graph: &ValidGraph, p: &BacktestParams, opts: impl Into<RunOptions>) -> Result<(DataFrame, Vec<BTreeMap<String, f64>>)> {
    let opts = opts.into();
    let timeframe = p.market.timeframe();
    let compiled = compile(graph, &p.params.combinations())?;
    let (df, signals) = compiled.apply(market_candles(ctx, &p.market, p.span()).await?)?;
    let config = RunConfig {
        initial_capital: p.initial_capital,
        fee_rate: p.fee_rate,
        slippage: p.slippage,
        fill_policy: p.fill_policy,
        timeframe_seconds: timeframe.seconds() as f64,
        save_equity: opts.save_equity,
        progress_key: opts.progress_key,
        combos: compiled
            .combos
            .iter()
            .map(|c| ComboConfig { signals: c.signals, risk: c.risk })
            .collect(),
    };
    let config = serde_json::to_string(&config).map_err(|e| Error::Invalid(e.to_string()))?;
    // a dictionary literal stays one value per batch instead of being repeated on every row
    let config = lit(ScalarValue::Dictionary(Box::new(arrow::datatypes::DataType::Int32), Box::new(ScalarValue::Utf8(Some(config)))));
    let mut args = vec![col("open_time"), col("open"), col("high"), col("low"), col("close")];
    args.extend(signals);
    args.push(config);
    let run = AggregateUDF::from(BacktestRun::default()).call(args).alias("result");
    let combos = compiled.combos.iter().map(|c| c.values.clone()).collect();
    Ok((df.aggregate(vec![], vec![run])?, combos))
}

/// Runs a backtest (or a sweep) over the session's `candles`.
pub async fn run_backtest(ctx: &SessionContext, graph: &ValidGraph, p: &BacktestParams, opts: impl Into<RunOptions>) -> Result<BacktestOutput> {
    let timeframe: Timeframe = p.market.timeframe();
    let (df, combinations) = plan(ctx, graph, p, opts).await?;
    if std::env::var_os("BB_DEBUG_PLAN").is_some() {
        let plan = df.clone().create_physical_plan().await?;
        eprintln!("{}", datafusion::physical_plan::displayable(plan.as_ref()).indent(false));
    }
    let batches = df.collect().await?;
    if std::env::var_os("BB_DEBUG_PLAN").is_some() {
        eprintln!("{} batches: {:?}", batches.len(), batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>());
    }
    let batch = batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| Error::Invalid("backtest_run returned no result".into()))?;
    let run: RunOutput = super::output::from_array(batch.column(0).as_ref(), 0)?;
    if run.bars == 0 {
        let m = &p.market;
        return Err(Error::NoCandles(format!("no {} candles of {} on {} in the requested range", m.timeframe(), m.symbol(), m.exchange())));
    }
    Ok(BacktestOutput { combinations, timeframe, run })
}

/// Runs a backtest over the lake's candles pinned at their current version (recorded with the run,
/// so the run can be reproduced exactly by time travel). Returns the output and that version.
pub async fn run_on_lake(lake: &lake::Lake, graph: &ValidGraph, p: &BacktestParams, opts: impl Into<RunOptions>) -> Result<(BacktestOutput, u64)> {
    let version = lake.version(LakeTable::Candles).await?.ok_or_else(|| {
        Error::NoCandles("the lake has no candles yet: ingest some first (bb ingest)".into())
    })?;
    let out = run_at_version(lake, graph, p, opts, version).await?;
    Ok((out, version))
}

/// Runs a backtest over the lake's candles as they were at `version`.
pub async fn run_at_version(lake: &lake::Lake, graph: &ValidGraph, p: &BacktestParams, opts: impl Into<RunOptions>, version: u64) -> Result<BacktestOutput> {
    let ctx = query::session_with(lake, &query::Tables::none().at(LakeTable::Candles, version)).await?;
    run_backtest(&ctx, graph, p, opts).await
}

/// How many candles of the market a backtest with `p` would read from the lake's `candles` at
/// `version` (the latest when `None`); 0 when the table does not exist yet.
pub async fn count_candles(lake: &lake::Lake, market: &Market, span: Span, version: Option<u64>) -> Result<u64> {
    let Some(latest) = lake.version(LakeTable::Candles).await? else {
        return Ok(0);
    };
    let ctx = query::session_with(lake, &query::Tables::none().at(LakeTable::Candles, version.unwrap_or(latest))).await?;
    Ok(market_candles(&ctx, market, span).await?.count().await? as u64)
}
