//! `bb sql`: one SQL statement over the lake tables, printed as a table, CSV or JSON.

use std::process::ExitCode;

use clap::Args;

use super::output::{self, OutputFormat};
use super::global::GlobalArgs;

#[derive(Debug, Args)]
#[command(after_help = "Tables: candles, trades_raw, quarantine, backtest_metrics, backtest_trades, backtest_equity (empty until first written). \
Example: bb sql \"SELECT symbol, timeframe, count(*) FROM candles GROUP BY 1, 2\"")]
pub struct SqlArgs {
    /// The SQL statement.
    pub query: String,
    /// Output format (csv: header row, NULL as empty field; json: an array of objects).
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

pub async fn run(global: &GlobalArgs, args: SqlArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    let ctx = query::session(&lake).await?;
    let batches = query::sql(&ctx, &args.query).await?;
    output::write(&mut std::io::stdout().lock(), &batches, args.format)?;
    Ok(ExitCode::SUCCESS)
}
