//! `bb paper`: paper-trading runs from the shell, on `DATABASE_URL` and the lake like `bb worker`
//! (no API needed): start, list, show, pause, resume, stop, and replay candles through a run as if
//! they arrived live (for demos and tests), through the same services the API calls.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use lake::{Market, Span, Timeframe};
use pipelines::backtest::{FillPolicy, DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_FILL_POLICY, DEFAULT_SLIPPAGE};
use sqlx::PgPool;
use uuid::Uuid;

use super::global::GlobalArgs;
use crate::model::PaperStatus;
use crate::services::paper_trades::{self as service, runs, AlertConfig, NewPaperRun, PaperRun, RunnerCache, Schedule};
use crate::services::users::{self, User};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  bb paper start --strategy-version 9d1c... --symbol BTCUSDT --timeframe 1h --param fast=10 --start-at 2021-03-01\n  \
bb paper replay --run 5f2e... ../shared/data/.../BTC_USDT-1h.feather\n  bb paper replay --run 5f2e... --from 2021-03-01 --to 2021-03-02\n  \
bb paper ls --status active\n\nbb paper acts as an operator: it sees every run; --user picks whose runs to list or who starts one \
(default: the strategy's owner).")]
pub struct PaperArgs {
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(subcommand)]
    pub command: PaperCommand,
}

#[derive(Debug, Subcommand)]
pub enum PaperCommand {
    /// Start paper-trading a strategy version (checks, quota and all, as POST /paper-trades).
    Start(StartArgs),
    /// List runs, newest first.
    Ls {
        /// Only this user's runs (e-mail).
        #[arg(long)]
        user: Option<String>,
        /// scheduled, active, paused or stopped.
        #[arg(long)]
        status: Option<PaperStatus>,
    },
    /// A run with its performance snapshot, as JSON.
    Show { id: Uuid },
    /// Pause a run (it skips bars until resumed).
    Pause { id: Uuid },
    /// Resume a paused run: it catches up every bar it missed.
    Resume { id: Uuid },
    /// Stop a run for good; an open position closes at the last close.
    Stop { id: Uuid },
    /// Feed candles to a run bar by bar as if they arrived live; returns once every bar is processed.
    Replay(ReplayArgs),
    /// Copy fills and equity not yet in the lake's paper_fills / paper_equity into it now.
    Flush,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The strategy version to trade.
    #[arg(long)]
    pub strategy_version: Uuid,
    /// Exchange [default: binance].
    #[arg(long)]
    pub exchange: Option<String>,
    /// Symbol, e.g. BTCUSDT or BTC/USDT.
    #[arg(long)]
    pub symbol: String,
    /// Candle timeframe, e.g. 1m, 1h, 1d.
    #[arg(long)]
    pub timeframe: Timeframe,
    #[arg(long, default_value_t = DEFAULT_CAPITAL)]
    pub capital: f64,
    #[arg(long, default_value_t = DEFAULT_FEE_RATE)]
    pub fee_rate: f64,
    #[arg(long, default_value_t = DEFAULT_SLIPPAGE)]
    pub slippage: f64,
    /// next_open or close.
    #[arg(long, default_value_t = DEFAULT_FILL_POLICY)]
    pub fill_policy: FillPolicy,
    /// A `$param` value, NAME=NUMBER (repeatable).
    #[arg(long = "param", value_parser = parse_param)]
    pub params: Vec<(String, f64)>,
    /// Trade from this time (RFC 3339 or YYYY-MM-DD), indicators cold there; default: from the
    /// next new candle, indicators warmed on the bars before.
    #[arg(long, value_parser = parse_time)]
    pub start_at: Option<i64>,
    /// Alert when equity falls this many % below its peak.
    #[arg(long)]
    pub max_drawdown_pct: Option<f64>,
    /// Alert when equity falls this many % within a UTC day.
    #[arg(long)]
    pub daily_loss_pct: Option<f64>,
    /// Alert when no candle arrives for this many hours.
    #[arg(long)]
    pub no_trade_hours: Option<f64>,
    /// One alert per fill.
    #[arg(long)]
    pub on_every_fill: bool,
    /// Minutes between two alerts of one rule [default: 60].
    #[arg(long)]
    pub cooldown_minutes: Option<f64>,
    /// Start it as this user (e-mail; default: the strategy's owner).
    #[arg(long)]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The run.
    #[arg(long)]
    pub run: Uuid,
    /// A candle file of the run's market (any format bb ingest reads); ingested first.
    pub file: Option<PathBuf>,
    /// Without a file: replay the lake's candles from this time (RFC 3339 or YYYY-MM-DD)...
    #[arg(long, value_parser = parse_time, conflicts_with = "file")]
    pub from: Option<i64>,
    /// ...to this one (exclusive; default: the newest candle).
    #[arg(long, value_parser = parse_time, conflicts_with = "file")]
    pub to: Option<i64>,
}

fn parse_param(s: &str) -> Result<(String, f64), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("'{s}': expected NAME=NUMBER"))?;
    let v: f64 = v.trim().parse().map_err(|_| format!("'{s}': {v} is not a number"))?;
    Ok((k.trim().to_string(), v))
}

/// RFC 3339, or a date (its UTC midnight), as epoch ms.
pub(super) fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_millis())
        .map_err(|_| format!("'{s}': expected RFC 3339 (2021-03-01T00:00:00Z) or a date (2021-03-01)"))
}

async fn user_by_email(pool: &PgPool, email: &str) -> anyhow::Result<User> {
    let id: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = lower($1)").bind(email.trim()).fetch_optional(pool).await?;
    let id = id.with_context(|| format!("no user with e-mail {email} (a user appears once they sign in to the API)"))?;
    users::get(pool, id).await?.context("user vanished")
}

fn print_run(r: &PaperRun) {
    let s = &r.schedule;
    let snap = r.performance_snapshot.as_ref();
    let num = |k: &str| snap.and_then(|v| v[k].as_f64());
    println!(
        "{}  {:<9} {} {} {}  bars {}  equity {}  return {}  trades {}  last bar {}",
        r.id,
        r.status,
        s.exchange,
        s.symbol,
        s.timeframe,
        r.bars_traded,
        num("equity").map_or("-".into(), |v| format!("{v:.2}")),
        num("returnPct").map_or("-".into(), |v| format!("{v:+.2} %")),
        snap.and_then(|v| v["trades"].as_u64()).unwrap_or(0),
        r.last_bar_time.map_or("-".into(), |t| t.to_rfc3339()),
    );
}

pub async fn run(global: &GlobalArgs, args: PaperArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    let result = dispatch(&pool, &lake, args.command).await;
    pool.close().await;
    drop(cluster);
    result
}

async fn dispatch(pool: &PgPool, lake: &lake::Lake, command: PaperCommand) -> anyhow::Result<ExitCode> {
    let cache = RunnerCache::default();
    let admin = User::operator("bb paper");
    match command {
        PaperCommand::Start(a) => {
            let owner: Option<Uuid> = sqlx::query_scalar("SELECT s.owner_id FROM strategy_versions v JOIN strategies s ON s.id = v.strategy_id WHERE v.id = $1")
                .bind(a.strategy_version)
                .fetch_optional(pool)
                .await?;
            let owner = owner.with_context(|| format!("no strategy version {}", a.strategy_version))?;
            let user = match &a.user {
                Some(email) => user_by_email(pool, email).await?,
                None => users::get(pool, owner).await?.context("the strategy's owner vanished")?,
            };
            let market = Market::new(a.exchange.as_deref().unwrap_or(lake::DEFAULT_EXCHANGE), &a.symbol, a.timeframe)?;
            let schedule = Schedule {
                exchange: market.exchange().into(),
                symbol: market.symbol().into(),
                timeframe: a.timeframe,
                capital: a.capital,
                fee_rate: a.fee_rate,
                slippage: a.slippage,
                fill_policy: a.fill_policy,
                params: a.params.into_iter().collect::<BTreeMap<_, _>>(),
                start_at: a.start_at.map(runs::ms_time),
            };
            let alert_config = AlertConfig {
                max_drawdown_pct: a.max_drawdown_pct,
                daily_loss_pct: a.daily_loss_pct,
                no_trade_hours: a.no_trade_hours,
                on_every_fill: a.on_every_fill,
                cooldown_minutes: a.cooldown_minutes,
            };
            let run = service::create(pool, lake, &user, &NewPaperRun { strategy_version_id: a.strategy_version, schedule, alert_config }).await.map_err(describe)?;
            println!("started paper trade {} for {} ({}), trading from {}", run.id, user.email.as_deref().unwrap_or("?"), run.status, run.trade_from.to_rfc3339());
        }
        PaperCommand::Ls { user, status } => {
            let who = match user {
                Some(email) => Some(user_by_email(pool, &email).await?.id),
                None => None,
            };
            let items = runs::list(pool, who, status, None, 1000).await?;
            if items.is_empty() {
                eprintln!("no paper trades");
            }
            for r in &items {
                print_run(r);
            }
        }
        PaperCommand::Show { id } => {
            let r = service::visible(pool, &admin, id).await.map_err(describe)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        PaperCommand::Pause { id } => print_run(&service::set_status(pool, lake, &cache, &admin, id, PaperStatus::Paused).await.map_err(describe)?),
        PaperCommand::Resume { id } => {
            let r = service::set_status(pool, lake, &cache, &admin, id, PaperStatus::Active).await.map_err(describe)?;
            // catch up here rather than wait for a worker
            service::tick(pool, lake, &cache, id, None).await.map_err(describe)?;
            print_run(&service::visible(pool, &admin, r.id).await.map_err(describe)?);
        }
        PaperCommand::Stop { id } => print_run(&service::set_status(pool, lake, &cache, &admin, id, PaperStatus::Stopped).await.map_err(describe)?),
        PaperCommand::Replay(a) => replay(pool, lake, &cache, &admin, a).await?,
        PaperCommand::Flush => {
            let f = service::flush(pool, lake).await.map_err(describe)?;
            println!("flushed {} fill(s) and {} equity point(s) into the lake", f.fills, f.equity);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn describe(e: crate::error::ApiError) -> anyhow::Error {
    match &e {
        crate::error::ApiError::Internal(inner) => anyhow::anyhow!("{inner:#}"),
        e if !e.details().is_null() => anyhow::anyhow!("{e} ({})", e.details()),
        e => anyhow::anyhow!("{e}"),
    }
}

async fn replay(pool: &PgPool, lake: &lake::Lake, cache: &RunnerCache, admin: &User, a: ReplayArgs) -> anyhow::Result<()> {
    let run = service::visible(pool, admin, a.run).await.map_err(describe)?;
    if matches!(run.status, PaperStatus::Paused | PaperStatus::Stopped) {
        anyhow::bail!("paper trade {} is {}: resume it first (bb paper resume)", run.id, run.status);
    }
    let market = run.schedule.market()?;
    let span = match &a.file {
        Some(file) => {
            let opts = ingest::IngestOptions {
                exchange: Some(market.exchange().into()),
                symbol: Some(market.symbol().into()),
                timeframe: Some(market.timeframe()),
                ..Default::default()
            };
            let report = ingest::ingest_file(lake, file, &opts, &|_| {}).await.with_context(|| format!("{}: nothing was replayed", file.display()))?;
            if report.market != market {
                anyhow::bail!("{} holds {} candles, the run trades {market}", file.display(), report.market);
            }
            let (first, last) = report.span.with_context(|| format!("{}: no candles", file.display()))?;
            Span::new(Some(first.div_euclid(1000)), Some(last.div_euclid(1000) + 1))
        }
        None => Span::new(a.from, a.to),
    };
    if a.file.is_some() {
        // the other runs of the market hear of the new candles as after bb ingest
        service::announce(pool, std::slice::from_ref(&market)).await?;
    }
    let bars = pipelines::paper::read_candles(lake, &market, span).await?;
    let pb = ProgressBar::new(bars.len() as u64);
    pb.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} bars {msg}").expect("valid template"));
    let (mut processed, mut fills, mut alerts) = (0, 0, 0);
    for c in &bars {
        let t = service::tick(pool, lake, cache, run.id, Some(c.open_time)).await.map_err(describe)?;
        (processed, fills, alerts) = (processed + t.bars, fills + t.fills, alerts + t.alerts);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let flushed = service::flush(pool, lake).await.map_err(describe)?;
    let r = service::visible(pool, admin, run.id).await.map_err(describe)?;
    println!(
        "replayed {} bar(s) of {market}: {processed} new to the run ({} already processed), {fills} fill(s), {alerts} alert(s); {} fill(s) and {} equity point(s) flushed to the lake",
        bars.len(),
        bars.len() as u64 - processed.min(bars.len() as u64),
        flushed.fills,
        flushed.equity
    );
    print_run(&r);
    Ok(())
}

/// After candles landed (`bb ingest`, `bb resample`): when `DATABASE_URL` is set, queues a tick for
/// every running paper trade of `markets` (workers pick them up at once). Without it the workers'
/// periodic scan finds the new candles. A failure is a warning: the candles are in.
pub(super) async fn announce(markets: &[Market]) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return;
    };
    if markets.is_empty() {
        return;
    }
    let queued = async {
        let pool = crate::db::connect(&url).await?;
        let n = service::announce(&pool, markets).await?;
        pool.close().await;
        anyhow::Ok(n)
    };
    match queued.await {
        Ok(0) => {}
        Ok(n) => eprintln!("{n} paper-trading run(s) of these markets have a tick queued for the new candles"),
        Err(e) => eprintln!("warning: could not announce the new candles to paper trading ({e:#}); the workers' scan will find them"),
    }
}
