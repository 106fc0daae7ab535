//! The fill simulator: positions, fills, stops, fees and equity per spec/backtest-semantics.md,
//! one bar at a time (the same state machine drives backtests and paper trading, whose runs keep
//! it between ticks: it serialises, and can log each fill as it happens).

use serde::{Deserialize, Serialize};

use crate::graph::Side;

/// When an order decided on bar t fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(type_name = "text", rename_all = "snake_case"))]
pub enum FillPolicy {
    /// At the next bar's open.
    NextOpen,
    /// At bar t's close.
    Close,
}

impl FillPolicy {
    pub const ALL: [FillPolicy; 2] = [FillPolicy::NextOpen, FillPolicy::Close];

    pub fn as_str(self) -> &'static str {
        match self {
            FillPolicy::NextOpen => "next_open",
            FillPolicy::Close => "close",
        }
    }
}

impl std::fmt::Display for FillPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FillPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FillPolicy::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| format!("fill policy '{s}': next_open or close"))
    }
}

/// Why a trade closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    Signal,
    StopLoss,
    TakeProfit,
    TrailingStop,
    Reversal,
    EndOfData,
}

impl ExitReason {
    pub const ALL: [ExitReason; 6] =
        [ExitReason::Signal, ExitReason::StopLoss, ExitReason::TakeProfit, ExitReason::TrailingStop, ExitReason::Reversal, ExitReason::EndOfData];

    pub fn parse(s: &str) -> Option<ExitReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Signal => "signal",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::Reversal => "reversal",
            ExitReason::EndOfData => "end_of_data",
        }
    }
}

/// What the graph's risk and sizing blocks ask for (per combination: they may be `$param`s).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    pub stop_loss_pct: Option<f64>,
    pub take_profit_pct: Option<f64>,
    pub trailing_stop_pct: Option<f64>,
    /// Fraction of cash committed per entry (sizing block), 0 < f ≤ 1.
    pub fraction: f64,
}

impl Default for Risk {
    fn default() -> Self {
        Risk { stop_loss_pct: None, take_profit_pct: None, trailing_stop_pct: None, fraction: 1.0 }
    }
}

/// Everything the simulator needs besides bars and signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    pub initial_capital: f64,
    pub fee_rate: f64,
    pub slippage: f64,
    pub fill_policy: FillPolicy,
    pub risk: Risk,
}

/// One bar's prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

/// One bar's four signals (NULL already counted as false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BarSignals {
    pub entry_long: bool,
    pub entry_short: bool,
    pub exit_long: bool,
    pub exit_short: bool,
}

/// A closed trade (`entry_time`/`exit_time`: open time of the fill's bar, epoch ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    pub side: Side,
    pub entry_time: i64,
    pub entry_price: f64,
    pub exit_time: i64,
    pub exit_price: f64,
    pub qty: f64,
    pub fees: f64,
    pub pnl: f64,
    pub return_pct: f64,
    pub exit_reason: ExitReason,
    pub entry_bar: usize,
    pub exit_bar: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Position {
    side: Side,
    qty: f64,
    entry_price: f64,
    entry_time: i64,
    entry_bar: usize,
    entry_fee: f64,
    /// Best price since entry for the trailing stop (high for a long, low for a short).
    best: f64,
    /// First bar on which stops are tested.
    stops_from: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    Open(Side),
    Close,
    Reverse(Side),
}

/// Buying or selling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Buy,
    Sell,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Buy => "buy",
            Action::Sell => "sell",
        }
    }
}

/// One fill as it happened: an entry (`reason` None) or an exit of the position of `side`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// Open time of the bar the fill happened on (epoch ms).
    pub time: i64,
    /// Index of that bar among the bars simulated.
    pub bar: usize,
    pub action: Action,
    /// The position the fill opens or closes.
    pub side: Side,
    pub price: f64,
    pub qty: f64,
    pub fee: f64,
    /// Why a position closed; None for an entry.
    pub exit_reason: Option<ExitReason>,
    /// Net profit of the closed trade (both fees included); None for an entry.
    pub pnl: Option<f64>,
    /// Cash after the fill.
    pub cash: f64,
}

/// The position held, as a report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpenPosition {
    pub side: Side,
    pub qty: f64,
    pub entry_price: f64,
    /// Open time of the entry bar (epoch ms).
    pub entry_time: i64,
}

/// The simulator's state between bars (serialisable: a paper-trading run keeps it between ticks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Simulator {
    cfg: SimConfig,
    cash: f64,
    position: Option<Position>,
    pending: Option<Order>,
    trades: Vec<Trade>,
    bars_in_position: usize,
    /// Every fill as it happens, when asked for ([`Simulator::log_fills`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fills: Option<Vec<Fill>>,
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Self {
        Self { cash: cfg.initial_capital, cfg, position: None, pending: None, trades: Vec::new(), bars_in_position: 0, fills: None }
    }

    /// Keeps a log of every fill from now on (drained with [`Simulator::take_fills`]).
    pub fn log_fills(mut self) -> Self {
        self.fills.get_or_insert_with(Vec::new);
        self
    }

    /// The fills since the last call (empty unless [`Simulator::log_fills`]).
    pub fn take_fills(&mut self) -> Vec<Fill> {
        self.fills.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The trades closed since the last call.
    pub fn take_trades(&mut self) -> Vec<Trade> {
        std::mem::take(&mut self.trades)
    }

    /// Trades closed so far (since the last [`Simulator::take_trades`]).
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// The open position, if any.
    pub fn position(&self) -> Option<OpenPosition> {
        self.position.map(|p| OpenPosition { side: p.side, qty: p.qty, entry_price: p.entry_price, entry_time: p.entry_time })
    }

    /// Whether an order decided on the last bar waits for the next bar's open.
    pub fn has_pending_order(&self) -> bool {
        self.pending.is_some()
    }

    /// Bars that ended with a position open.
    pub fn bars_in_position(&self) -> usize {
        self.bars_in_position
    }

    fn buy_price(&self, p: f64) -> f64 {
        p * (1.0 + self.cfg.slippage)
    }

    fn sell_price(&self, p: f64) -> f64 {
        p * (1.0 - self.cfg.slippage)
    }

    fn open(&mut self, side: Side, raw: f64, i: usize, bar: &Bar) {
        let fill = match side {
            Side::Long => self.buy_price(raw),
            Side::Short => self.sell_price(raw),
        };
        let qty = self.cfg.risk.fraction * self.cash / (fill * (1.0 + self.cfg.fee_rate));
        let fee = qty * fill * self.cfg.fee_rate;
        match side {
            Side::Long => self.cash -= qty * fill + fee,
            Side::Short => self.cash += qty * fill - fee,
        }
        let stops_from = match self.cfg.fill_policy {
            FillPolicy::NextOpen => i,
            FillPolicy::Close => i + 1,
        };
        self.position = Some(Position { side, qty, entry_price: fill, entry_time: bar.open_time, entry_bar: i, entry_fee: fee, best: fill, stops_from });
        if let Some(log) = self.fills.as_mut() {
            let action = if side == Side::Long { Action::Buy } else { Action::Sell };
            log.push(Fill { time: bar.open_time, bar: i, action, side, price: fill, qty, fee, exit_reason: None, pnl: None, cash: self.cash });
        }
    }

    fn close(&mut self, raw: f64, i: usize, bar: &Bar, reason: ExitReason) {
        let Some(p) = self.position.take() else { return };
        let fill = match p.side {
            Side::Long => self.sell_price(raw),
            Side::Short => self.buy_price(raw),
        };
        let fee = p.qty * fill * self.cfg.fee_rate;
        let gross = match p.side {
            Side::Long => {
                self.cash += p.qty * fill - fee;
                (fill - p.entry_price) * p.qty
            }
            Side::Short => {
                self.cash -= p.qty * fill + fee;
                (p.entry_price - fill) * p.qty
            }
        };
        let fees = p.entry_fee + fee;
        let pnl = gross - fees;
        if let Some(log) = self.fills.as_mut() {
            let action = if p.side == Side::Long { Action::Sell } else { Action::Buy };
            log.push(Fill { time: bar.open_time, bar: i, action, side: p.side, price: fill, qty: p.qty, fee, exit_reason: Some(reason), pnl: Some(pnl), cash: self.cash });
        }
        self.trades.push(Trade {
            side: p.side,
            entry_time: p.entry_time,
            entry_price: p.entry_price,
            exit_time: bar.open_time,
            exit_price: fill,
            qty: p.qty,
            fees,
            pnl,
            return_pct: pnl / (p.entry_price * p.qty) * 100.0,
            exit_reason: reason,
            entry_bar: p.entry_bar,
            exit_bar: i,
        });
    }

    fn execute(&mut self, order: Order, raw: f64, i: usize, bar: &Bar) {
        match order {
            Order::Open(side) => self.open(side, raw, i, bar),
            Order::Close => self.close(raw, i, bar, ExitReason::Signal),
            Order::Reverse(side) => {
                self.close(raw, i, bar, ExitReason::Reversal);
                self.open(side, raw, i, bar);
            }
        }
    }

    /// Tests stop-loss, take-profit and trailing stop on bar `i`; closes the position if one triggers.
    fn test_stops(&mut self, i: usize, bar: &Bar) {
        let Some(p) = self.position else { return };
        if i < p.stops_from {
            return;
        }
        let cfg = &self.cfg;
        let long = p.side == Side::Long;
        let level = |pct: Option<f64>, base: f64, against: bool| {
            pct.map(|x| if long == against { base * (1.0 - x / 100.0) } else { base * (1.0 + x / 100.0) })
        };
        // "against" levels sit on the losing side: below the entry for a long, above for a short
        let sl = level(cfg.risk.stop_loss_pct, p.entry_price, true);
        let tr = level(cfg.risk.trailing_stop_pct, p.best, true);
        let tp = level(cfg.risk.take_profit_pct, p.entry_price, false);
        let adverse_hit = |lvl: f64| if long { bar.low <= lvl } else { bar.high >= lvl };
        let favour_hit = |lvl: f64| if long { bar.high >= lvl } else { bar.low <= lvl };
        // of stop-loss and trailing stop, the level reached first from the open wins (higher for a long)
        let stop = match (sl.filter(|l| adverse_hit(*l)), tr.filter(|l| adverse_hit(*l))) {
            (Some(s), Some(t)) => {
                let trailing_first = if long { t > s } else { t < s };
                Some(if trailing_first { (t, ExitReason::TrailingStop) } else { (s, ExitReason::StopLoss) })
            }
            (Some(s), None) => Some((s, ExitReason::StopLoss)),
            (None, Some(t)) => Some((t, ExitReason::TrailingStop)),
            (None, None) => None,
        };
        let exit = stop.or_else(|| tp.filter(|l| favour_hit(*l)).map(|l| (l, ExitReason::TakeProfit)));
        if let Some((lvl, reason)) = exit {
            // a gap: the open is already past the level, so the fill is at the open
            let gapped = match reason {
                ExitReason::TakeProfit => if long { bar.open >= lvl } else { bar.open <= lvl },
                _ => if long { bar.open <= lvl } else { bar.open >= lvl },
            };
            self.close(if gapped { bar.open } else { lvl }, i, bar, reason);
            return;
        }
        if let Some(p) = self.position.as_mut() {
            p.best = if long { p.best.max(bar.high) } else { p.best.min(bar.low) };
        }
    }

    /// The order bar `i`'s signals ask for, given the position after its stops.
    fn decide(&self, s: BarSignals) -> Option<Order> {
        let both = s.entry_long && s.entry_short;
        let (el, es) = (s.entry_long && !both, s.entry_short && !both);
        match self.position.map(|p| p.side) {
            None if el && !s.exit_long => Some(Order::Open(Side::Long)),
            None if es && !s.exit_short => Some(Order::Open(Side::Short)),
            None => None,
            Some(Side::Long) if es && !s.exit_short => Some(Order::Reverse(Side::Short)),
            Some(Side::Long) => s.exit_long.then_some(Order::Close),
            Some(Side::Short) if el && !s.exit_long => Some(Order::Reverse(Side::Long)),
            Some(Side::Short) => s.exit_short.then_some(Order::Close),
        }
    }

    /// Processes bar `i` (bars in time order, `last` for the final bar) and returns its equity.
    pub fn step(&mut self, i: usize, bar: &Bar, signals: BarSignals, last: bool) -> f64 {
        if let Some(order) = self.pending.take() {
            self.execute(order, bar.open, i, bar);
        }
        self.test_stops(i, bar);
        let order = if last { None } else { self.decide(signals) };
        match (self.cfg.fill_policy, order) {
            (FillPolicy::NextOpen, o) => self.pending = o,
            (FillPolicy::Close, Some(o)) => self.execute(o, bar.close, i, bar),
            (FillPolicy::Close, None) => {}
        }
        if self.position.is_some() {
            self.bars_in_position += 1;
        }
        self.equity(bar.close)
    }

    /// Cash plus the position marked at `price`.
    pub fn equity(&self, price: f64) -> f64 {
        match self.position {
            None => self.cash,
            Some(p) if p.side == Side::Long => self.cash + p.qty * price,
            Some(p) => self.cash - p.qty * price,
        }
    }

    /// Closes a position still open after the last bar at its close (end_of_data); returns the final equity.
    pub fn finish(&mut self, i: usize, bar: &Bar) -> f64 {
        self.pending = None;
        if self.position.is_some() {
            self.close(bar.close, i, bar, ExitReason::EndOfData);
        }
        self.cash
    }
}

/// The result of simulating one combination over a market.
#[derive(Debug, Clone)]
pub struct SimResult {
    pub trades: Vec<Trade>,
    /// Equity after each bar (the last includes the end-of-data close).
    pub equity: Vec<f64>,
    pub bars_in_position: usize,
}

/// Simulates `bars` with `signals(i)` for bar i.
pub fn simulate(cfg: &SimConfig, bars: &[Bar], signals: impl Fn(usize) -> BarSignals) -> SimResult {
    let mut sim = Simulator::new(cfg.clone());
    let mut equity = Vec::with_capacity(bars.len());
    let n = bars.len();
    for (i, bar) in bars.iter().enumerate() {
        equity.push(sim.step(i, bar, signals(i), i + 1 == n));
    }
    if let (Some(last), Some(bar)) = (equity.last_mut(), bars.last()) {
        *last = sim.finish(n - 1, bar);
    }
    SimResult { bars_in_position: sim.bars_in_position, trades: sim.trades, equity }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(policy: FillPolicy) -> SimConfig {
        SimConfig { initial_capital: 1000.0, fee_rate: 0.0, slippage: 0.0, fill_policy: policy, risk: Risk::default() }
    }

    fn bars(ohlc: &[(f64, f64, f64, f64)]) -> Vec<Bar> {
        ohlc.iter().enumerate().map(|(i, &(open, high, low, close))| Bar { open_time: i as i64 * 60_000, open, high, low, close }).collect()
    }

    fn sig(el: &[usize], es: &[usize], xl: &[usize], xs: &[usize]) -> impl Fn(usize) -> BarSignals {
        let (el, es, xl, xs) = (el.to_vec(), es.to_vec(), xl.to_vec(), xs.to_vec());
        move |i| BarSignals { entry_long: el.contains(&i), entry_short: es.contains(&i), exit_long: xl.contains(&i), exit_short: xs.contains(&i) }
    }

    const FLAT: (f64, f64, f64, f64) = (100.0, 101.0, 99.0, 100.0);

    #[test]
    fn a_gap_through_the_stop_fills_at_the_open() {
        let mut c = cfg(FillPolicy::NextOpen);
        c.risk.stop_loss_pct = Some(2.0);
        // entry signal on bar 0 fills at bar 1's open (100); bar 2 opens at 95, below the 98 stop
        let b = bars(&[FLAT, FLAT, (95.0, 96.0, 94.0, 95.5), FLAT]);
        let r = simulate(&c, &b, sig(&[0], &[], &[], &[]));
        assert_eq!(r.trades.len(), 1);
        let t = &r.trades[0];
        assert_eq!((t.exit_reason, t.exit_price, t.exit_bar), (ExitReason::StopLoss, 95.0, 2));
        assert_eq!(t.entry_bar, 1);
    }

    #[test]
    fn stop_loss_and_take_profit_in_one_bar_the_stop_wins() {
        let mut c = cfg(FillPolicy::NextOpen);
        c.risk.stop_loss_pct = Some(2.0);
        c.risk.take_profit_pct = Some(2.0);
        let b = bars(&[FLAT, FLAT, (100.0, 103.0, 97.0, 100.0), FLAT]);
        let r = simulate(&c, &b, sig(&[0], &[], &[], &[]));
        assert_eq!((r.trades[0].exit_reason, r.trades[0].exit_price), (ExitReason::StopLoss, 98.0));
    }

    #[test]
    fn stops_are_live_on_the_entry_bar_under_next_open_but_not_under_close() {
        let mut c = cfg(FillPolicy::NextOpen);
        c.risk.stop_loss_pct = Some(2.0);
        let b = bars(&[FLAT, (100.0, 100.5, 97.0, 99.0), FLAT, FLAT]);
        let r = simulate(&c, &b, sig(&[0], &[], &[], &[]));
        assert_eq!((r.trades[0].exit_reason, r.trades[0].exit_bar), (ExitReason::StopLoss, 1));
        c.fill_policy = FillPolicy::Close;
        // entry at bar 1's close (99): bar 1's low does not count; bar 2 does not reach 97.02
        let r = simulate(&c, &b, sig(&[1], &[], &[], &[]));
        assert_eq!(r.trades[0].exit_reason, ExitReason::EndOfData);
    }

    #[test]
    fn trailing_level_uses_highs_after_the_entry_bar() {
        let mut c = cfg(FillPolicy::NextOpen);
        c.risk.trailing_stop_pct = Some(10.0);
        // entry bar 1 (open 100) has high 200: it must not move the level on bar 1 itself
        let b = bars(&[FLAT, (100.0, 200.0, 95.0, 150.0), (150.0, 160.0, 150.0, 155.0), (150.0, 151.0, 100.0, 120.0)]);
        let r = simulate(&c, &b, sig(&[0], &[], &[], &[]));
        let t = &r.trades[0];
        // bar 1 tested at 90 (low 95 survives); bar 2 at 180 from bar 1's high: open 150 is already below → gap fill
        assert_eq!((t.exit_reason, t.exit_bar, t.exit_price), (ExitReason::TrailingStop, 2, 150.0));
    }

    #[test]
    fn an_entry_of_the_other_side_reverses_and_both_fills_pay_fees() {
        let mut c = cfg(FillPolicy::NextOpen);
        c.fee_rate = 0.001;
        let b = bars(&[FLAT, FLAT, (110.0, 111.0, 109.0, 110.0), FLAT, FLAT]);
        let r = simulate(&c, &b, sig(&[0], &[1], &[1], &[]));
        assert_eq!(r.trades.len(), 2);
        assert_eq!((r.trades[0].exit_reason, r.trades[0].exit_price), (ExitReason::Reversal, 110.0));
        let short = &r.trades[1];
        assert_eq!((short.side, short.entry_price, short.entry_bar, short.exit_reason), (Side::Short, 110.0, 2, ExitReason::EndOfData));
        assert!(r.trades.iter().all(|t| t.fees > 0.0));
    }

    #[test]
    fn a_signal_on_the_last_bar_makes_no_fill() {
        for policy in [FillPolicy::NextOpen, FillPolicy::Close] {
            let b = bars(&[FLAT, FLAT, FLAT]);
            let r = simulate(&cfg(policy), &b, sig(&[2], &[], &[], &[]));
            assert!(r.trades.is_empty(), "{policy:?}");
            assert_eq!(r.equity, vec![1000.0; 3]);
        }
    }

    #[test]
    fn both_entries_on_one_bar_are_ignored() {
        let b = bars(&[FLAT, FLAT, FLAT]);
        let r = simulate(&cfg(FillPolicy::NextOpen), &b, sig(&[0], &[0], &[], &[]));
        assert!(r.trades.is_empty());
    }

    #[test]
    fn a_position_open_at_the_end_closes_at_the_last_close_and_counts_for_exposure() {
        let b = bars(&[FLAT, FLAT, (100.0, 121.0, 99.0, 120.0)]);
        let r = simulate(&cfg(FillPolicy::NextOpen), &b, sig(&[0], &[], &[], &[]));
        let t = &r.trades[0];
        assert_eq!((t.exit_reason, t.exit_price, t.exit_bar), (ExitReason::EndOfData, 120.0, 2));
        assert_eq!(r.bars_in_position, 2);
        assert!((r.equity[2] - 1200.0).abs() < 1e-9);
    }
}
