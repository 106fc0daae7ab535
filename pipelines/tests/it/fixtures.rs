//! Every reference case of ../shared/fixtures/backtests through the engine: trades, equity and
//! metrics equal to 1e-9.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use pipelines::backtest::udaf::ComboOutput;
use pipelines::backtest::{run_backtest, BacktestParams};
use serde_json::Value;

pub(crate) fn cases_dir() -> PathBuf {
    crate::crate_dir().join("../../shared/fixtures/backtests")
}

/// One reference case: its folder's name, the folder, its inputs and its validated graph.
pub(crate) struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub params: BacktestParams,
    pub graph: pipelines::graph::ValidGraph,
}

/// The case in `dir`.
pub(crate) fn case(dir: &Path) -> Case {
    let params: BacktestParams = serde_json::from_slice(&std::fs::read(dir.join("params.json")).unwrap()).unwrap();
    let graph: Value = serde_json::from_slice(&std::fs::read(dir.join("strategy.json")).unwrap()).unwrap();
    let graph = pipelines::graph::validate(&graph).unwrap();
    Case { name: dir.file_name().unwrap().to_string_lossy().to_string(), dir: dir.to_path_buf(), params, graph }
}

/// Every case of ../shared/fixtures/backtests, in name order.
pub(crate) fn cases() -> Vec<Case> {
    let mut entries: Vec<_> = std::fs::read_dir(cases_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    entries.sort();
    entries.iter().map(|d| case(d)).collect()
}

pub(crate) fn close(got: f64, want: f64) -> bool {
    let d = (got - want).abs();
    d <= 1e-9 * want.abs() || d <= 1e-9
}

/// A session whose `candles` table holds the case's candles under its market (as the lake would).
pub(crate) fn session(dir: &Path, p: &BacktestParams) -> SessionContext {
    let text = std::fs::read_to_string(dir.join("candles.csv")).unwrap();
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 6];
    for line in text.lines().skip(1) {
        for (i, v) in line.split(',').enumerate() {
            cols[i].push(v.parse().unwrap());
        }
    }
    let n = cols[0].len();
    let s = |v: &str| -> ArrayRef { Arc::new(StringArray::from(vec![v; n])) };
    let f = |i: usize| -> ArrayRef { Arc::new(Float64Array::from(cols[i].clone())) };
    let t: ArrayRef = Arc::new(TimestampMicrosecondArray::from(cols[0].iter().map(|v| *v as i64 * 1000).collect::<Vec<_>>()).with_timezone("UTC"));
    let batch = RecordBatch::try_new(
        lake::LakeTable::Candles.schema(),
        vec![s(p.market.exchange()), s(p.market.symbol()), s(&p.market.timeframe().to_string()), t, f(1), f(2), f(3), f(4), f(5), Arc::new(arrow::array::Int64Array::from(vec![None; n])), Arc::new(Float64Array::from(vec![None; n]))],
    )
    .unwrap();
    let ctx = query::context();
    ctx.register_table("candles", Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap())).unwrap();
    ctx
}

pub(crate) fn compare(case: &str, dir: &Path, got: &ComboOutput, open_times: &[i64], tf_ms: i64, errors: &mut Vec<String>) {
    // trades
    let text = std::fs::read_to_string(dir.join("trades.csv")).unwrap();
    let want: Vec<Vec<String>> = text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    if want.len() != got.trades.len() {
        errors.push(format!("{case}: {} trades, expected {}", got.trades.len(), want.len()));
    }
    for (k, (g, w)) in got.trades.iter().zip(&want).enumerate() {
        let same = g.side.as_str() == w[0] && g.entry_time.to_string() == w[1] && g.exit_time.to_string() == w[3] && g.exit_reason.as_str() == w[9];
        let nums = [(g.entry_price, &w[2]), (g.exit_price, &w[4]), (g.qty, &w[5]), (g.fees, &w[6]), (g.pnl, &w[7]), (g.return_pct, &w[8])];
        let nums_ok = nums.iter().all(|(a, b)| close(*a, b.parse().unwrap()));
        if !same || !nums_ok {
            errors.push(format!("{case}: trade {k}: got {g:?}, expected {w:?}"));
            break;
        }
    }
    // equity
    let text = std::fs::read_to_string(dir.join("equity.csv")).unwrap();
    let want: Vec<(i64, f64)> = text.lines().skip(1).map(|l| {
        let (t, e) = l.split_once(',').unwrap();
        (t.parse().unwrap(), e.parse().unwrap())
    }).collect();
    let mut ours: Vec<(i64, f64)> = vec![(open_times[0], 10_000.0f64.min(f64::MAX))];
    ours[0].1 = want[0].1; // initial capital row is the input itself
    ours.extend(open_times.iter().zip(&got.equity).map(|(t, e)| (t + tf_ms, *e)));
    if ours.len() != want.len() {
        errors.push(format!("{case}: {} equity rows, expected {}", ours.len(), want.len()));
    }
    if let Some(k) = ours.iter().zip(&want).position(|(a, b)| a.0 != b.0 || !close(a.1, b.1)) {
        errors.push(format!("{case}: equity row {k}: got {:?}, expected {:?}", ours[k], want[k]));
    }
    // metrics
    let want: serde_json::Map<String, Value> = serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
    let ours = serde_json::to_value(&got.metrics).unwrap();
    for (k, w) in &want {
        let g = &ours[k];
        let ok = match (g.as_f64(), w.as_f64()) {
            (Some(a), Some(b)) => close(a, b),
            (None, None) => g.is_null() && w.is_null(),
            _ => false,
        };
        if !ok {
            errors.push(format!("{case}: metric {k}: got {g}, expected {w}"));
        }
    }
}

#[tokio::test]
async fn every_reference_case_matches() {
    let mut errors = Vec::new();
    let mut checked = 0;
    for Case { name: case, dir, params, graph } in cases() {
        let ctx = session(&dir, &params);
        let out = match run_backtest(&ctx, &graph, &params, true).await {
            Ok(o) => o,
            Err(e) => {
                errors.push(format!("{case}: {e}"));
                continue;
            }
        };
        let tf_ms = out.timeframe.millis();
        if params.params.is_sweep() {
            for (k, sub) in params.sweep_dirs.clone().unwrap().iter().enumerate() {
                compare(&format!("{case}/{sub}"), &dir.join(sub), &out.run.combos[k], &out.run.open_times, tf_ms, &mut errors);
                checked += 1;
            }
        } else {
            compare(&case, &dir, &out.run.combos[0], &out.run.open_times, tf_ms, &mut errors);
            checked += 1;
        }
    }
    assert!(errors.is_empty(), "{} problem(s):\n{}", errors.len(), errors.join("\n"));
    assert_eq!(checked, 23, "19 single cases and 4 sweep combinations");
}

/// Rewrites every candle from bar `from` on (scaled, shuffled highs/lows) in a copy of the case.
fn perturbed_session(dir: &Path, p: &BacktestParams, from: usize) -> SessionContext {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(dir.join("candles.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 || i <= from {
            out.push_str(line);
        } else {
            let f: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            let k = if i % 3 == 0 { 1.07 } else { 0.95 };
            let (o, c) = (f[4] * k, f[1] * k);
            out.push_str(&format!("{},{o},{},{},{c},{}", f[0] as i64, f[2] * k * 1.01, f[3] * k * 0.99, f[5] * 2.0));
        }
        out.push('\n');
    }
    std::fs::write(tmp.path().join("candles.csv"), out).unwrap();
    let ctx = session(tmp.path(), p);
    drop(tmp);
    ctx
}

#[tokio::test]
async fn changing_future_candles_does_not_change_the_past() {
    for case in ["logic_math_blocks", "macd_sl_and_trailing", "long_short_exit_and_reverse", "close_policy_sl_tp"] {
        let dir = cases_dir().join(case);
        let params: BacktestParams = serde_json::from_slice(&std::fs::read(dir.join("params.json")).unwrap()).unwrap();
        let graph = pipelines::graph::validate(&serde_json::from_slice(&std::fs::read(dir.join("strategy.json")).unwrap()).unwrap()).unwrap();
        let base = run_backtest(&session(&dir, &params), &graph, &params, true).await.unwrap();
        let cut = base.run.bars * 2 / 3;
        let changed = run_backtest(&perturbed_session(&dir, &params, cut), &graph, &params, true).await.unwrap();
        let (a, b) = (&base.run.combos[0], &changed.run.combos[0]);
        // bars before the cut: same equity; trades that ended before it: identical
        assert_eq!(a.equity[..cut], b.equity[..cut], "{case}: equity before bar {cut} changed");
        let done = |t: &&pipelines::backtest::Trade| t.exit_bar < cut;
        let before_a: Vec<_> = a.trades.iter().filter(done).collect();
        let before_b: Vec<_> = b.trades.iter().filter(done).collect();
        assert!(!before_a.is_empty(), "{case}: the test needs trades before the cut");
        assert_eq!(before_a, before_b, "{case}: a trade that closed before bar {cut} changed");
        assert_ne!(a.equity[cut..], b.equity[cut..], "{case}: the perturbation must matter after the cut");
    }
}

#[tokio::test]
async fn sweep_values_a_block_cannot_take_are_named() {
    let dir = cases_dir().join("param_sweep_sma");
    let mut params: BacktestParams = serde_json::from_slice(&std::fs::read(dir.join("params.json")).unwrap()).unwrap();
    params.params = serde_json::from_value(serde_json::json!([{"fast": 5}, {"fast": 0}])).unwrap();
    let graph = pipelines::graph::validate(&serde_json::from_slice(&std::fs::read(dir.join("strategy.json")).unwrap()).unwrap()).unwrap();
    let err = run_backtest(&session(&dir, &params), &graph, &params, false).await.unwrap_err().to_string();
    assert!(err.contains("\"fast\":0.0") && err.contains("period") && err.contains("node '"), "{err}");

    let sized = serde_json::json!({"version": 1, "nodes": [
        {"id": "px", "type": "price", "params": {"field": "close"}},
        {"id": "k", "type": "constant", "params": {"value": 1e9}},
        {"id": "lt", "type": "compare", "params": {"op": "lt"}},
        {"id": "buy", "type": "entry", "params": {"side": "long"}},
        {"id": "size", "type": "sizing", "params": {"fraction": {"$param": "f", "default": 0.5}}},
        {"id": "risk", "type": "risk", "params": {"stop_loss_pct": {"$param": "sl", "default": 1}}}],
      "edges": [{"from": "px", "to": "lt", "port": "left"}, {"from": "k", "to": "lt", "port": "right"}, {"from": "lt", "to": "buy", "port": "when"}]});
    let graph = pipelines::graph::validate(&sized).unwrap();
    for (combo, want) in [(serde_json::json!([{"f": 1.5}]), "node 'size' cannot take fraction = 1.5"), (serde_json::json!([{"sl": -2}]), "node 'risk' cannot take stop_loss_pct = -2")] {
        params.params = serde_json::from_value(combo).unwrap();
        let err = run_backtest(&session(&dir, &params), &graph, &params, false).await.unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}
