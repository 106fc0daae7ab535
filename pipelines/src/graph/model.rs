//! The strategy graph as stored (JSON, spec/strategy-graph.md) and its validated, typed form.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A strategy graph as the canvas sends it. Keys the engine does not know (positions, labels,
/// colours) are kept in `extra` and written back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub version: u32,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One block on the canvas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A wire: the output of `from` into input `port` of `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub port: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What flows on a wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// One f64 per bar (NULL during warm-up).
    Series,
    /// One boolean per bar (possibly NULL).
    Signal,
}

/// A numeric parameter: a literal or a named `$param` with its default.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Lit(f64),
    Named { name: String, default: f64 },
}

impl Param {
    /// The value with `values` applied to named parameters (defaults for the rest).
    pub fn resolve(&self, values: &BTreeMap<String, f64>) -> f64 {
        match self {
            Param::Lit(v) => *v,
            Param::Named { name, default } => values.get(name).copied().unwrap_or(*default),
        }
    }
}

/// Price fields a `price` block can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceField {
    Open,
    High,
    Low,
    Close,
    Volume,
    Hl2,
    Hlc3,
    Ohlc4,
}

/// Binary and unary series operations of a `math` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Min,
    Max,
    Abs,
    Neg,
    Shift,
}

/// Comparisons of a `compare` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Gt,
    Ge,
    Lt,
    Le,
    CrossesAbove,
    CrossesBelow,
}

/// Operations of a `logic` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogicOp {
    And,
    Or,
    Not,
}

/// Long or short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Long,
    Short,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Long => "long",
            Side::Short => "short",
        }
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "long" => Some(Side::Long),
            "short" => Some(Side::Short),
            _ => None,
        }
    }
}

/// A validated block with its parameters typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Price(PriceField),
    Constant(Param),
    /// An indicator by its spec name, parameters in the spec's order (defaults filled in).
    Indicator { name: &'static str, params: Vec<Param> },
    Math { op: MathOp, bars: Option<Param> },
    Compare(CompareOp),
    Logic(LogicOp),
    Entry(Side),
    Exit(Side),
    Risk { stop_loss_pct: Option<Param>, take_profit_pct: Option<Param>, trailing_stop_pct: Option<Param> },
    Sizing { fraction: Param },
}

/// A graph that passed validation: blocks typed, inputs resolved to node indexes, in an order in
/// which every node comes after its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGraph {
    /// Node ids, by index.
    pub ids: Vec<String>,
    pub blocks: Vec<Block>,
    /// For each node, its inputs by port name → the index of the node feeding it.
    pub inputs: Vec<BTreeMap<String, usize>>,
    /// Node indexes in dependency order.
    pub order: Vec<usize>,
    /// Every `$param` name with its default, in the order of first appearance.
    pub params: Vec<(String, f64)>,
}
