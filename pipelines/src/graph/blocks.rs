//! Block types: parsing each block's parameters, its input ports and its output kind.

use serde_json::{Map, Value};

use super::model::{Block, CompareOp, LogicOp, MathOp, Param, PriceField, Side, ValueKind};
use super::validate::Issue;

/// A parameter's accepted values.
struct Range {
    min: f64,
    max: f64,
    min_exclusive: bool,
    integer: bool,
}

const ANY: Range = Range { min: f64::MIN, max: f64::MAX, min_exclusive: false, integer: false };
const PCT: Range = Range { min: 0.0, max: f64::MAX, min_exclusive: true, integer: false };
const FRACTION: Range = Range { min: 0.0, max: 1.0, min_exclusive: true, integer: false };
const BARS: Range = Range { min: 1.0, max: 100_000.0, min_exclusive: false, integer: true };

fn is_param_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase()) && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Range {
    fn check(&self, v: f64) -> Result<(), String> {
        let low_ok = if self.min_exclusive { v > self.min } else { v >= self.min };
        if !v.is_finite() || !low_ok || v > self.max {
            let low = if self.min_exclusive { format!("> {}", self.min) } else { format!(">= {}", self.min) };
            return Err(format!("{v} is out of range (must be {low}{})", if self.max < f64::MAX { format!(" and <= {}", self.max) } else { String::new() }));
        }
        if self.integer && v.fract() != 0.0 {
            return Err(format!("{v} must be a whole number"));
        }
        Ok(())
    }
}

/// Parses `params[key]` as a number or `$param`, checking its range (for a `$param`, its default).
fn param(id: &str, params: &Map<String, Value>, key: &str, range: &Range, issues: &mut Vec<Issue>, names: &mut Vec<(String, f64)>) -> Option<Param> {
    let bad = |issues: &mut Vec<Issue>, msg: String| {
        issues.push(Issue::node(id, "param_invalid", format!("parameter '{key}': {msg}")));
        None
    };
    let value = params.get(key)?;
    match value {
        Value::Number(n) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            match range.check(v) {
                Ok(()) => Some(Param::Lit(v)),
                Err(m) => bad(issues, m),
            }
        }
        Value::Object(o) if o.contains_key("$param") => {
            let Some(name) = o.get("$param").and_then(Value::as_str).filter(|n| is_param_name(n)) else {
                return bad(issues, "a $param name is [a-z][a-z0-9_]*".into());
            };
            let Some(default) = o.get("default").and_then(Value::as_f64) else {
                issues.push(Issue::node(id, "param_without_default", format!("parameter '{key}': $param '{name}' needs a numeric \"default\"")));
                return None;
            };
            if let Err(m) = range.check(default) {
                return bad(issues, format!("default of $param '{name}': {m}"));
            }
            match names.iter().find(|(n, _)| n == name) {
                Some((_, d)) if *d != default => {
                    return bad(issues, format!("$param '{name}' has default {default} here but {d} elsewhere"));
                }
                Some(_) => {}
                None => names.push((name.to_string(), default)),
            }
            Some(Param::Named { name: name.to_string(), default })
        }
        other => bad(issues, format!("expected a number or {{\"$param\": NAME, \"default\": VALUE}}, got {other}")),
    }
}

/// A required parameter: missing is an issue.
fn required(id: &str, params: &Map<String, Value>, key: &str, range: &Range, issues: &mut Vec<Issue>, names: &mut Vec<(String, f64)>) -> Option<Param> {
    if !params.contains_key(key) {
        issues.push(Issue::node(id, "param_missing", format!("parameter '{key}' is required")));
        return None;
    }
    param(id, params, key, range, issues, names)
}

/// A required string parameter from a fixed set.
fn choice<T: Copy>(id: &str, params: &Map<String, Value>, key: &str, options: &[(&str, T)], issues: &mut Vec<Issue>) -> Option<T> {
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    match params.get(key) {
        None => {
            issues.push(Issue::node(id, "param_missing", format!("parameter '{key}' is required (one of {})", names.join(", "))));
            None
        }
        Some(v) => match options.iter().find(|(n, _)| Some(*n) == v.as_str()) {
            Some((_, t)) => Some(*t),
            None => {
                issues.push(Issue::node(id, "param_invalid", format!("parameter '{key}' is {v}; expected one of {}", names.join(", "))));
                None
            }
        },
    }
}

const SIDES: &[(&str, Side)] = &[("long", Side::Long), ("short", Side::Short)];

/// Parses one node's block; problems go to `issues` (and `None` is returned when the block is unusable).
pub(crate) fn parse_block(id: &str, kind: &str, p: &Map<String, Value>, issues: &mut Vec<Issue>, names: &mut Vec<(String, f64)>) -> Option<Block> {
    let before = issues.len();
    let block = match kind {
        "price" => Block::Price(choice(
            id,
            p,
            "field",
            &[
                ("open", PriceField::Open),
                ("high", PriceField::High),
                ("low", PriceField::Low),
                ("close", PriceField::Close),
                ("volume", PriceField::Volume),
                ("hl2", PriceField::Hl2),
                ("hlc3", PriceField::Hlc3),
                ("ohlc4", PriceField::Ohlc4),
            ],
            issues,
        )?),
        "constant" => Block::Constant(required(id, p, "value", &ANY, issues, names)?),
        "indicator" => {
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                issues.push(Issue::node(id, "param_missing", "parameter 'name' (the indicator) is required"));
                return None;
            };
            let Some(spec) = query::indicators::spec(name) else {
                let known: Vec<&str> = query::indicators::specs().iter().map(|s| s.name).collect();
                issues.push(Issue::node(id, "unknown_indicator", format!("unknown indicator '{name}' (known: {})", known.join(", "))));
                return None;
            };
            let mut params = Vec::new();
            for ps in spec.params {
                let range = Range { min: ps.min, max: ps.max, min_exclusive: false, integer: ps.integer };
                params.push(param(id, p, ps.name, &range, issues, names).unwrap_or(Param::Lit(ps.default)));
            }
            Block::Indicator { name: spec.name, params }
        }
        "math" => {
            let op = choice(
                id,
                p,
                "op",
                &[
                    ("add", MathOp::Add),
                    ("sub", MathOp::Sub),
                    ("mul", MathOp::Mul),
                    ("div", MathOp::Div),
                    ("min", MathOp::Min),
                    ("max", MathOp::Max),
                    ("abs", MathOp::Abs),
                    ("neg", MathOp::Neg),
                    ("shift", MathOp::Shift),
                ],
                issues,
            )?;
            let bars = if op == MathOp::Shift { Some(required(id, p, "bars", &BARS, issues, names)?) } else { None };
            Block::Math { op, bars }
        }
        "compare" => Block::Compare(choice(
            id,
            p,
            "op",
            &[
                ("gt", CompareOp::Gt),
                ("ge", CompareOp::Ge),
                ("lt", CompareOp::Lt),
                ("le", CompareOp::Le),
                ("crosses_above", CompareOp::CrossesAbove),
                ("crosses_below", CompareOp::CrossesBelow),
            ],
            issues,
        )?),
        "logic" => Block::Logic(choice(id, p, "op", &[("and", LogicOp::And), ("or", LogicOp::Or), ("not", LogicOp::Not)], issues)?),
        "entry" => Block::Entry(choice(id, p, "side", SIDES, issues)?),
        "exit" => Block::Exit(choice(id, p, "side", SIDES, issues)?),
        "risk" => Block::Risk {
            stop_loss_pct: param(id, p, "stop_loss_pct", &PCT, issues, names),
            take_profit_pct: param(id, p, "take_profit_pct", &PCT, issues, names),
            trailing_stop_pct: param(id, p, "trailing_stop_pct", &PCT, issues, names),
        },
        "sizing" => Block::Sizing { fraction: param(id, p, "fraction", &FRACTION, issues, names).unwrap_or(Param::Lit(1.0)) },
        other => {
            issues.push(Issue::node(
                id,
                "unknown_block_type",
                format!("unknown block type '{other}' (known: price, constant, indicator, math, compare, logic, entry, exit, risk, sizing)"),
            ));
            return None;
        }
    };
    (issues.len() == before).then_some(block)
}

/// The input ports of a block and the kind each accepts.
pub(crate) fn ports(block: &Block) -> &'static [(&'static str, ValueKind)] {
    use ValueKind::{Series, Signal};
    match block {
        Block::Price(_) | Block::Constant(_) | Block::Risk { .. } | Block::Sizing { .. } => &[],
        Block::Indicator { name, .. } => {
            let takes_source = query::indicators::spec(name).is_some_and(|s| s.inputs.first() == Some(&"source"));
            if takes_source { &[("source", Series)] } else { &[] }
        }
        Block::Math { op: MathOp::Abs | MathOp::Neg | MathOp::Shift, .. } => &[("source", Series)],
        Block::Math { .. } | Block::Compare(_) => &[("left", Series), ("right", Series)],
        Block::Logic(LogicOp::Not) => &[("source", Signal)],
        Block::Logic(_) => &[("left", Signal), ("right", Signal)],
        Block::Entry(_) | Block::Exit(_) => &[("when", Signal)],
    }
}

/// The kind of a block's output, `None` for blocks that act rather than compute.
pub(crate) fn output_kind(block: &Block) -> Option<ValueKind> {
    match block {
        Block::Price(_) | Block::Constant(_) | Block::Indicator { .. } | Block::Math { .. } => Some(ValueKind::Series),
        Block::Compare(_) | Block::Logic(_) => Some(ValueKind::Signal),
        Block::Entry(_) | Block::Exit(_) | Block::Risk { .. } | Block::Sizing { .. } => None,
    }
}
