//! `bb resample`: a higher timeframe of a market from a lower one already in the lake.

use std::process::ExitCode;

use clap::Args;
use ingest::ResampleReport;
use lake::{Market, Timeframe};

use super::global::GlobalArgs;

#[derive(Debug, Args)]
pub struct ResampleArgs {
    /// Exchange of the market.
    #[arg(long, default_value = lake::DEFAULT_EXCHANGE)]
    pub exchange: String,
    /// Symbol of the market, e.g. BTCUSDT, BTC/USDT or btc_usdt (all the same market).
    #[arg(long)]
    pub symbol: String,
    /// Timeframe to read (already in the lake), e.g. 1m.
    #[arg(long)]
    pub from: Timeframe,
    /// Timeframes to derive, e.g. 5m,1h.
    #[arg(long, value_delimiter = ',', required = true)]
    pub to: Vec<Timeframe>,
}

pub async fn run(global: &GlobalArgs, args: ResampleArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    let source = Market::new(&args.exchange, &args.symbol, args.from)?;
    let mut landed = Vec::new();
    for target in args.to {
        let report = ingest::resample_market(&lake, &source, target).await?;
        print_report(&report);
        landed.push(source.with_timeframe(target));
    }
    super::paper::announce(&landed).await;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn print_report(r: &ResampleReport) {
    let c = &r.candles;
    println!(
        "resampled {} {} {} → {}: {} source candles, {} new, {} already present ({} disagreed and replaced), {:.2} s",
        r.source.exchange(),
        r.source.symbol(),
        r.source.timeframe(),
        r.target.timeframe(),
        r.source_rows,
        c.inserted,
        c.already_present(),
        c.disagreed,
        r.elapsed.as_secs_f64()
    );
}
