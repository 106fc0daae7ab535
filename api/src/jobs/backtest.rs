//! Backtest jobs: turn a run row into engine inputs, run it over the lake with progress, store the
//! results under the run id (idempotently), and record the outcome and notification on the run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pipelines::backtest::{self, anomalies, store, BacktestOutput, BacktestParams, Metrics, ParamValues, ProgressHandle, RunOptions};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{JobError, Worker};
use crate::db::backtests::{NewRun, Outcome, Run};
use crate::db::{self, jobs::Job};

/// The largest sweep one run may hold.
pub const MAX_COMBINATIONS: usize = 1000;

/// `{"fast": 5, "slow": [20, 30]}` → the combinations to run (a grid over the lists, names in
/// alphabetical order, the first varying slowest). Errors name the parameter.
pub fn param_values(params: &Value) -> Result<ParamValues, String> {
    let Some(map) = params.as_object() else {
        return Err("params must be an object of $param names to a number or a list of numbers".into());
    };
    let mut lists = Vec::new();
    for (name, v) in map {
        let values: Vec<f64> = match v {
            Value::Number(n) => vec![n.as_f64().ok_or_else(|| format!("params.{name}: not a finite number"))?],
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| i.as_f64().ok_or_else(|| format!("params.{name}: every value of the list must be a number, got {i}")))
                .collect::<Result<_, _>>()?,
            Value::Array(_) => return Err(format!("params.{name}: an empty list")),
            other => return Err(format!("params.{name}: expected a number or a list of numbers, got {other}")),
        };
        lists.push((name.clone(), values));
    }
    let n: usize = lists.iter().map(|(_, v)| v.len()).product();
    if n > MAX_COMBINATIONS {
        return Err(format!("params make {n} combinations; at most {MAX_COMBINATIONS} per run"));
    }
    Ok(ParamValues::grid(&lists))
}

/// The engine's inputs for a stored run.
pub fn params_of(run: &Run) -> Result<BacktestParams, String> {
    params_for(&NewRun::from(run))
}

/// The engine's inputs for a run (before or after it is stored).
pub fn params_for(run: &NewRun) -> Result<BacktestParams, String> {
    let fill_policy = serde_json::from_value(json!(run.fill_policy)).map_err(|_| format!("fillPolicy '{}' is not next_open or close", run.fill_policy))?;
    Ok(BacktestParams {
        exchange: run.exchange.clone(),
        symbol: run.symbol.clone(),
        timeframe: run.timeframe.clone(),
        start: Some(run.range_start.timestamp_millis()),
        end: Some(run.range_end.timestamp_millis()),
        initial_capital: run.initial_capital,
        fee_rate: run.fee_rate,
        slippage: run.slippage,
        fill_policy,
        params: param_values(&run.params)?,
        sweep_dirs: None,
    })
}

fn camel(key: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in key.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The metrics as the API shows them (camelCase keys, e.g. `totalReturnPct`).
pub fn metrics_json(m: &Metrics) -> Value {
    match serde_json::to_value(m) {
        Ok(Value::Object(o)) => Value::Object(o.into_iter().map(|(k, v)| (camel(&k), v)).collect::<Map<_, _>>()),
        _ => Value::Null,
    }
}

fn is_permanent(e: &pipelines::Error) -> bool {
    matches!(e, pipelines::Error::Graph(_) | pipelines::Error::NoCandles(_) | pipelines::Error::Invalid(_))
}

fn classify(e: pipelines::Error) -> JobError {
    if is_permanent(&e) { JobError::Permanent(e.to_string()) } else { JobError::Transient(e.to_string()) }
}

/// Runs the backtest of `run` and stores its trades, equity and metrics in the lake.
pub async fn execute(worker: &Worker, job: &Job, run_id: Uuid) -> Result<Outcome, JobError> {
    let transient = |e: sqlx::Error| JobError::Transient(e.to_string());
    let (run, graph) = db::backtests::with_graph(&worker.pool, run_id).await.map_err(transient)?.ok_or_else(|| JobError::Permanent(format!("run {run_id} does not exist")))?;
    let p = params_of(&run).map_err(JobError::Permanent)?;
    let graph = pipelines::graph::validate(&graph).map_err(|issues| classify(pipelines::Error::Graph(issues)))?;
    let lake = &worker.lake;
    let version = lake
        .version(lake::LakeTable::Candles)
        .await
        .map_err(|e| JobError::Transient(e.to_string()))?
        .ok_or_else(|| JobError::Permanent("the lake has no candles".into()))?;

    let handle = ProgressHandle::new(format!("{run_id}/{}", job.attempts));
    let total = backtest::count_candles(lake, &p, Some(version)).await.map_err(classify)?;
    handle.progress().set_bars_total(total);
    let writing = Arc::new(AtomicBool::new(false));
    let reporter = {
        let (pool, progress, writing, every) = (worker.pool.clone(), handle.progress().clone(), writing.clone(), worker.config.progress_every);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let s = progress.snapshot();
                let phase = if writing.load(Ordering::Relaxed) {
                    "writing"
                } else if s.combos_done > 0 || (s.bars_total > 0 && s.bars_read >= s.bars_total) {
                    "simulating"
                } else {
                    "reading"
                };
                let detail = json!({"phase": phase, "barsProcessed": s.bars_read, "barsTotal": s.bars_total,
                    "combosDone": s.combos_done, "combosTotal": s.combos_total});
                // writing is the last ~5 %
                let fraction = if phase == "writing" { 0.95 } else { s.fraction() * 0.95 };
                if let Err(e) = db::backtests::set_progress(&pool, run_id, fraction, &detail).await {
                    tracing::warn!(run = %run_id, error = %e, "could not record progress");
                }
            }
        })
    };
    let opts = RunOptions { save_equity: true, progress_key: Some(handle.key().to_string()) };
    let result = async {
        let out = backtest::run_at_version(lake, &graph, &p, opts, version).await?;
        writing.store(true, Ordering::Relaxed);
        store::save(lake, &run_id.to_string(), &p, &out, Some(version)).await?;
        Ok::<_, pipelines::Error>(out)
    }
    .await;
    reporter.abort();
    let out = result.map_err(classify)?;
    Ok(outcome(&out, &p, version))
}

/// What the run row stores of an output: headline metrics (a sweep's best combination by
/// Sharpe ratio), every combination's metrics for sweeps, anomaly flags, the candles version.
pub fn outcome(out: &BacktestOutput, p: &BacktestParams, version: u64) -> Outcome {
    let combos = &out.run.combos;
    let best = (0..combos.len()).max_by(|&a, &b| combos[a].metrics.sharpe.total_cmp(&combos[b].metrics.sharpe).then(b.cmp(&a))).unwrap_or(0);
    let sweep = combos.len() > 1;
    Outcome {
        metrics: combos.get(best).map(|c| metrics_json(&c.metrics)).unwrap_or(Value::Null),
        combo_metrics: sweep.then(|| {
            Value::Array(
                combos
                    .iter()
                    .enumerate()
                    .map(|(k, c)| json!({"combo": k, "params": out.combinations[k], "metrics": metrics_json(&c.metrics)}))
                    .collect(),
            )
        }),
        best_combo: sweep.then_some(best as i32),
        anomalies: serde_json::to_value(anomalies::detect(out, p.start, p.end)).unwrap_or(Value::Array(vec![])),
        candles_version: version as i64,
    }
}

/// Stores a run's success and its `backtest_complete` notification (in the job's completing transaction).
pub async fn record_success(tx: &mut PgConnection, run_id: Uuid, o: &Outcome) -> sqlx::Result<()> {
    db::backtests::succeed(tx, run_id, o).await?;
    let Some(run) = db::backtests::get(&mut *tx, run_id).await? else { return Ok(()) };
    let m = &o.metrics;
    let payload = json!({
        "runId": run.id, "strategyId": run.strategy_id, "status": "succeeded",
        "exchange": run.exchange, "symbol": run.symbol, "timeframe": run.timeframe, "combinations": run.combinations,
        "totalReturnPct": m["totalReturnPct"], "sharpe": m["sharpe"], "maxDrawdownPct": m["maxDrawdownPct"], "trades": m["trades"],
        "anomalies": o.anomalies.as_array().map(|a| a.iter().filter_map(|x| x["code"].as_str()).collect::<Vec<_>>()).unwrap_or_default(),
    });
    db::notifications::insert(&mut *tx, run.user_id, "backtest_complete", &payload).await?;
    Ok(())
}

/// Stores a run's failure and its `backtest_failed` notification.
pub async fn record_failure(tx: &mut PgConnection, run_id: Uuid, error: &str) -> sqlx::Result<()> {
    db::backtests::fail(tx, run_id, error).await?;
    let Some(run) = db::backtests::get(&mut *tx, run_id).await? else { return Ok(()) };
    let payload = json!({"runId": run.id, "strategyId": run.strategy_id, "status": "failed", "error": error,
        "exchange": run.exchange, "symbol": run.symbol, "timeframe": run.timeframe});
    db::notifications::insert(&mut *tx, run.user_id, "backtest_failed", &payload).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_make_a_grid_or_name_what_is_wrong() {
        let v = param_values(&json!({"slow": [20, 30], "fast": 5})).unwrap();
        let combos: Vec<String> = v.combinations().iter().map(|c| c.dir_name()).collect();
        assert_eq!(combos, vec!["fast5_slow20", "fast5_slow30"]);
        assert!(!param_values(&json!({"fast": 5})).unwrap().is_sweep());
        assert_eq!(param_values(&json!({"fast": "x"})).unwrap_err(), "params.fast: expected a number or a list of numbers, got \"x\"");
        assert_eq!(param_values(&json!({"fast": []})).unwrap_err(), "params.fast: an empty list");
        let big: Vec<i32> = (0..40).collect();
        assert!(param_values(&json!({"a": big, "b": big})).unwrap_err().contains("1600 combinations"));
    }

    #[test]
    fn metric_names_become_camel_case() {
        assert_eq!(camel("total_return_pct"), "totalReturnPct");
        assert_eq!(camel("sqn"), "sqn");
    }
}
