//! `bb ingest`: files into the lake, with progress, per-file reports and a one-line summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use ingest::{ingest_file, ColumnMap, Format, IngestOptions, IngestReport, Stage};
use lake::{Market, Timeframe};

use super::global::GlobalArgs;

#[derive(Debug, Args)]
#[command(after_help = "Formats are detected from the extension and content; freqtrade names (BTC_USDT-1m.json) \
and Binance names (BTCUSDT-1m-2025-01.csv) give symbol and timeframe. Rows that fail validation go to the \
quarantine table; a file that cannot be parsed writes nothing and makes the exit code non-zero.")]
pub struct IngestArgs {
    /// Files to ingest (.json, .json.gz, .feather, .csv, .parquet; candles or trades).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Exchange the files come from [default: binance].
    #[arg(long)]
    pub exchange: Option<String>,
    /// Symbol, e.g. BTCUSDT or BTC/USDT (inferred from freqtrade and Binance file names).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Candle timeframe, e.g. 1m, 5m, 1h, 1d (inferred from the name or the data; trades → 1m).
    #[arg(long)]
    pub timeframe: Option<Timeframe>,
    /// Force a format: json, feather, parquet, binance-csv, csv.
    #[arg(long)]
    pub format: Option<Format>,
    /// Column mapping for CSV/Parquet with other names: FIELD=COLUMN,... (fields: open_time, open,
    /// high, low, close, volume, trade_count, quote_volume; for trades time, price, qty, side, id).
    #[arg(long)]
    pub columns: Option<String>,
    /// After ingesting, derive these higher timeframes of each ingested market (e.g. 5m,1h).
    #[arg(long, value_delimiter = ',')]
    pub resample: Vec<Timeframe>,
}

#[derive(Default)]
struct Totals {
    files: u64,
    failed: u64,
    read: u64,
    landed: u64,
    quarantined: u64,
    merged: u64,
    disagreed: u64,
    gaps: u64,
    missing: u64,
}

pub async fn run(global: &GlobalArgs, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    let opts = IngestOptions {
        exchange: args.exchange.clone(),
        symbol: args.symbol.clone(),
        timeframe: args.timeframe,
        format: args.format,
        columns: args.columns.as_deref().map(ColumnMap::parse).transpose()?.unwrap_or_default(),
    };
    let sizes: Vec<u64> = args.files.iter().map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0)).collect();
    let pb = ProgressBar::new(sizes.iter().sum());
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg}")
            .expect("valid template"),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let mut totals = Totals::default();
    let mut markets: Vec<Market> = Vec::new();
    for (i, file) in args.files.iter().enumerate() {
        let label = format!("[{}/{}] {}", i + 1, args.files.len(), file.display());
        let stage = |s: Stage| {
            let what = match s {
                Stage::Reading => "reading",
                Stage::Validating => "validating",
                Stage::Writing => "writing",
            };
            pb.set_message(format!("{label}: {what}"));
        };
        totals.files += 1;
        match ingest_file(&lake, file, &opts, &stage).await {
            Ok(report) => {
                pb.suspend(|| print_report(&report));
                add(&mut totals, &report);
                if !markets.contains(&report.market) {
                    markets.push(report.market.clone());
                }
            }
            Err(e) => {
                totals.failed += 1;
                pb.suspend(|| eprintln!("error: {e} (nothing was written for this file)"));
            }
        }
        pb.inc(sizes[i]);
    }
    let mut landed = markets.clone();
    for market in &markets {
        for target in &args.resample {
            landed.push(market.with_timeframe(*target));
            pb.set_message(format!("resampling {} {} to {target}", market.symbol(), market.timeframe()));
            match ingest::resample_market(&lake, market, *target).await {
                Ok(r) => pb.suspend(|| super::resample::print_report(&r)),
                Err(e) => {
                    totals.failed += 1;
                    pb.suspend(|| eprintln!("error: {e}"));
                }
            }
        }
    }
    pb.finish_and_clear();
    super::paper::announce(&landed).await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ingested {} file(s){}: {} rows read, {} landed, {} quarantined, {} duplicates merged ({} disagreed, file won), {} gap(s) ({} missing candles), {:.2} s, {:.0} rows/s",
        totals.files - totals.failed,
        if totals.failed > 0 { format!(", {} failed", totals.failed) } else { String::new() },
        totals.read,
        totals.landed,
        totals.quarantined,
        totals.merged,
        totals.disagreed,
        totals.gaps,
        totals.missing,
        secs,
        totals.read as f64 / secs.max(1e-9)
    );
    Ok(if totals.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn add(t: &mut Totals, r: &IngestReport) {
    t.read += r.rows_read;
    t.landed += r.candles.inserted;
    t.quarantined += r.quarantined;
    t.merged += r.candles.already_present();
    t.disagreed += r.candles.disagreed;
    t.gaps += r.gaps.holes;
    t.missing += r.gaps.missing;
}

fn print_report(r: &IngestReport) {
    let m = &r.market;
    println!("{}: {m} ({})", r.file.display(), r.format);
    if !r.inferred.is_empty() {
        println!("  inferred: {}", r.inferred.join("; "));
    }
    if let Some(n) = r.trades_landed {
        println!("  trades: {} read, {n} valid, aggregated into {} {} candles", r.rows_read, r.candles.inserted + r.candles.already_present(), m.timeframe());
    }
    if let Some((a, b)) = r.span {
        println!("  span: {} → {}", ingest::fmt_us(a), ingest::fmt_us(b));
    }
    let c = &r.candles;
    println!(
        "  candles: {} new, {} already present ({} identical, {} enriched, {} disagreed and replaced)",
        c.inserted,
        c.already_present(),
        c.unchanged,
        c.enriched,
        c.disagreed
    );
    if let Some(d) = &c.first_disagreement {
        println!("  first disagreement: {d}");
    }
    println!("  quarantined: {}", r.quarantined);
    for (reason, n) in &r.quarantine_reasons {
        println!("    {n} × {reason}");
    }
    println!("  gaps: {}", r.gaps);
    println!(
        "  {} rows in {:.2} s ({:.0} rows/s), candles table version {}",
        r.rows_read,
        r.elapsed.as_secs_f64(),
        r.rows_per_second(),
        c.version.map_or("-".into(), |v| v.to_string())
    );
}
