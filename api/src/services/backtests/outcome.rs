//! What a finished backtest records: its headline metrics (a sweep's best combination by Sharpe
//! ratio), every combination's metrics, anomaly flags and the candles version on the run, and the
//! `backtest_complete` / `backtest_failed` notification, in the job's completing transaction.

use pipelines::backtest::{anomalies, BacktestOutput, BacktestParams, Metrics};
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::runs::{self, Outcome};
use crate::error::camel;
use crate::model::NotificationType;
use crate::services::notifications;

/// The metrics as the API shows them (camelCase keys, e.g. `totalReturnPct`).
pub fn metrics_json(m: &Metrics) -> Value {
    match serde_json::to_value(m) {
        Ok(Value::Object(o)) => Value::Object(o.into_iter().map(|(k, v)| (camel(&k), v)).collect::<Map<_, _>>()),
        _ => Value::Null,
    }
}

/// What the run row stores of an output.
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

/// Stores a run's success and its `backtest_complete` notification.
pub async fn record_success(tx: &mut PgConnection, run_id: Uuid, o: &Outcome) -> sqlx::Result<()> {
    runs::succeed(tx, run_id, o).await?;
    let Some(run) = runs::get(&mut *tx, run_id).await? else { return Ok(()) };
    let m = &o.metrics;
    let payload = json!({
        "runId": run.id, "strategyId": run.strategy_id, "status": "succeeded",
        "exchange": run.exchange, "symbol": run.symbol, "timeframe": run.timeframe, "combinations": run.combinations,
        "totalReturnPct": m["totalReturnPct"], "sharpe": m["sharpe"], "maxDrawdownPct": m["maxDrawdownPct"], "trades": m["trades"],
        "anomalies": o.anomalies.as_array().map(|a| a.iter().filter_map(|x| x["code"].as_str()).collect::<Vec<_>>()).unwrap_or_default(),
    });
    notifications::insert(&mut *tx, run.user_id, NotificationType::BacktestComplete, &payload).await?;
    Ok(())
}

/// Stores a run's failure and its `backtest_failed` notification.
pub async fn record_failure(tx: &mut PgConnection, run_id: Uuid, error: &str) -> sqlx::Result<()> {
    runs::fail(tx, run_id, error).await?;
    let Some(run) = runs::get(&mut *tx, run_id).await? else { return Ok(()) };
    let payload = json!({"runId": run.id, "strategyId": run.strategy_id, "status": "failed", "error": error,
        "exchange": run.exchange, "symbol": run.symbol, "timeframe": run.timeframe});
    notifications::insert(&mut *tx, run.user_id, NotificationType::BacktestFailed, &payload).await?;
    Ok(())
}
