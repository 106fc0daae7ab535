//! Backtest inputs in the layout of the reference fixtures' params.json.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sim::FillPolicy;

/// `$param` values: one combination, or a list of combinations (a sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValues {
    One(BTreeMap<String, f64>),
    Sweep(Vec<BTreeMap<String, f64>>),
}

impl Default for ParamValues {
    fn default() -> Self {
        ParamValues::One(BTreeMap::new())
    }
}

impl ParamValues {
    /// The combinations to run (one for a plain backtest).
    pub fn combinations(&self) -> Vec<BTreeMap<String, f64>> {
        match self {
            ParamValues::One(v) => vec![v.clone()],
            ParamValues::Sweep(v) => v.clone(),
        }
    }

    pub fn is_sweep(&self) -> bool {
        matches!(self, ParamValues::Sweep(_))
    }
}

fn default_capital() -> f64 {
    10_000.0
}
fn default_fee() -> f64 {
    0.001
}
fn default_policy() -> FillPolicy {
    FillPolicy::NextOpen
}

/// Every input of a backtest. Keys the engine does not use (e.g. `sweep_dir_rule`) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestParams {
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
    /// Range start (epoch ms, inclusive); every candle when absent.
    #[serde(default)]
    pub start: Option<i64>,
    /// Range end (epoch ms, exclusive); every candle when absent.
    #[serde(default)]
    pub end: Option<i64>,
    #[serde(default = "default_capital")]
    pub initial_capital: f64,
    #[serde(default = "default_fee")]
    pub fee_rate: f64,
    #[serde(default)]
    pub slippage: f64,
    #[serde(default = "default_policy")]
    pub fill_policy: FillPolicy,
    #[serde(default)]
    pub params: ParamValues,
    /// Sweeps: the output sub-folder of each combination, in the order of `params`.
    #[serde(default)]
    pub sweep_dirs: Option<Vec<String>>,
}

impl BacktestParams {
    /// The sub-folder name of a combination by the fixtures' rule: its `$param` names each
    /// followed by its value, in the order given, joined by `_` (e.g. `fast5_slow20`).
    pub fn sweep_dir(combo: &serde_json::Map<String, serde_json::Value>) -> String {
        combo.iter().map(|(k, v)| format!("{k}{}", v.as_f64().map_or(v.to_string(), crate::backtest::fmt_number))).collect::<Vec<_>>().join("_")
    }
}
