//! The graph validator: every problem of a graph in one answer, each naming its node or edge.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value};

use super::blocks::{parse_block, ports, output_kind};
use super::model::{Block, Graph, ValidGraph, ValueKind};

/// One problem found in a graph, as the canvas shows it on the block or wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The node the problem is on, if any.
    pub node: Option<String>,
    /// The index of the edge the problem is on, if any.
    pub edge: Option<usize>,
    /// A stable machine-readable code (e.g. `unknown_block_type`, `wrong_kind`, `cycle`).
    pub code: &'static str,
    pub message: String,
}

impl Issue {
    pub(crate) fn node(id: &str, code: &'static str, message: impl Into<String>) -> Self {
        Issue { node: Some(id.to_string()), edge: None, code, message: message.into() }
    }
    fn edge(i: usize, code: &'static str, message: impl Into<String>) -> Self {
        Issue { node: None, edge: Some(i), code, message: message.into() }
    }
    fn graph(code: &'static str, message: impl Into<String>) -> Self {
        Issue { node: None, edge: None, code, message: message.into() }
    }
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Most nodes (blocks) a graph may have.
pub const MAX_NODES: usize = 200;
/// Most edges (wires) a graph may have.
pub const MAX_EDGES: usize = 1000;

/// Validates a graph given as JSON. Returns the typed graph, or every issue found.
pub fn validate(json: &Value) -> Result<ValidGraph, Vec<Issue>> {
    let mut issues = Vec::new();
    let Some(obj) = json.as_object() else {
        return Err(vec![Issue::graph("malformed_graph", "a graph is a JSON object with version, nodes and edges")]);
    };
    match obj.get("version") {
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => issues.push(Issue::graph("unsupported_version", format!("graph version {v} is not supported (only 1)"))),
        None => issues.push(Issue::graph("malformed_graph", "missing \"version\" (1)")),
    }
    let empty = Vec::new();
    let nodes = match obj.get("nodes") {
        Some(Value::Array(a)) => a,
        _ => {
            issues.push(Issue::graph("malformed_graph", "\"nodes\" must be an array"));
            &empty
        }
    };
    let edges = match obj.get("edges") {
        Some(Value::Array(a)) => a,
        None => &empty,
        _ => {
            issues.push(Issue::graph("malformed_graph", "\"edges\" must be an array"));
            &empty
        }
    };

    // size: a graph the canvas can draw, and a plan DataFusion builds quickly
    if nodes.len() > MAX_NODES || edges.len() > MAX_EDGES {
        return Err(vec![Issue::graph(
            "graph_too_large",
            format!("the graph has {} nodes and {} edges; at most {MAX_NODES} nodes and {MAX_EDGES} edges", nodes.len(), edges.len()),
        )]);
    }

    // nodes: ids, types, parameters
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut ids: Vec<String> = Vec::new();
    let mut blocks: Vec<Option<Block>> = Vec::new();
    let mut params: Vec<(String, f64)> = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let Some(n) = n.as_object() else {
            issues.push(Issue::graph("malformed_node", format!("node {i} is not an object")));
            continue;
        };
        let id = match n.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                issues.push(Issue::graph("malformed_node", format!("node {i} has no string \"id\"")));
                continue;
            }
        };
        if !valid_id(&id) {
            issues.push(Issue::node(&id, "invalid_id", format!("id '{id}' must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -")));
        }
        if index.contains_key(&id) {
            issues.push(Issue::node(&id, "duplicate_id", format!("id '{id}' is used by more than one node")));
            continue;
        }
        let kind = n.get("type").and_then(Value::as_str);
        let node_params = match n.get("params") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                issues.push(Issue::node(&id, "malformed_node", "\"params\" must be an object"));
                Map::new()
            }
        };
        let block = match kind {
            None => {
                issues.push(Issue::node(&id, "malformed_node", "node has no string \"type\""));
                None
            }
            Some(kind) => parse_block(&id, kind, &node_params, &mut issues, &mut params),
        };
        index.insert(id.clone(), ids.len());
        ids.push(id);
        blocks.push(block);
    }
    // counted by declared type, so that a block with bad parameters still counts
    let count = |kind: &str| nodes.iter().filter(|n| n.get("type").and_then(Value::as_str) == Some(kind)).count();
    if count("risk") > 1 {
        issues.push(Issue::graph("duplicate_risk", "a graph has at most one risk block"));
    }
    if count("sizing") > 1 {
        issues.push(Issue::graph("duplicate_sizing", "a graph has at most one sizing block"));
    }
    if count("entry") == 0 {
        issues.push(Issue::graph("no_entry", "the graph needs at least one entry block"));
    }

    // edges: endpoints, ports, kinds, one edge per port
    let mut inputs: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new(); ids.len()];
    for (i, e) in edges.iter().enumerate() {
        let field = |k: &str| e.get(k).and_then(Value::as_str);
        let (Some(from), Some(to), Some(port)) = (field("from"), field("to"), field("port")) else {
            issues.push(Issue::edge(i, "malformed_edge", "an edge needs string \"from\", \"to\" and \"port\""));
            continue;
        };
        let (Some(&f), Some(&t)) = (index.get(from), index.get(to)) else {
            for (end, id) in [("from", from), ("to", to)] {
                if !index.contains_key(id) {
                    issues.push(Issue::edge(i, "missing_node", format!("edge {end} '{id}': no node has that id")));
                }
            }
            continue;
        };
        let (Some(src), Some(dst)) = (&blocks[f], &blocks[t]) else { continue };
        let Some(accepts) = ports(dst).iter().find(|(p, _)| *p == port).map(|(_, k)| *k) else {
            let known: Vec<&str> = ports(dst).iter().map(|(p, _)| *p).collect();
            let msg = if known.is_empty() {
                format!("'{to}' takes no inputs, but edge {i} feeds its port '{port}'")
            } else {
                format!("'{to}' has no input port '{port}' (ports: {})", known.join(", "))
            };
            issues.push(Issue { node: Some(to.into()), edge: Some(i), code: "extra_input", message: msg });
            continue;
        };
        match output_kind(src) {
            None => issues.push(Issue { node: Some(from.into()), edge: Some(i), code: "wrong_kind", message: format!("'{from}' has no output to wire") }),
            Some(k) if k != accepts => issues.push(Issue::edge(
                i,
                "wrong_kind",
                format!("'{from}' outputs a {} but port '{port}' of '{to}' takes a {}", kind_name(k), kind_name(accepts)),
            )),
            Some(_) => {}
        }
        if inputs[t].insert(port.to_string(), f).is_some() {
            issues.push(Issue { node: Some(to.into()), edge: Some(i), code: "extra_input", message: format!("port '{port}' of '{to}' takes exactly one edge; it has more") });
        }
    }
    for (t, block) in blocks.iter().enumerate() {
        let Some(block) = block else { continue };
        for (port, _) in ports(block) {
            if !inputs[t].contains_key(*port) {
                issues.push(Issue::node(&ids[t], "missing_input", format!("input '{port}' of '{}' is not connected", ids[t])));
            }
        }
    }

    // cycles
    let order = match topo_order(&inputs) {
        Ok(order) => order,
        Err(members) => {
            for m in members {
                issues.push(Issue::node(&ids[m], "cycle", format!("'{}' is part of a cycle", ids[m])));
            }
            Vec::new()
        }
    };
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(ValidGraph { ids, blocks: blocks.into_iter().map(|b| b.expect("no issues")).collect(), inputs, order, params })
}

/// Validates a typed [`Graph`] (as read by serde).
pub fn validate_graph(graph: &Graph) -> Result<ValidGraph, Vec<Issue>> {
    validate(&serde_json::to_value(graph).unwrap_or(Value::Null))
}

fn kind_name(k: ValueKind) -> &'static str {
    match k {
        ValueKind::Series => "series",
        ValueKind::Signal => "signal",
    }
}

/// Kahn's algorithm; on a cycle returns the nodes that could not be ordered.
fn topo_order(inputs: &[BTreeMap<String, usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = inputs.len();
    let mut pending: Vec<usize> = inputs.iter().map(|m| m.len()).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (t, m) in inputs.iter().enumerate() {
        for &f in m.values() {
            users[f].push(t);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
    ready.reverse();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.push(u);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // of the nodes left over, report those that reach themselves (on a cycle), not those merely after one
    let left: Vec<usize> = (0..n).filter(|i| pending[*i] > 0).collect();
    let on_cycle = |start: usize| {
        let mut seen = vec![false; n];
        let mut stack: Vec<usize> = users[start].clone();
        while let Some(i) = stack.pop() {
            if i == start {
                return true;
            }
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&users[i]);
            }
        }
        false
    };
    Err(left.into_iter().filter(|&i| on_cycle(i)).collect())
}
