//! Alert rules of a paper-trading run, checked on every bar it trades: drawdown from the peak,
//! loss within a UTC day, a data gap longer than `noTradeHours`, and (when asked) every fill.
//! A rule that fires stays quiet for the cool-down (measured in bar time, so a replay alerts as
//! live trading would have); each alert is one `paper_trade_alert` notification.

use std::collections::BTreeMap;

use pipelines::backtest::Fill;
use pipelines::paper::{BarOutcome, Performance};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::runs::{ms_time, AlertConfig};

/// When each rule last fired (epoch ms of bar time, or wall time for the no-candle check).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    #[serde(default)]
    pub last_fired: BTreeMap<String, i64>,
}

impl AlertState {
    pub fn from_json(v: &Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }

    /// Whether `rule` may fire at `now` (ms), and if so records that it did.
    fn fire(&mut self, rule: &str, now: i64, cooldown_ms: i64) -> bool {
        if self.last_fired.get(rule).is_some_and(|&last| now - last < cooldown_ms) {
            return false;
        }
        self.last_fired.insert(rule.to_string(), now);
        true
    }
}

/// One alert: the payload of its notification.
pub fn payload(run: Uuid, rule: &str, metric: &str, value: f64, threshold: Option<f64>, bar_time: i64, message: String) -> Value {
    json!({"runId": run, "rule": rule, "metric": metric, "value": value, "threshold": threshold, "barTime": ms_time(bar_time), "message": message})
}

/// The alerts bar `outcome` raises (`prev_bar`: open time of the bar before it, if any;
/// `bar_ms`: the timeframe's length).
pub fn check(run: Uuid, cfg: &AlertConfig, st: &mut AlertState, perf: &Performance, outcome: &BarOutcome, prev_bar: Option<i64>, bar_ms: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let t = outcome.candle.open_time;
    let cool = cfg.cooldown_ms();
    if let (Some(hours), Some(prev)) = (cfg.no_trade_hours, prev_bar) {
        let silent_h = (t - prev - bar_ms) as f64 / 3_600_000.0;
        if silent_h >= hours && st.fire("no_trade_hours", t, cool) {
            out.push(payload(run, "no_trade_hours", "hours_without_candles", silent_h, Some(hours), t, format!("no candle for {silent_h:.1} h before {} (data gap)", ms_time(t).to_rfc3339())));
        }
    }
    if outcome.equity.is_none() {
        return out;
    }
    if let Some(max) = cfg.max_drawdown_pct {
        let dd = perf.drawdown_pct();
        if dd >= max && st.fire("max_drawdown_pct", t, cool) {
            out.push(payload(run, "max_drawdown_pct", "drawdown_pct", dd, Some(max), t, format!("drawdown {dd:.2} % from the peak (limit {max} %)")));
        }
    }
    if let Some(max) = cfg.daily_loss_pct {
        let loss = -perf.day_change_pct();
        if loss >= max && st.fire("daily_loss_pct", t, cool) {
            out.push(payload(run, "daily_loss_pct", "daily_loss_pct", loss, Some(max), t, format!("down {loss:.2} % today (limit {max} %)")));
        }
    }
    if cfg.on_every_fill {
        out.extend(fill_alerts(run, &outcome.fills));
    }
    out
}

/// One alert per fill (`onEveryFill`).
pub fn fill_alerts(run: Uuid, fills: &[Fill]) -> Vec<Value> {
    fills.iter().map(|f| fill_alert(run, f)).collect()
}

fn fill_alert(run: Uuid, f: &Fill) -> Value {
    let what = match f.exit_reason {
        None => format!("{} {:.8} at {} (opens {})", f.action.as_str(), f.qty, f.price, f.side.as_str()),
        Some(r) => format!("{} {:.8} at {} (closes {}, {}, pnl {:.2})", f.action.as_str(), f.qty, f.price, f.side.as_str(), r.as_str(), f.pnl.unwrap_or(0.0)),
    };
    let mut p = payload(run, "on_every_fill", "fill_price", f.price, None, f.time, format!("fill: {what}"));
    p["fill"] = json!({"action": f.action.as_str(), "side": f.side.as_str(), "price": f.price, "qty": f.qty, "fee": f.fee,
        "exitReason": f.exit_reason.map(|r| r.as_str()), "pnl": f.pnl});
    p
}

/// The no-candle alert of a run whose last bar opened at `last_bar` (ms), checked at wall time
/// `now` (ms) by the periodic scan.
pub fn check_silence(run: Uuid, cfg: &AlertConfig, st: &mut AlertState, last_bar: i64, now: i64, bar_ms: i64) -> Option<Value> {
    let hours = cfg.no_trade_hours?;
    let silent_h = (now - last_bar - bar_ms) as f64 / 3_600_000.0;
    (silent_h >= hours && st.fire("no_candles", now, cfg.cooldown_ms())).then(|| {
        payload(run, "no_trade_hours", "hours_without_candles", silent_h, Some(hours), last_bar, format!("no new candle for {silent_h:.1} h (the last opened {})", ms_time(last_bar).to_rfc3339()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipelines::backtest::Candle;

    fn perf(equity: f64, peak: f64) -> Performance {
        let mut p: Performance = serde_json::from_value(json!({"initialCapital": 100.0, "equity": equity, "peakEquity": peak, "maxDrawdownPct": 0.0,
            "trades": 0, "wins": 0, "feesPaid": 0.0, "day": 0, "dayOpenEquity": peak})).unwrap();
        p.max_drawdown_pct = (1.0 - equity / peak) * 100.0;
        p
    }

    fn bar(t: i64) -> BarOutcome {
        BarOutcome { candle: Candle { open_time: t, open: 1.0, high: 1.0, low: 1.0, close: 1.0, volume: 1.0 }, equity: Some(1.0), fills: vec![] }
    }

    #[test]
    fn a_breach_alerts_once_per_cooldown() {
        let cfg = AlertConfig { max_drawdown_pct: Some(10.0), cooldown_minutes: Some(120.0), ..Default::default() };
        let mut st = AlertState::default();
        let run = Uuid::nil();
        let h = 3_600_000;
        let fired: Vec<usize> = (0..6).map(|i| check(run, &cfg, &mut st, &perf(85.0, 100.0), &bar(i * h), None, h).len()).collect();
        // hours 0 and 2 and 4: the cool-down is two hours
        assert_eq!(fired, vec![1, 0, 1, 0, 1, 0]);
        assert!(check(run, &cfg, &mut AlertState::default(), &perf(95.0, 100.0), &bar(0), None, h).is_empty(), "5 % is within the limit");
    }

    #[test]
    fn a_days_loss_alerts_against_the_equity_the_day_opened_with() {
        let cfg = AlertConfig { daily_loss_pct: Some(3.0), ..Default::default() };
        let mut p = perf(97.5, 100.0);
        p.day_open_equity = 100.0;
        assert!(check(Uuid::nil(), &cfg, &mut AlertState::default(), &p, &bar(0), None, 60_000).is_empty(), "down 2.5 %");
        p.equity = 96.9;
        let a = check(Uuid::nil(), &cfg, &mut AlertState::default(), &p, &bar(0), None, 60_000);
        assert_eq!((a.len(), a[0]["rule"].as_str()), (1, Some("daily_loss_pct")));
        assert!((a[0]["value"].as_f64().unwrap() - 3.1).abs() < 1e-9);
    }

    #[test]
    fn a_gap_between_bars_alerts() {
        let cfg = AlertConfig { no_trade_hours: Some(3.0), ..Default::default() };
        let h = 3_600_000;
        let a = check(Uuid::nil(), &cfg, &mut AlertState::default(), &perf(100.0, 100.0), &bar(10 * h), Some(6 * h), h);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0]["value"], json!(3.0));
        assert!(check(Uuid::nil(), &cfg, &mut AlertState::default(), &perf(100.0, 100.0), &bar(9 * h), Some(6 * h), h).is_empty());
    }
}
