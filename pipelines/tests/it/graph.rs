//! The validator against the spec: every reference strategy is valid; every kind of mistake is named.


use pipelines::graph::{validate, Graph, Issue};
use serde_json::{json, Value};

fn fixtures() -> Vec<(String, Value)> {
    let dir = crate::crate_dir().join("../../shared/fixtures/backtests");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path().join("strategy.json");
        if p.exists() {
            out.push((p.display().to_string(), serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()));
        }
    }
    out
}

fn issues(g: Value) -> Vec<Issue> {
    validate(&g).expect_err("graph must be invalid")
}

fn has(issues: &[Issue], code: &str, node: Option<&str>, edge: Option<usize>) -> bool {
    issues.iter().any(|i| i.code == code && i.node.as_deref() == node && i.edge == edge)
}

fn sma_cross() -> Value {
    json!({
      "version": 1,
      "nodes": [
        {"id": "px", "type": "price", "params": {"field": "close"}, "position": {"x": 40, "y": 80}},
        {"id": "fast", "type": "indicator", "params": {"name": "sma", "period": {"$param": "fast", "default": 10}}},
        {"id": "slow", "type": "indicator", "params": {"name": "sma", "period": 30}},
        {"id": "up", "type": "compare", "params": {"op": "crosses_above"}},
        {"id": "down", "type": "compare", "params": {"op": "crosses_below"}},
        {"id": "buy", "type": "entry", "params": {"side": "long"}},
        {"id": "sell", "type": "exit", "params": {"side": "long"}},
        {"id": "risk", "type": "risk", "params": {"stop_loss_pct": 2.0, "take_profit_pct": 6.0}}
      ],
      "edges": [
        {"from": "px", "to": "fast", "port": "source"},
        {"from": "px", "to": "slow", "port": "source"},
        {"from": "fast", "to": "up", "port": "left"},
        {"from": "slow", "to": "up", "port": "right"},
        {"from": "fast", "to": "down", "port": "left"},
        {"from": "slow", "to": "down", "port": "right"},
        {"from": "up", "to": "buy", "port": "when"},
        {"from": "down", "to": "sell", "port": "when"}
      ]
    })
}

#[test]
fn every_reference_strategy_is_valid() {
    let all = fixtures();
    assert!(all.len() >= 20);
    for (path, g) in all {
        if let Err(issues) = validate(&g) {
            panic!("{path}: {issues:?}");
        }
    }
}

#[test]
fn the_spec_example_is_valid_and_keeps_canvas_keys() {
    let v = validate(&sma_cross()).unwrap();
    assert_eq!(v.params, vec![("fast".to_string(), 10.0)]);
    assert_eq!(v.order.len(), 8);
    let g: Graph = serde_json::from_value(sma_cross()).unwrap();
    let back = serde_json::to_value(&g).unwrap();
    assert_eq!(back["nodes"][0]["position"], json!({"x": 40, "y": 80}), "unknown node keys survive a round trip");
}

#[test]
fn every_problem_is_reported_in_one_answer() {
    let mut g = sma_cross();
    g["nodes"].as_array_mut().unwrap().extend([
        json!({"id": "px", "type": "price", "params": {"field": "close"}}),
        json!({"id": "magic", "type": "oracle"}),
        json!({"id": "ind", "type": "indicator", "params": {"name": "supertrend"}}),
        json!({"id": "r2", "type": "risk", "params": {"stop_loss_pct": -1}}),
        json!({"id": "bad id!", "type": "constant", "params": {"value": 1}}),
        json!({"id": "k", "type": "constant", "params": {}}),
        json!({"id": "per", "type": "indicator", "params": {"name": "ema", "period": {"$param": "p"}}}),
        json!({"id": "tiny", "type": "indicator", "params": {"name": "rsi", "period": 1}}),
    ]);
    g["edges"].as_array_mut().unwrap().extend([
        json!({"from": "ghost", "to": "up", "port": "left"}),
        json!({"from": "up", "to": "fast", "port": "source"}),
        json!({"from": "px", "to": "px", "port": "source"}),
        json!({"from": "slow", "to": "buy", "port": "when"}),
    ]);
    let i = issues(g);
    assert!(has(&i, "duplicate_id", Some("px"), None), "{i:?}");
    assert!(has(&i, "unknown_block_type", Some("magic"), None), "{i:?}");
    assert!(has(&i, "unknown_indicator", Some("ind"), None), "{i:?}");
    assert!(has(&i, "param_invalid", Some("r2"), None), "{i:?}");
    assert!(has(&i, "duplicate_risk", None, None), "{i:?}");
    assert!(has(&i, "invalid_id", Some("bad id!"), None), "{i:?}");
    assert!(has(&i, "param_missing", Some("k"), None), "{i:?}");
    assert!(has(&i, "param_without_default", Some("per"), None), "{i:?}");
    assert!(has(&i, "param_invalid", Some("tiny"), None), "period below TA-Lib's minimum: {i:?}");
    assert!(has(&i, "missing_node", None, Some(8)), "{i:?}");
    assert!(has(&i, "wrong_kind", None, Some(9)), "signal into a series port: {i:?}");
    assert!(has(&i, "extra_input", Some("px"), Some(10)), "price takes no input: {i:?}");
    assert!(has(&i, "wrong_kind", None, Some(11)), "series into when: {i:?}");
    assert!(has(&i, "extra_input", Some("buy"), Some(11)), "second edge into 'when': {i:?}");
    assert!(i.len() >= 14, "{i:?}");
}

#[test]
fn missing_inputs_cycles_and_no_entry() {
    let g = json!({"version": 1, "nodes": [
        {"id": "a", "type": "math", "params": {"op": "add"}},
        {"id": "b", "type": "math", "params": {"op": "abs"}},
        {"id": "c", "type": "math", "params": {"op": "neg"}},
        {"id": "x", "type": "exit", "params": {"side": "long"}}
    ], "edges": [
        {"from": "a", "to": "b", "port": "source"},
        {"from": "b", "to": "a", "port": "left"},
        {"from": "b", "to": "a", "port": "right"}
    ]});
    let i = issues(g);
    assert!(has(&i, "cycle", Some("a"), None) && has(&i, "cycle", Some("b"), None), "{i:?}");
    assert!(!has(&i, "cycle", Some("c"), None), "{i:?}");
    assert!(has(&i, "missing_input", Some("c"), None), "{i:?}");
    assert!(has(&i, "missing_input", Some("x"), None), "{i:?}");
    assert!(has(&i, "no_entry", None, None), "{i:?}");
}

#[test]
fn malformed_json_shapes_are_issues_not_crashes() {
    for g in [json!([]), json!({"version": 2, "nodes": [], "edges": []}), json!({"version": 1, "nodes": [1, {"type": "price"}], "edges": [{"from": 1}]})] {
        let i = issues(g.clone());
        assert!(!i.is_empty(), "{g}");
    }
    let i = issues(json!({"version": 1, "nodes": [{"id": "n", "type": "entry", "params": {"side": "sideways"}}], "edges": []}));
    assert!(has(&i, "param_invalid", Some("n"), None), "{i:?}");
}

#[test]
fn an_oversized_graph_is_one_issue_naming_the_limits() {
    use pipelines::graph::{MAX_EDGES, MAX_NODES};
    let nodes: Vec<Value> = (0..=MAX_NODES).map(|i| json!({"id": format!("n{i}"), "type": "price", "params": {"field": "close"}})).collect();
    let found = issues(json!({"version": 1, "nodes": nodes, "edges": []}));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(has(&found, "graph_too_large", None, None));
    assert!(found[0].message.contains(&format!("{} nodes", MAX_NODES + 1)) && found[0].message.contains(&format!("at most {MAX_NODES} nodes")), "{}", found[0].message);
    let edges: Vec<Value> = (0..=MAX_EDGES).map(|_| json!({"from": "a", "to": "b", "port": "x"})).collect();
    let found = issues(json!({"version": 1, "nodes": [], "edges": edges}));
    assert!(has(&found, "graph_too_large", None, None) && found[0].message.contains(&format!("{} edges", MAX_EDGES + 1)));
    // at the limit: no size issue
    let nodes: Vec<Value> = (0..MAX_NODES).map(|i| json!({"id": format!("n{i}"), "type": "price", "params": {"field": "close"}})).collect();
    assert!(!has(&issues(json!({"version": 1, "nodes": nodes, "edges": []})), "graph_too_large", None, None));
}
