//! `bb ingest`: files into the lake, with progress, per-file reports and a one-line summary; and
//! `bb ingest kaiko`: trade history paged from Kaiko's API through the same validation and landing.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use ingest::{ingest_file, ColumnMap, Format, IngestOptions, IngestReport, Stage};
use lake::{Market, Timeframe};

use super::global::GlobalArgs;

#[derive(Debug, Args)]
#[command(after_help = "Formats are detected from the extension and content; freqtrade names (BTC_USDT-1m.json) \
and Binance names (BTCUSDT-1m-2025-01.csv) give symbol and timeframe. Rows that fail validation go to the \
quarantine table; a file that cannot be parsed writes nothing and makes the exit code non-zero. \
`bb ingest kaiko --help` pages trade history from Kaiko's API instead.",
    args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct IngestArgs {
    #[command(subcommand)]
    pub source: Option<IngestSource>,
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

/// Sources other than files.
#[derive(Debug, Subcommand)]
pub enum IngestSource {
    /// Trade history from Kaiko's API (key in BB_KAIKO_API_KEY or BB_KAIKO_API_KEY_FILE), landed in
    /// trades_raw and as candles exactly once; a run that stops resumes from the last landed candle.
    Kaiko(KaikoArgs),
}

#[derive(Debug, Args)]
pub struct KaikoArgs {
    /// Kaiko's exchange code, e.g. cbse (Coinbase), bnce (Binance), krkn (Kraken); also the lake's exchange.
    #[arg(long)]
    pub exchange: String,
    /// Kaiko's instrument code, e.g. btc-usd (the lake's symbol: BTCUSD).
    #[arg(long)]
    pub pair: String,
    /// Kaiko's instrument class.
    #[arg(long, default_value = "spot")]
    pub class: String,
    /// Start (RFC 3339 or epoch ms), inclusive.
    #[arg(long)]
    pub from: String,
    /// End (RFC 3339 or epoch ms), exclusive.
    #[arg(long)]
    pub to: String,
    /// Candle timeframe the trades are aggregated into.
    #[arg(long, default_value = "1m")]
    pub timeframe: Timeframe,
    /// Trades per request (Kaiko allows up to 100,000).
    #[arg(long, default_value_t = 10_000)]
    pub page_size: u32,
    /// Pages fetched between landings (a stopped run resumes from the last landing).
    #[arg(long, default_value_t = 10)]
    pub land_every: u32,
    /// Kaiko's API.
    #[arg(long, env = "BB_KAIKO_BASE", default_value = "https://us.market-api.kaiko.io")]
    pub kaiko_base: url::Url,
    /// Requests a minute the client allows itself (Kaiko documents 200).
    #[arg(long, env = "BB_KAIKO_RATE_PER_MINUTE", default_value_t = 200)]
    pub rate_per_minute: u32,
    /// Attempts per page on 429, 5xx and network errors before the run stops (it can be resumed).
    #[arg(long, default_value_t = 6)]
    pub attempts: u32,
    /// Seconds before the first retry (doubling after; a 429's Retry-After wins).
    #[arg(long, default_value_t = 0.5)]
    pub backoff_secs: f64,
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
    if let Some(IngestSource::Kaiko(k)) = args.source {
        return kaiko(global, k).await;
    }
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

/// Trades at or after `cut` stay for the next landing: their candle may still grow.
fn split_at_bucket(pending: &mut Vec<ingest::RawTrade>, cut: i64) -> Vec<ingest::RawTrade> {
    let keep = pending.iter().position(|t| t.time_us >= cut).unwrap_or(pending.len());
    let rest = pending.split_off(keep);
    std::mem::replace(pending, rest)
}

async fn kaiko(global: &GlobalArgs, args: KaikoArgs) -> anyhow::Result<ExitCode> {
    use crate::services::kaiko::{Kaiko, KaikoConfig, Query};
    let lake = global.open_lake()?;
    let from_ms = super::backtest::parse_time_ms(&args.from)?;
    let to_ms = super::backtest::parse_time_ms(&args.to)?;
    anyhow::ensure!(to_ms > from_ms, "--to must be after --from");
    anyhow::ensure!((1..=100_000).contains(&args.page_size), "--page-size must be 1 to 100000");
    let market = Market::new(&args.exchange, &args.pair, args.timeframe)?;
    let step_us = args.timeframe.millis() * 1_000;
    // resume: the last candle landed in the span is fetched again whole (its trades may have been cut)
    let landed = ingest::read_market(&lake, &market, lake::Span::new(Some(from_ms), Some(to_ms))).await?;
    let start_ms = landed.last().map(|c| c.open_time_us / 1_000).unwrap_or(from_ms);
    if start_ms > from_ms {
        eprintln!("resuming {market} from {} (candles before it are landed)", ingest::fmt_us(start_ms * 1_000));
    }
    let ts = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).ok_or_else(|| anyhow::anyhow!("time {ms} is out of range"));
    let query = Query { exchange: args.exchange.clone(), class: args.class.clone(), instrument: args.pair.to_lowercase(), from: ts(start_ms)?, to: ts(to_ms)?, page_size: args.page_size };
    let api_key = super::serve::secret_from_env("BB_KAIKO_API_KEY")?;
    anyhow::ensure!(api_key.is_some(), "set BB_KAIKO_API_KEY (or BB_KAIKO_API_KEY_FILE) to Kaiko's API key");
    anyhow::ensure!(args.backoff_secs.is_finite() && args.backoff_secs >= 0.0, "--backoff-secs must be a number of seconds");
    let client = Kaiko::new(KaikoConfig {
        base: args.kaiko_base.clone(),
        api_key,
        per_minute: args.rate_per_minute,
        attempts: args.attempts.max(1),
        backoff: Duration::from_secs_f64(args.backoff_secs),
    });
    let source = format!("kaiko://{}/{}/{}", args.exchange, args.class, query.instrument);
    let pb = ProgressBar::new((to_ms - start_ms).max(1) as u64);
    pb.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {percent}% {msg}").expect("valid template"));
    pb.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let (mut token, mut pages, mut fetched, mut pending) = (None::<String>, 0u64, 0u64, Vec::new());
    let mut totals = Totals::default();
    loop {
        let page = match client.page(&query, token.as_deref(), fetched).await {
            Ok(p) => p,
            Err(e) => {
                pb.finish_and_clear();
                eprintln!("error: {e:#}; {fetched} trades fetched, those before the last landing are in the lake (run again to resume)");
                return Ok(ExitCode::FAILURE);
            }
        };
        pages += 1;
        fetched += page.trades.len() as u64;
        if let Some(last) = page.trades.last() {
            pb.set_position(((last.time_us / 1_000 - start_ms).max(0) as u64).min((to_ms - start_ms) as u64));
        }
        pending.extend(page.trades);
        token = page.continuation_token;
        let done = token.is_none();
        pb.set_message(format!("{pages} pages, {fetched} trades"));
        if done || pages % args.land_every.max(1) as u64 == 0 {
            // whole candles only, until the end
            let chunk = if done {
                std::mem::take(&mut pending)
            } else {
                let cut = pending.last().map(|t| t.time_us.div_euclid(step_us) * step_us).unwrap_or(i64::MIN);
                split_at_bucket(&mut pending, cut)
            };
            if !chunk.is_empty() {
                pb.set_message(format!("{pages} pages, {fetched} trades: landing {}", chunk.len()));
                let report = ingest::ingest_trades(&lake, &source, Format::Json, &market, chunk).await?;
                add(&mut totals, &report);
                totals.files += 1;
                if report.quarantined > 0 {
                    pb.suspend(|| print_report(&report));
                }
            }
        }
        if done {
            break;
        }
    }
    pb.finish_and_clear();
    super::paper::announce(&[market.clone()]).await;
    let secs = started.elapsed().as_secs_f64();
    use std::sync::atomic::Ordering::Relaxed;
    println!(
        "ingested {fetched} trades of {market} from Kaiko ({pages} pages, {} requests, {} retried): {} candles landed, {} already present, {} quarantined, {} gap(s), {secs:.2} s",
        client.requests.load(Relaxed),
        client.retries.load(Relaxed),
        totals.landed,
        totals.merged,
        totals.quarantined,
        totals.gaps
    );
    Ok(ExitCode::SUCCESS)
}
