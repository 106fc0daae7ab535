//! `bb results`: a stored run's trade log or equity curve, read back from the lake by
//! `pipelines::backtest::store` (the readers the API uses), as a table, CSV or JSON.

use std::process::ExitCode;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::SchemaRef;
use clap::Args;
use lake::LakeTable;
use pipelines::backtest::store;

use super::global::GlobalArgs;
use super::output::{self, OutputFormat};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  bb results 6c3a10e4-2d62-411a-a902-55420077827c\n  bb results RUN_ID --combo 3 --equity --format csv > equity.csv")]
pub struct ResultsArgs {
    /// The run id `bb backtest` (or the API) printed.
    pub run_id: String,
    /// Combination of a sweep (0 for a single backtest).
    #[arg(long, default_value_t = 0)]
    pub combo: i64,
    /// The equity curve instead of the trades.
    #[arg(long)]
    pub equity: bool,
    /// Output format (csv: header row; json: an array of objects).
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

fn utc(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}

/// `table`'s columns after `run_id` and `combo`: what one combination's rows hold.
fn columns_of(table: LakeTable) -> anyhow::Result<SchemaRef> {
    let schema = table.schema();
    Ok(Arc::new(schema.project(&(2..schema.fields().len()).collect::<Vec<_>>())?))
}

fn trades_batch(trades: &[store::StoredTrade]) -> anyhow::Result<RecordBatch> {
    let x = |g: fn(&store::StoredTrade) -> f64| -> ArrayRef { Arc::new(trades.iter().map(g).collect::<Float64Array>()) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(trades.iter().map(|t| t.trade_no).collect::<Int64Array>()),
        Arc::new(trades.iter().map(|t| Some(t.side.as_str())).collect::<StringArray>()),
        utc(trades.iter().map(|t| t.entry_time_us).collect()),
        x(|t| t.entry_price),
        utc(trades.iter().map(|t| t.exit_time_us).collect()),
        x(|t| t.exit_price),
        x(|t| t.qty),
        x(|t| t.fees),
        x(|t| t.pnl),
        x(|t| t.return_pct),
        Arc::new(trades.iter().map(|t| Some(t.exit_reason.as_str())).collect::<StringArray>()),
        Arc::new(trades.iter().map(|t| t.bars_held).collect::<Int64Array>()),
    ];
    Ok(RecordBatch::try_new(columns_of(LakeTable::BacktestTrades)?, columns)?)
}

fn equity_batch(points: &[(i64, f64)]) -> anyhow::Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![utc(points.iter().map(|p| p.0).collect()), Arc::new(points.iter().map(|p| p.1).collect::<Float64Array>())];
    Ok(RecordBatch::try_new(columns_of(LakeTable::BacktestEquity)?, columns)?)
}

pub async fn run(global: &GlobalArgs, args: ResultsArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    let (run, combo) = (args.run_id.trim(), args.combo);
    match store::read_combinations(&lake, run).await? {
        0 => anyhow::bail!("the lake holds no run {run} (bb sql \"SELECT DISTINCT run_id FROM backtest_metrics\" lists them)"),
        n if combo < 0 || combo >= n as i64 => anyhow::bail!("run {run} has combinations 0 to {}, not {combo}", n - 1),
        _ => {}
    }
    let batch = if args.equity {
        let points = store::read_equity(&lake, run, combo, None, None).await?;
        if points.is_empty() {
            anyhow::bail!("run {run} stored no equity curve (a sweep stores it only with bb backtest --save-equity)");
        }
        equity_batch(&points)?
    } else {
        trades_batch(&store::read_trades(&lake, run, combo, 0, None).await?)?
    };
    output::write(&mut std::io::stdout().lock(), &[batch], args.format)?;
    Ok(ExitCode::SUCCESS)
}
