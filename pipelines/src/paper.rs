//! Paper trading's engine: a [`PaperRunner`] advances one run by new candles with the backtest's
//! own stepper ([`crate::backtest::Stepper`]) and keeps what must survive between ticks
//! ([`PaperState`]: the simulator, the bars seen, running performance). Bars before the run's
//! `trade_from` only warm its indicators; later ones trade. After a restart the indicators are
//! rebuilt by feeding the same history again ([`PaperRunner::resume`]), and the simulator is the
//! stored one.

use std::collections::BTreeMap;

use lake::{LakeTable, Market, Span};
use serde::{Deserialize, Serialize};

use crate::backtest::{Candle, Fill, OpenPosition, SimConfig, Simulator, Stepper};
use crate::error::{Error, Result};
use crate::graph::ValidGraph;

/// Running performance of a run, updated on every traded bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Performance {
    pub initial_capital: f64,
    /// Equity after the last traded bar (position marked at its close).
    pub equity: f64,
    pub peak_equity: f64,
    /// Largest fall from a peak so far, in % of the peak (≥ 0).
    pub max_drawdown_pct: f64,
    /// Closed trades and how many of them made money.
    pub trades: u64,
    pub wins: u64,
    pub fees_paid: f64,
    /// UTC day (epoch ms of its midnight) of the last traded bar, and the equity it opened with.
    pub day: i64,
    pub day_open_equity: f64,
}

impl Performance {
    fn new(initial_capital: f64) -> Self {
        Performance {
            initial_capital,
            equity: initial_capital,
            peak_equity: initial_capital,
            max_drawdown_pct: 0.0,
            trades: 0,
            wins: 0,
            fees_paid: 0.0,
            day: i64::MIN,
            day_open_equity: initial_capital,
        }
    }

    pub fn return_pct(&self) -> f64 {
        (self.equity / self.initial_capital - 1.0) * 100.0
    }

    /// Current fall from the peak, in %.
    pub fn drawdown_pct(&self) -> f64 {
        if self.peak_equity > 0.0 { (1.0 - self.equity / self.peak_equity) * 100.0 } else { 0.0 }
    }

    /// Change since the UTC day of the last bar opened, in %.
    pub fn day_change_pct(&self) -> f64 {
        if self.day_open_equity > 0.0 { (self.equity / self.day_open_equity - 1.0) * 100.0 } else { 0.0 }
    }

    pub fn win_rate_pct(&self) -> Option<f64> {
        (self.trades > 0).then(|| self.wins as f64 / self.trades as f64 * 100.0)
    }
}

/// What a run keeps between ticks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaperState {
    pub sim: Simulator,
    /// Bars fed through the strategy since the run's origin (warm-up included).
    pub bars_seen: u64,
    /// Bars traded.
    pub bars_traded: u64,
    /// The last bar processed.
    pub last_bar: Option<Candle>,
    pub performance: Performance,
}

/// What one bar did to a run.
#[derive(Debug, Clone, PartialEq)]
pub struct BarOutcome {
    pub candle: Candle,
    /// Equity after the bar; None for a warm-up bar.
    pub equity: Option<f64>,
    pub fills: Vec<Fill>,
}

/// A run's strategy and trading inputs.
#[derive(Debug, Clone)]
pub struct PaperSetup<'a> {
    pub graph: &'a ValidGraph,
    /// `$param` values (missing ones take the graph's defaults).
    pub values: &'a BTreeMap<String, f64>,
    pub config: SimConfig,
    /// Open time (ms) of the first bar that trades; earlier bars warm the indicators.
    pub trade_from: i64,
}

/// One run being advanced.
#[derive(Debug)]
pub struct PaperRunner {
    stepper: Stepper,
    trade_from: i64,
    state: PaperState,
}

impl PaperRunner {
    /// A run that has seen no bar yet. Errors name the node and value a parameter cannot take.
    pub fn start(setup: &PaperSetup) -> Result<Self> {
        let stepper = Stepper::new(setup.graph, setup.values, setup.config.clone())?;
        let state = PaperState { sim: stepper.sim().clone(), bars_seen: 0, bars_traded: 0, last_bar: None, performance: Performance::new(setup.config.initial_capital) };
        Ok(PaperRunner { stepper, trade_from: setup.trade_from, state })
    }

    /// A run that has processed `history` (every bar from its origin through its last one) and
    /// stored `saved`: the indicators are rebuilt from `history`, the simulator is `saved`'s.
    pub fn resume(setup: &PaperSetup, saved: PaperState, history: &[Candle]) -> Result<Self> {
        if history.len() as u64 != saved.bars_seen || history.last().map(|c| c.open_time) != saved.last_bar.map(|c| c.open_time) {
            return Err(Error::Invalid(format!(
                "the run's history changed: it processed {} bar(s) through {:?}, the lake now holds {} through {:?}",
                saved.bars_seen,
                saved.last_bar.map(|c| c.open_time),
                history.len(),
                history.last().map(|c| c.open_time)
            )));
        }
        let mut runner = Self::start(setup)?;
        for c in history {
            runner.stepper.warm(c);
        }
        runner.stepper.restore(saved.sim.clone(), saved.bars_traded as usize);
        runner.state = saved;
        Ok(runner)
    }

    /// Processes the next bar (later than every bar before it).
    pub fn feed(&mut self, c: &Candle) -> BarOutcome {
        let s = &mut self.state;
        s.bars_seen += 1;
        s.last_bar = Some(*c);
        if c.open_time < self.trade_from {
            self.stepper.warm(c);
            return BarOutcome { candle: *c, equity: None, fills: Vec::new() };
        }
        let equity = self.stepper.step(c);
        s.bars_traded += 1;
        let p = &mut s.performance;
        let day = c.open_time.div_euclid(86_400_000) * 86_400_000;
        if day != p.day {
            // the day opens with the equity the previous bar closed with
            p.day = day;
            p.day_open_equity = p.equity;
        }
        let fills = self.record(equity);
        BarOutcome { candle: *c, equity: Some(equity), fills }
    }

    /// Takes the simulator's new fills and closed trades into the running performance, with the
    /// equity they left, and keeps the simulator's state; returns the fills.
    fn record(&mut self, equity: f64) -> Vec<Fill> {
        let fills = self.stepper.sim_mut().take_fills();
        let p = &mut self.state.performance;
        for t in self.stepper.sim_mut().take_trades() {
            p.trades += 1;
            p.wins += u64::from(t.pnl > 0.0);
        }
        p.fees_paid += fills.iter().map(|f| f.fee).sum::<f64>();
        p.equity = equity;
        p.peak_equity = p.peak_equity.max(equity);
        p.max_drawdown_pct = p.max_drawdown_pct.max(p.drawdown_pct());
        self.state.sim = self.stepper.sim().clone();
        fills
    }

    /// Ends the run after its last bar: a position still open closes at that bar's close
    /// (`end_of_data`, as a backtest ends) and a pending order is dropped. Returns the fills.
    pub fn stop(&mut self) -> Vec<Fill> {
        let Some(last) = self.state.last_bar.filter(|_| self.state.bars_traded > 0) else {
            return Vec::new();
        };
        let equity = self.stepper.finish(&last);
        self.record(equity)
    }

    pub fn state(&self) -> &PaperState {
        &self.state
    }

    pub fn position(&self) -> Option<OpenPosition> {
        self.state.sim.position()
    }
}

/// The candles of `market` with an open time in `span`, oldest first, from the lake's latest
/// `candles` (empty when the lake has none).
pub async fn read_candles(lake: &lake::Lake, market: &Market, span: Span) -> Result<Vec<Candle>> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, TimestampMicrosecondType};
    if lake.version(LakeTable::Candles).await?.is_none() {
        return Ok(Vec::new());
    }
    let ctx = query::session_with(lake, &query::Tables::none().latest(LakeTable::Candles)).await?;
    let df = crate::backtest::run::market_candles(&ctx, market, span).await?.sort(vec![datafusion::prelude::col("open_time").sort(true, false)])?;
    let mut out = Vec::new();
    for b in df.collect().await? {
        let t = b.column(0).as_primitive::<TimestampMicrosecondType>();
        let f = |i: usize| b.column(i).as_primitive::<Float64Type>();
        let (o, h, l, c, v) = (f(1), f(2), f(3), f(4), f(5));
        for r in 0..b.num_rows() {
            out.push(Candle { open_time: t.value(r).div_euclid(1000), open: o.value(r), high: h.value(r), low: l.value(r), close: c.value(r), volume: v.value(r) });
        }
    }
    Ok(out)
}
