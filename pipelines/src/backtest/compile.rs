//! Graph → DataFusion plan: every combination's blocks become one shared DAG of expressions
//! (indicators and shifts as window functions computed once per distinct parameter set,
//! compare/logic/math as scalar expressions, crossovers via `lag`), ending in four signal
//! columns per combination.

use std::collections::{BTreeMap, HashMap};

use datafusion::common::{Result, ScalarValue};
use datafusion::functions_window::expr_fn::lag;
use datafusion::logical_expr::{case, col, lit, Expr, ExprFunctionExt};
use datafusion::prelude::DataFrame;

use crate::graph::{Block, CompareOp, LogicOp, MathOp, Param, PriceField, Side, ValidGraph};

/// One node of the shared expression DAG (hash-consed across combinations).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum N {
    Field(PriceField),
    Const(u64),
    Ind { name: &'static str, params: Vec<u64>, source: Option<usize> },
    Lag { src: usize, bars: u32 },
    Math2 { op: MathOp, a: usize, b: usize },
    Math1 { op: MathOp, a: usize },
    Cmp { op: CompareOp, a: usize, b: usize },
    Cross { above: bool, a: usize, b: usize, la: usize, lb: usize },
    And(usize, usize),
    Or(usize, usize),
    Not(usize),
}

/// The per-combination outcome of compilation.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledCombo {
    /// Parameter values of this combination (all `$param`s, defaults filled in).
    pub values: BTreeMap<String, f64>,
    /// Index into [`Compiled::signals`] of entry long, entry short, exit long, exit short (None: never).
    pub signals: [Option<usize>; 4],
    pub risk: super::sim::Risk,
}

/// A compiled strategy: the DAG and, per combination, which signal columns drive it.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(super) nodes: Vec<N>,
    /// DAG node of each distinct signal column fed to the simulator.
    pub signals: Vec<usize>,
    pub combos: Vec<CompiledCombo>,
}

#[derive(Default)]
struct Dag {
    nodes: Vec<N>,
    index: HashMap<N, usize>,
}

impl Dag {
    fn add(&mut self, n: N) -> usize {
        if let Some(&i) = self.index.get(&n) {
            return i;
        }
        self.nodes.push(n.clone());
        self.index.insert(n, self.nodes.len() - 1);
        self.nodes.len() - 1
    }
}

/// A `$param` value a combination sets that the block using it cannot take.
fn out_of_range(graph: &ValidGraph, node: usize, what: &str, value: f64, rule: &str, combo: &BTreeMap<String, f64>) -> crate::Error {
    crate::Error::Invalid(format!(
        "combination {}: node '{}' cannot take {what} = {value} ({rule})",
        serde_json::to_string(combo).unwrap_or_default(),
        graph.ids[node]
    ))
}

/// Compiles `graph` for each combination of `$param` values (one empty map for a plain backtest).
/// A combination whose values break a block's rules (a period TA-Lib refuses, a negative stop,
/// ...) is an error naming the combination, the node and the value.
pub fn compile(graph: &ValidGraph, combos: &[super::params::Combo]) -> crate::Result<Compiled> {
    let mut dag = Dag::default();
    let mut signals: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for values in combos {
        let mut values = values.to_map();
        for (name, default) in &graph.params {
            values.entry(name.clone()).or_insert(*default);
        }
        let r = |p: &Param| p.resolve(&values);
        let mut id = vec![usize::MAX; graph.blocks.len()];
        let mut wanted: [Vec<usize>; 4] = Default::default();
        let mut risk = super::sim::Risk::default();
        for &i in &graph.order {
            let input = |port: &str| id[graph.inputs[i][port]];
            id[i] = match &graph.blocks[i] {
                Block::Price(f) => dag.add(N::Field(*f)),
                Block::Constant(p) => dag.add(N::Const(r(p).to_bits())),
                Block::Indicator { name, params } => {
                    let source = graph.inputs[i].get("source").map(|&s| id[s]);
                    let vals: Vec<f64> = params.iter().map(r).collect();
                    if let Err(e) = query::indicators::build(name, &vals) {
                        return Err(crate::Error::Invalid(format!(
                            "combination {}: node '{}': {e}",
                            serde_json::to_string(&values).unwrap_or_default(),
                            graph.ids[i]
                        )));
                    }
                    dag.add(N::Ind { name, params: vals.iter().map(|v| v.to_bits()).collect(), source })
                }
                Block::Math { op: MathOp::Shift, bars } => {
                    let b = bars.as_ref().map_or(1.0, r);
                    if !(1.0..=100_000.0).contains(&b) || b.fract() != 0.0 {
                        return Err(out_of_range(graph, i, "bars", b, "a whole number from 1 to 100000", &values));
                    }
                    dag.add(N::Lag { src: input("source"), bars: b as u32 })
                }
                Block::Math { op: op @ (MathOp::Abs | MathOp::Neg), .. } => dag.add(N::Math1 { op: *op, a: input("source") }),
                Block::Math { op, .. } => dag.add(N::Math2 { op: *op, a: input("left"), b: input("right") }),
                Block::Compare(op @ (CompareOp::CrossesAbove | CompareOp::CrossesBelow)) => {
                    let (a, b) = (input("left"), input("right"));
                    let la = dag.add(N::Lag { src: a, bars: 1 });
                    let lb = dag.add(N::Lag { src: b, bars: 1 });
                    dag.add(N::Cross { above: *op == CompareOp::CrossesAbove, a, b, la, lb })
                }
                Block::Compare(op) => dag.add(N::Cmp { op: *op, a: input("left"), b: input("right") }),
                Block::Logic(LogicOp::Not) => dag.add(N::Not(input("source"))),
                Block::Logic(LogicOp::And) => dag.add(N::And(input("left"), input("right"))),
                Block::Logic(LogicOp::Or) => dag.add(N::Or(input("left"), input("right"))),
                Block::Entry(side) | Block::Exit(side) => {
                    let slot = match (&graph.blocks[i], side) {
                        (Block::Entry(_), Side::Long) => 0,
                        (Block::Entry(_), Side::Short) => 1,
                        (_, Side::Long) => 2,
                        (_, Side::Short) => 3,
                    };
                    wanted[slot].push(input("when"));
                    usize::MAX
                }
                Block::Risk { stop_loss_pct, take_profit_pct, trailing_stop_pct } => {
                    risk.stop_loss_pct = stop_loss_pct.as_ref().map(r);
                    risk.take_profit_pct = take_profit_pct.as_ref().map(r);
                    risk.trailing_stop_pct = trailing_stop_pct.as_ref().map(r);
                    for (what, v) in [("stop_loss_pct", risk.stop_loss_pct), ("take_profit_pct", risk.take_profit_pct), ("trailing_stop_pct", risk.trailing_stop_pct)] {
                        if let Some(v) = v.filter(|v| !(v.is_finite() && *v > 0.0)) {
                            return Err(out_of_range(graph, i, what, v, "a percentage > 0", &values));
                        }
                    }
                    usize::MAX
                }
                Block::Sizing { fraction: f } => {
                    risk.fraction = r(f);
                    if !(risk.fraction > 0.0 && risk.fraction <= 1.0) {
                        return Err(out_of_range(graph, i, "fraction", risk.fraction, "0 < fraction <= 1", &values));
                    }
                    usize::MAX
                }
            };
        }
        // several entry (exit) blocks of one side act as one: any of them
        let signal_of = |ids: &Vec<usize>, dag: &mut Dag, signals: &mut Vec<usize>| {
            let node = ids.iter().copied().reduce(|a, b| dag.add(N::Or(a, b)))?;
            Some(signals.iter().position(|&s| s == node).unwrap_or_else(|| {
                signals.push(node);
                signals.len() - 1
            }))
        };
        let sig = [0, 1, 2, 3].map(|k| signal_of(&wanted[k], &mut dag, &mut signals));
        out.push(CompiledCombo { values, signals: sig, risk });
    }
    Ok(Compiled { nodes: dag.nodes, signals, combos: out })
}

fn order_by_time() -> Vec<datafusion::logical_expr::SortExpr> {
    vec![col("open_time").sort(true, false)]
}

impl Compiled {
    fn is_window(&self, i: usize) -> bool {
        matches!(self.nodes[i], N::Ind { .. } | N::Lag { .. })
    }

    pub(super) fn inputs(&self, i: usize) -> Vec<usize> {
        match &self.nodes[i] {
            N::Field(_) | N::Const(_) => vec![],
            N::Ind { source, .. } => source.iter().copied().collect(),
            N::Lag { src, .. } => vec![*src],
            N::Math1 { a, .. } | N::Not(a) => vec![*a],
            N::Math2 { a, b, .. } | N::Cmp { a, b, .. } | N::And(a, b) | N::Or(a, b) => vec![*a, *b],
            N::Cross { a, b, la, lb, .. } => vec![*a, *b, *la, *lb],
        }
    }

    /// The expression of node `i`: window nodes are read from their column, scalar nodes inlined.
    fn expr(&self, i: usize) -> Expr {
        let e = |j: usize| self.expr(j);
        let null_if_any_null = |args: &[usize], then: Expr| {
            let any_null = args.iter().map(|&j| e(j).is_null()).reduce(Expr::or).expect("args");
            case(any_null).when(lit(true), lit(ScalarValue::Null)).otherwise(then).expect("valid case")
        };
        match &self.nodes[i] {
            _ if self.is_window(i) => col(format!("n{i}")),
            N::Field(f) => match f {
                PriceField::Open => col("open"),
                PriceField::High => col("high"),
                PriceField::Low => col("low"),
                PriceField::Close => col("close"),
                PriceField::Volume => col("volume"),
                PriceField::Hl2 => (col("high") + col("low")) / lit(2.0),
                PriceField::Hlc3 => (col("high") + col("low") + col("close")) / lit(3.0),
                PriceField::Ohlc4 => (col("open") + col("high") + col("low") + col("close")) / lit(4.0),
            },
            N::Const(bits) => lit(f64::from_bits(*bits)),
            N::Math1 { op: MathOp::Abs, a } => datafusion::functions::math::expr_fn::abs(e(*a)),
            N::Math1 { a, .. } => Expr::Negative(Box::new(e(*a))),
            N::Math2 { op, a, b } => match op {
                MathOp::Add => e(*a) + e(*b),
                MathOp::Sub => e(*a) - e(*b),
                MathOp::Mul => e(*a) * e(*b),
                // division by zero gives NULL
                MathOp::Div => case(e(*b).eq(lit(0.0))).when(lit(true), lit(ScalarValue::Float64(None))).otherwise(e(*a) / e(*b)).expect("case"),
                MathOp::Min => null_if_any_null(&[*a, *b], case(e(*a).lt_eq(e(*b))).when(lit(true), e(*a)).otherwise(e(*b)).expect("case")),
                MathOp::Max => null_if_any_null(&[*a, *b], case(e(*a).gt_eq(e(*b))).when(lit(true), e(*a)).otherwise(e(*b)).expect("case")),
                _ => unreachable!("unary ops are Math1"),
            },
            N::Cmp { op, a, b } => match op {
                CompareOp::Gt => e(*a).gt(e(*b)),
                CompareOp::Ge => e(*a).gt_eq(e(*b)),
                CompareOp::Lt => e(*a).lt(e(*b)),
                CompareOp::Le => e(*a).lt_eq(e(*b)),
                _ => unreachable!("crossovers are Cross"),
            },
            N::Cross { above, a, b, la, lb } => {
                let f = datafusion::logical_expr::ScalarUDF::from(query::functions::CrossesFunc::new(*above));
                let num = |j: usize| datafusion::logical_expr::cast(e(j), arrow::datatypes::DataType::Float64);
                f.call(vec![num(*a), num(*b), num(*la), num(*lb)])
            }
            N::And(a, b) => e(*a).and(e(*b)),
            N::Or(a, b) => e(*a).or(e(*b)),
            N::Not(a) => Expr::Not(Box::new(e(*a))),
            N::Ind { .. } | N::Lag { .. } => unreachable!("window nodes are columns"),
        }
    }

    /// The input of window node `i` as a column: a bare column, or `in{i}` projected beforehand
    /// (DataFusion's projection pruning loses columns used only inside window arguments).
    fn window_input(&self, i: usize) -> Option<(String, Expr)> {
        let src = match &self.nodes[i] {
            N::Lag { src, .. } => *src,
            N::Ind { source: Some(s), .. } => *s,
            _ => return None,
        };
        match self.expr(src) {
            Expr::Column(_) => None,
            e => Some((format!("in{i}"), e)),
        }
    }

    /// The expression a window node reads: its pre-projected input column when it has one.
    fn window_arg(&self, i: usize, src: usize) -> Expr {
        match self.window_input(i) {
            Some((name, _)) => col(name),
            None => self.expr(src),
        }
    }

    /// The window expression computing window node `i`.
    fn window_expr(&self, i: usize) -> Result<Expr> {
        let w = match &self.nodes[i] {
            N::Lag { src, bars } => lag(self.window_arg(i, *src), Some(*bars as i64), None),
            N::Ind { name, params, source } => {
                let spec = query::indicators::spec(name).expect("validated indicator");
                let mut args: Vec<Expr> = spec
                    .inputs
                    .iter()
                    .map(|inp| match (*inp, source) {
                        ("source", Some(s)) => self.window_arg(i, *s),
                        (other, _) => col(other),
                    })
                    .collect();
                args.extend(params.iter().map(|b| lit(f64::from_bits(*b))));
                let udwf = datafusion::logical_expr::WindowUDF::from(query::functions::IndicatorFunc::new(spec));
                udwf.call(args)
            }
            _ => unreachable!("not a window node"),
        };
        Ok(w.order_by(order_by_time()).build()?.alias(format!("n{i}")))
    }

    /// Adds the window columns layer by layer (a window node's input may use earlier layers) and
    /// returns the frame plus the signal expressions (possibly NULL).
    pub fn apply(&self, mut df: DataFrame) -> Result<(DataFrame, Vec<Expr>)> {
        let mut layer = vec![0usize; self.nodes.len()];
        for i in 0..self.nodes.len() {
            // inputs always precede their users in the DAG
            let below = self.inputs(i).iter().map(|&j| layer[j]).max().unwrap_or(0);
            layer[i] = below + usize::from(self.is_window(i));
        }
        let top = layer.iter().copied().max().unwrap_or(0);
        for l in 1..=top {
            let inputs: Vec<Expr> = (0..self.nodes.len())
                .filter(|&i| self.is_window(i) && layer[i] == l)
                .filter_map(|i| self.window_input(i).map(|(name, e)| e.alias(name)))
                .collect();
            if !inputs.is_empty() {
                let mut keep: Vec<Expr> = df.schema().columns().into_iter().map(Expr::Column).collect();
                keep.extend(inputs);
                df = df.select(keep)?;
            }
            let exprs = (0..self.nodes.len())
                .filter(|&i| self.is_window(i) && layer[i] == l)
                .map(|i| self.window_expr(i))
                .collect::<Result<Vec<_>>>()?;
            if !exprs.is_empty() {
                df = df.window(exprs)?;
            }
        }
        // NULL signals count as false in backtest_run itself
        let signals = self.signals.iter().map(|&s| self.expr(s)).collect();
        Ok((df, signals))
    }
}
