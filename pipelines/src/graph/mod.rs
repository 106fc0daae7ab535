//! Strategy graphs: the stored JSON model, block definitions and the validator.

mod blocks;
mod model;
mod validate;

pub use model::{Block, CompareOp, Edge, Graph, LogicOp, MathOp, Node, Param, PriceField, Side, ValidGraph, ValueKind};
pub use validate::{validate, validate_graph, Issue, MAX_EDGES, MAX_NODES};
