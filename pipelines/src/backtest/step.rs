//! A compiled strategy evaluated one bar at a time: what a paper-trading run advances on every
//! new candle. The nodes are those of the backtest plan ([`super::compile`]), the indicators the
//! same state machines its window functions run ([`query::indicators::Indicator::update`]), the
//! fills the same [`Simulator`]; each node's value follows the plan's SQL semantics (NULL rules,
//! Arrow's total order for comparisons), so a run fed bar by bar trades exactly as the backtest of
//! the same span.

use std::collections::{BTreeMap, VecDeque};

use query::indicators::Indicator;
use serde::{Deserialize, Serialize};

use super::compile::{compile, Compiled, N};
use super::params::Combo;
use super::sim::{Bar, BarSignals, SimConfig, Simulator};
use crate::graph::{CompareOp, MathOp, PriceField, ValidGraph};

/// One candle as the stepper reads it (`open_time` in epoch ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Candle {
    fn bar(&self) -> Bar {
        Bar { open_time: self.open_time, open: self.open, high: self.high, low: self.low, close: self.close }
    }

    fn field(&self, name: &str) -> f64 {
        match name {
            "open" => self.open,
            "high" => self.high,
            "low" => self.low,
            "volume" => self.volume,
            _ => self.close,
        }
    }
}

/// Per-node state carried from bar to bar.
#[derive(Debug)]
enum NodeState {
    Stateless,
    /// An indicator's state machine and its input buffer.
    Indicator(Box<dyn Indicator>, Vec<f64>),
    /// The last `bars` values of the lagged series, oldest first.
    Lag(VecDeque<Option<f64>>),
}

/// A strategy (one parameter combination) stepping through bars: indicator and lag state, the
/// value of every node on the current bar, and the simulator.
#[derive(Debug)]
pub struct Stepper {
    compiled: Compiled,
    states: Vec<NodeState>,
    /// Each node's value on the last bar; booleans as 1.0 / 0.0, NULL as None.
    values: Vec<Option<f64>>,
    /// DAG node of entry long, entry short, exit long, exit short.
    signals: [Option<usize>; 4],
    sim: Simulator,
    /// Bars fed through the nodes (warm-up included).
    bars_seen: u64,
    /// Bars fed to the simulator (the index the next one gets).
    bars_traded: usize,
}

fn ord(a: f64, b: f64) -> std::cmp::Ordering {
    a.total_cmp(&b)
}

fn bool_val(b: bool) -> Option<f64> {
    Some(if b { 1.0 } else { 0.0 })
}

impl Stepper {
    /// The strategy `graph` with `$param` values `values` (missing ones take their defaults),
    /// trading with `config` (its `risk` is replaced by the graph's risk and sizing blocks).
    /// Errors name the node and value a combination cannot take, as a backtest's do.
    pub fn new(graph: &ValidGraph, values: &BTreeMap<String, f64>, mut config: SimConfig) -> crate::Result<Self> {
        let combo = Combo(values.iter().map(|(k, v)| (k.clone(), *v)).collect());
        let compiled = compile(graph, &[combo])?;
        let c = &compiled.combos[0];
        config.risk = c.risk;
        let signals = c.signals.map(|s| s.map(|k| compiled.signals[k]));
        let states = compiled
            .nodes
            .iter()
            .map(|n| match n {
                N::Ind { name, params, .. } => {
                    let vals: Vec<f64> = params.iter().map(|b| f64::from_bits(*b)).collect();
                    let ind = query::indicators::build(name, &vals).map_err(crate::Error::Invalid)?;
                    let width = query::indicators::spec(name).map_or(1, |s| s.inputs.len());
                    Ok(NodeState::Indicator(ind, vec![0.0; width]))
                }
                N::Lag { bars, .. } => Ok(NodeState::Lag(VecDeque::with_capacity(*bars as usize + 1))),
                _ => Ok(NodeState::Stateless),
            })
            .collect::<crate::Result<Vec<_>>>()?;
        let n = compiled.nodes.len();
        Ok(Stepper { compiled, states, values: vec![None; n], signals, sim: Simulator::new(config).log_fills(), bars_seen: 0, bars_traded: 0 })
    }

    /// Evaluates every node on `c` (inputs precede their users in the DAG).
    fn evaluate(&mut self, c: &Candle) {
        for i in 0..self.compiled.nodes.len() {
            let v = |j: usize| self.values[j];
            let value = match &self.compiled.nodes[i] {
                N::Field(f) => Some(match f {
                    PriceField::Open => c.open,
                    PriceField::High => c.high,
                    PriceField::Low => c.low,
                    PriceField::Close => c.close,
                    PriceField::Volume => c.volume,
                    PriceField::Hl2 => (c.high + c.low) / 2.0,
                    PriceField::Hlc3 => (c.high + c.low + c.close) / 3.0,
                    PriceField::Ohlc4 => (c.open + c.high + c.low + c.close) / 4.0,
                }),
                N::Const(bits) => Some(f64::from_bits(*bits)),
                N::Ind { name, source, .. } => {
                    let spec = query::indicators::spec(name).expect("validated indicator");
                    let source = source.map(|s| self.values[s]);
                    let NodeState::Indicator(ind, row) = &mut self.states[i] else { unreachable!("indicator state") };
                    let mut complete = true;
                    for (slot, input) in row.iter_mut().zip(spec.inputs) {
                        match (*input, source) {
                            ("source", Some(s)) => match s {
                                Some(x) => *slot = x,
                                None => complete = false,
                            },
                            (other, _) => *slot = c.field(other),
                        }
                    }
                    // a NULL input gives NULL and leaves the state alone (the window function's rule)
                    if complete { ind.update(row) } else { None }
                }
                N::Lag { src, bars } => {
                    let x = self.values[*src];
                    let NodeState::Lag(window) = &mut self.states[i] else { unreachable!("lag state") };
                    let out = if window.len() == *bars as usize { window.front().copied().flatten() } else { None };
                    window.push_back(x);
                    if window.len() > *bars as usize {
                        window.pop_front();
                    }
                    out
                }
                N::Math1 { op, a } => v(*a).map(|x| if *op == MathOp::Abs { x.abs() } else { -x }),
                N::Math2 { op, a, b } => match (v(*a), v(*b)) {
                    (Some(x), Some(y)) => match op {
                        MathOp::Add => Some(x + y),
                        MathOp::Sub => Some(x - y),
                        MathOp::Mul => Some(x * y),
                        // the plan's `CASE WHEN b = 0 THEN NULL`: Arrow equality is total order (-0.0 ≠ 0.0)
                        MathOp::Div => (ord(y, 0.0) != std::cmp::Ordering::Equal).then(|| x / y),
                        MathOp::Min => Some(if ord(x, y).is_le() { x } else { y }),
                        MathOp::Max => Some(if ord(x, y).is_ge() { x } else { y }),
                        _ => unreachable!("unary ops are Math1"),
                    },
                    _ => None,
                },
                N::Cmp { op, a, b } => match (v(*a), v(*b)) {
                    (Some(x), Some(y)) => bool_val(match op {
                        CompareOp::Gt => ord(x, y).is_gt(),
                        CompareOp::Ge => ord(x, y).is_ge(),
                        CompareOp::Lt => ord(x, y).is_lt(),
                        CompareOp::Le => ord(x, y).is_le(),
                        _ => unreachable!("crossovers are Cross"),
                    }),
                    _ => None,
                },
                N::Cross { above, a, b, la, lb } => match (v(*a), v(*b), v(*la), v(*lb)) {
                    // crosses_above / crosses_below compare as IEEE floats
                    (Some(x), Some(y), Some(px), Some(py)) => bool_val(if *above { x > y && px <= py } else { x < y && px >= py }),
                    _ => None,
                },
                // SQL's three-valued logic
                N::And(a, b) => match (v(*a), v(*b)) {
                    (Some(x), _) | (_, Some(x)) if x == 0.0 => bool_val(false),
                    (Some(_), Some(_)) => bool_val(true),
                    _ => None,
                },
                N::Or(a, b) => match (v(*a), v(*b)) {
                    (Some(x), _) | (_, Some(x)) if x != 0.0 => bool_val(true),
                    (Some(_), Some(_)) => bool_val(false),
                    _ => None,
                },
                N::Not(a) => v(*a).map(|x| if x != 0.0 { 0.0 } else { 1.0 }),
            };
            self.values[i] = value;
        }
        self.bars_seen += 1;
    }

    fn bar_signals(&self) -> BarSignals {
        // NULL counts as false
        let s = |k: usize| self.signals[k].and_then(|n| self.values[n]).is_some_and(|x| x != 0.0);
        BarSignals { entry_long: s(0), entry_short: s(1), exit_long: s(2), exit_short: s(3) }
    }

    /// Feeds `c` through the nodes only: indicators warm up, nothing trades.
    pub fn warm(&mut self, c: &Candle) {
        self.evaluate(c);
    }

    /// Feeds `c` and trades it; returns the equity after it (position marked at its close).
    pub fn step(&mut self, c: &Candle) -> f64 {
        self.evaluate(c);
        let i = self.bars_traded;
        self.bars_traded += 1;
        self.sim.step(i, &c.bar(), self.bar_signals(), false)
    }

    /// Feeds `c` as the last bar of the data, as a backtest ends: no new order on it, and a
    /// position still open closes at its close (`end_of_data`). Returns the final equity.
    pub fn step_last(&mut self, c: &Candle) -> f64 {
        self.evaluate(c);
        let i = self.bars_traded;
        self.bars_traded += 1;
        self.sim.step(i, &c.bar(), self.bar_signals(), true);
        self.sim.finish(i, &c.bar())
    }

    /// Ends the run after the bar `last` already fed: a position still open closes at its close
    /// (`end_of_data`) and a pending order is dropped. Returns the final equity (cash).
    pub fn finish(&mut self, last: &Candle) -> f64 {
        let i = self.bars_traded.saturating_sub(1);
        self.sim.finish(i, &last.bar())
    }

    pub fn sim(&self) -> &Simulator {
        &self.sim
    }

    pub fn sim_mut(&mut self) -> &mut Simulator {
        &mut self.sim
    }

    /// Replaces the simulator (a run's stored state) after the nodes were rebuilt from history.
    pub fn restore(&mut self, sim: Simulator, bars_traded: usize) {
        self.sim = sim;
        self.bars_traded = bars_traded;
    }

    /// Bars fed through the nodes so far (warm-up included).
    pub fn bars_seen(&self) -> u64 {
        self.bars_seen
    }

    /// Bars traded so far.
    pub fn bars_traded(&self) -> usize {
        self.bars_traded
    }
}
