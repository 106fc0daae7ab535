//! `bb backtest`: run a strategy graph over the lake's candles (one backtest or a parameter sweep),
//! print the metrics, store the results in the lake and optionally export them as files.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lake::{Market, Timeframe};
use pipelines::backtest::{export, run_on_lake, store, BacktestParams, FillPolicy, ParamValues, DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_FILL_POLICY, DEFAULT_SLIPPAGE};

use super::global::GlobalArgs;

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  bb backtest --strategy sma.json --symbol BTCUSDT --timeframe 1h\n  \
bb backtest --strategy sma.json --symbol BTCUSDT --timeframe 1m --param fast=5,10,20 --param slow=50,100 --sort-by sharpe\n  \
bb backtest --strategy strategy.json --params params.json --output out/\n\
Results go to the lake tables backtest_metrics, backtest_trades and backtest_equity under the printed run id.")]
pub struct BacktestArgs {
    /// The strategy graph (JSON, spec/strategy-graph.md).
    #[arg(long)]
    pub strategy: PathBuf,
    /// All backtest inputs in the layout of the reference fixtures' params.json (flags below override it).
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Exchange of the market [default: binance].
    #[arg(long)]
    pub exchange: Option<String>,
    /// Symbol, e.g. BTCUSDT (BTC/USDT, btc_usdt and BTC-USDT name the same market).
    #[arg(long)]
    pub symbol: Option<String>,
    /// Candle timeframe, e.g. 1h (60m is the same timeframe).
    #[arg(long)]
    pub timeframe: Option<Timeframe>,
    /// Range start, inclusive: RFC 3339 or epoch milliseconds [default: first candle].
    #[arg(long)]
    pub from: Option<String>,
    /// Range end, exclusive: RFC 3339 or epoch milliseconds [default: after the last candle].
    #[arg(long)]
    pub to: Option<String>,
    /// A `$param` value, or a comma-separated list to sweep over: NAME=V[,V...] (repeatable; lists make a grid).
    #[arg(long = "param")]
    pub param: Vec<String>,
    #[arg(long, help = format!("When orders fill: next_open or close [default: {DEFAULT_FILL_POLICY}]"))]
    pub fill_policy: Option<FillPolicy>,
    #[arg(long, help = format!("Initial capital in quote currency [default: {DEFAULT_CAPITAL}]"))]
    pub capital: Option<f64>,
    #[arg(long, help = format!("Fee per fill as a fraction of notional [default: {DEFAULT_FEE_RATE}]"))]
    pub fee_rate: Option<f64>,
    #[arg(long, help = format!("Slippage as a fraction of price [default: {DEFAULT_SLIPPAGE}]"))]
    pub slippage: Option<f64>,
    /// Write trades.csv, equity.csv and metrics.json here (one sub-folder per combination for sweeps).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Store per-bar equity of every sweep combination in the lake (single backtests always store it).
    #[arg(long)]
    pub save_equity: bool,
    /// Metric to sort sweep results by (descending).
    #[arg(long, default_value = "sharpe")]
    pub sort_by: String,
    /// Sweep rows to print.
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Do not store the results in the lake.
    #[arg(long)]
    pub no_store: bool,
}

/// Epoch milliseconds from RFC 3339 or an integer.
pub fn parse_time_ms(s: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Ok(ms);
    }
    let t = chrono::DateTime::parse_from_rfc3339(s.trim()).with_context(|| format!("'{s}' is neither RFC 3339 nor epoch milliseconds"))?;
    Ok(t.timestamp_millis())
}

fn parse_param(s: &str) -> anyhow::Result<(String, Vec<f64>)> {
    let (name, values) = s.split_once('=').with_context(|| format!("--param '{s}' is not NAME=V[,V...]"))?;
    let values = values
        .split(',')
        .map(|v| v.trim().parse::<f64>().with_context(|| format!("--param {name}: '{v}' is not a number")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((name.trim().to_string(), values))
}

/// The backtest inputs: the params file if given, with the flags applied on top.
fn inputs(args: &BacktestArgs) -> anyhow::Result<BacktestParams> {
    let mut p = match &args.params {
        Some(path) => {
            let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_slice::<BacktestParams>(&text).with_context(|| format!("{}: not a backtest params file", path.display()))?
        }
        None => {
            let (Some(symbol), Some(timeframe)) = (&args.symbol, args.timeframe) else {
                bail!("give --symbol and --timeframe (or --params FILE.json)");
            };
            BacktestParams::new(Market::new(lake::DEFAULT_EXCHANGE, symbol, timeframe)?)
        }
    };
    if args.exchange.is_some() || args.symbol.is_some() || args.timeframe.is_some() {
        let m = &p.market;
        p.market = Market::new(
            args.exchange.as_deref().unwrap_or(m.exchange()),
            args.symbol.as_deref().unwrap_or(m.symbol()),
            args.timeframe.unwrap_or(m.timeframe()),
        )?;
    }
    if let Some(v) = &args.from {
        p.start = Some(parse_time_ms(v)?);
    }
    if let Some(v) = &args.to {
        p.end = Some(parse_time_ms(v)?);
    }
    if let Some(v) = args.fill_policy {
        p.fill_policy = v;
    }
    if let Some(v) = args.capital {
        p.initial_capital = v;
    }
    if let Some(v) = args.fee_rate {
        p.fee_rate = v;
    }
    if let Some(v) = args.slippage {
        p.slippage = v;
    }
    if !args.param.is_empty() {
        let lists = args.param.iter().map(|s| parse_param(s)).collect::<anyhow::Result<Vec<_>>>()?;
        p.params = ParamValues::grid(&lists);
        p.sweep_dirs = None;
    }
    p.validate()?;
    Ok(p)
}

pub async fn run(global: &GlobalArgs, args: BacktestArgs) -> anyhow::Result<ExitCode> {
    let graph_json: serde_json::Value = serde_json::from_slice(&std::fs::read(&args.strategy).with_context(|| format!("cannot read {}", args.strategy.display()))?)
        .with_context(|| format!("{}: not JSON", args.strategy.display()))?;
    let graph = match pipelines::graph::validate(&graph_json) {
        Ok(g) => g,
        Err(issues) => {
            eprintln!("{}: the strategy graph is invalid ({} issue(s)):", args.strategy.display(), issues.len());
            for i in issues {
                let place = match (&i.node, i.edge) {
                    (Some(n), Some(e)) => format!("node '{n}', edge {e}"),
                    (Some(n), None) => format!("node '{n}'"),
                    (None, Some(e)) => format!("edge {e}"),
                    (None, None) => "graph".into(),
                };
                eprintln!("  {place}: [{}] {}", i.code, i.message);
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let p = inputs(&args)?;
    let combos = p.params.combinations().len();
    for (name, _) in p.params.combinations().iter().flat_map(|c| c.0.clone()) {
        if !graph.params.iter().any(|(n, _)| *n == name) {
            let known: Vec<&str> = graph.params.iter().map(|(n, _)| n.as_str()).collect();
            bail!("the strategy has no $param '{name}' (its $params: {})", if known.is_empty() { "none".into() } else { known.join(", ") });
        }
    }
    let lake = global.open_lake()?;
    let save_equity = !p.params.is_sweep() || args.save_equity || args.output.is_some();
    let spinner = ProgressBar::new_spinner();
    spinner.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}").expect("template"));
    spinner.set_message(format!("backtesting {} ({combos} combination(s))", p.market));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let started = Instant::now();
    let (out, version) = run_on_lake(&lake, &graph, &p, save_equity).await?;
    let elapsed = started.elapsed();
    let run_id = uuid::Uuid::new_v4().to_string();
    if !args.no_store {
        spinner.set_message("storing results in the lake");
        store::save(&lake, &run_id, &p, &out, Some(version)).await?;
    }
    if let Some(dir) = &args.output {
        export::write_all(dir, &p, &out)?;
    }
    spinner.finish_and_clear();
    let bars = out.run.bars;
    println!(
        "{}: {bars} bars, {combos} combination(s) in {:.3} s ({:.0} combination·bars/s), candles version {version}",
        p.market,
        elapsed.as_secs_f64(),
        (bars * combos) as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if p.params.is_sweep() {
        print_sweep(&out, &args.sort_by, args.top)?;
    } else {
        let m = serde_json::to_value(&out.run.combos[0].metrics)?;
        for (k, v) in m.as_object().expect("metrics object") {
            println!("  {k:<24} {}", if v.is_null() { "null".to_string() } else { v.to_string() });
        }
    }
    if let Some(dir) = &args.output {
        println!("wrote {}", dir.display());
    }
    if args.no_store {
        println!("results not stored (--no-store)");
    } else {
        println!("run {run_id}");
    }
    Ok(ExitCode::SUCCESS)
}

fn print_sweep(out: &pipelines::backtest::BacktestOutput, sort_by: &str, top: usize) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = out.run.combos.iter().map(|c| serde_json::to_value(&c.metrics)).collect::<Result<_, _>>()?;
    if rows.first().is_some_and(|r| r.get(sort_by).is_none()) {
        bail!("unknown metric '{sort_by}' for --sort-by (one of: {})", rows[0].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default());
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let key = |i: usize| rows[i][sort_by].as_f64().unwrap_or(f64::NEG_INFINITY);
    order.sort_by(|a, b| key(*b).total_cmp(&key(*a)));
    let shown = ["total_return_pct", "sharpe", "max_drawdown_pct", "trades", "win_rate_pct", "profit_factor"];
    let names: Vec<String> = out.combinations.first().map(|c| c.keys().cloned().collect()).unwrap_or_default();
    let mut header: Vec<String> = vec!["#".into()];
    header.extend(names.iter().cloned());
    header.extend(shown.iter().map(|s| s.to_string()));
    if !shown.contains(&sort_by) {
        header.push(sort_by.to_string());
    }
    let widths: Vec<usize> = header.iter().map(|h| h.len().max(8) + 2).collect();
    let line = |cells: &[String]| cells.iter().zip(&widths).map(|(c, w)| format!("{c:>w$}")).collect::<String>();
    println!("{}", line(&header));
    for &i in order.iter().take(top) {
        let mut cells = vec![i.to_string()];
        cells.extend(names.iter().map(|n| pipelines::backtest::fmt_number(out.combinations[i][n])));
        let fmt = |v: &serde_json::Value| v.as_f64().map_or("null".into(), |x| if x.fract() == 0.0 { format!("{x}") } else { format!("{x:.4}") });
        cells.extend(shown.iter().map(|s| fmt(&rows[i][*s])));
        if !shown.contains(&sort_by) {
            cells.push(fmt(&rows[i][sort_by]));
        }
        println!("{}", line(&cells));
    }
    if rows.len() > top {
        println!("({} more; --top N shows more; all are in backtest_metrics)", rows.len() - top);
    }
    Ok(())
}
