//! Backtest inputs in the layout of the reference fixtures' params.json: the market, the range,
//! the costs (with their defaults, defined here once) and the `$param` values or sweep.

use std::collections::BTreeMap;

use lake::{Market, Span};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sim::FillPolicy;
use crate::error::{Error, Result};

/// Initial capital in quote currency when none is given.
pub const DEFAULT_CAPITAL: f64 = 10_000.0;
/// Fee per fill as a fraction of notional when none is given.
pub const DEFAULT_FEE_RATE: f64 = 0.001;
/// Slippage as a fraction of price when none is given.
pub const DEFAULT_SLIPPAGE: f64 = 0.0;
/// When orders fill when not said.
pub const DEFAULT_FILL_POLICY: FillPolicy = FillPolicy::NextOpen;
/// The largest sweep one run may hold.
pub const MAX_COMBINATIONS: usize = 1000;

/// One combination of `$param` values, in the order the user gave them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Combo(pub Vec<(String, f64)>);

impl Combo {
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        self.0.iter().cloned().collect()
    }

    /// The sub-folder name of this combination by the fixtures' rule: each `$param` name followed
    /// by its value, in the order given, joined by `_` (e.g. `fast5_slow20`).
    pub fn dir_name(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}{}", super::fmt_number(*v))).collect::<Vec<_>>().join("_")
    }
}

impl Serialize for Combo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Combo {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Combo;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of $param names to numbers")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Combo, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, f64>()? {
                    out.push((k, v));
                }
                Ok(Combo(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// `$param` values: one combination, or a list of combinations (a sweep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValues {
    One(Combo),
    Sweep(Vec<Combo>),
}

impl Default for ParamValues {
    fn default() -> Self {
        ParamValues::One(Combo::default())
    }
}

impl ParamValues {
    /// The combinations to run (one for a plain backtest).
    pub fn combinations(&self) -> Vec<Combo> {
        match self {
            ParamValues::One(v) => vec![v.clone()],
            ParamValues::Sweep(v) => v.clone(),
        }
    }

    /// The grid of every combination of the given value lists, the first name varying slowest.
    pub fn grid(lists: &[(String, Vec<f64>)]) -> ParamValues {
        let mut combos = vec![Combo::default()];
        for (name, values) in lists {
            combos = combos
                .into_iter()
                .flat_map(|c| values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.0.push((name.clone(), *v));
                    c
                }))
                .collect();
        }
        if lists.iter().all(|(_, v)| v.len() <= 1) {
            ParamValues::One(combos.pop().unwrap_or_default())
        } else {
            ParamValues::Sweep(combos)
        }
    }

    pub fn is_sweep(&self) -> bool {
        matches!(self, ParamValues::Sweep(_))
    }

    /// `{"fast": 5, "slow": [20, 30]}` (as the API takes them) → the combinations to run: a grid
    /// over the lists, names in alphabetical order, the first varying slowest, at most
    /// [`MAX_COMBINATIONS`]. Errors name the parameter (`params.fast: ...`).
    pub fn from_json(params: &Value) -> Result<ParamValues> {
        let invalid = |message: String| Error::InvalidField { field: "params".into(), message };
        let Some(map) = params.as_object() else {
            return Err(invalid("params must be an object of $param names to a number or a list of numbers".into()));
        };
        let mut lists = Vec::new();
        for (name, v) in map {
            let values: Vec<f64> = match v {
                Value::Number(n) => vec![n.as_f64().ok_or_else(|| invalid(format!("params.{name}: not a finite number")))?],
                Value::Array(items) if !items.is_empty() => items
                    .iter()
                    .map(|i| i.as_f64().ok_or_else(|| invalid(format!("params.{name}: every value of the list must be a number, got {i}"))))
                    .collect::<Result<_>>()?,
                Value::Array(_) => return Err(invalid(format!("params.{name}: an empty list"))),
                other => return Err(invalid(format!("params.{name}: expected a number or a list of numbers, got {other}"))),
            };
            lists.push((name.clone(), values));
        }
        let n: usize = lists.iter().map(|(_, v)| v.len()).product();
        if n > MAX_COMBINATIONS {
            return Err(invalid(format!("params make {n} combinations; at most {MAX_COMBINATIONS} per run")));
        }
        Ok(ParamValues::grid(&lists))
    }
}

fn default_capital() -> f64 {
    DEFAULT_CAPITAL
}
fn default_fee() -> f64 {
    DEFAULT_FEE_RATE
}
fn default_slippage() -> f64 {
    DEFAULT_SLIPPAGE
}
fn default_policy() -> FillPolicy {
    DEFAULT_FILL_POLICY
}

/// Every input of a backtest. Keys the engine does not use (e.g. `sweep_dir_rule`) are ignored.
/// The market's `exchange`, `symbol` and `timeframe` sit at the top level, in any spelling the
/// lake resolves (`BTC/USDT`, `60m`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestParams {
    #[serde(flatten)]
    pub market: Market,
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
    #[serde(default = "default_slippage")]
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
    /// A backtest of every candle of `market` with the default costs and no `$param` values.
    pub fn new(market: Market) -> Self {
        BacktestParams {
            market,
            start: None,
            end: None,
            initial_capital: DEFAULT_CAPITAL,
            fee_rate: DEFAULT_FEE_RATE,
            slippage: DEFAULT_SLIPPAGE,
            fill_policy: DEFAULT_FILL_POLICY,
            params: ParamValues::default(),
            sweep_dirs: None,
        }
    }

    /// The range of open times the backtest reads.
    pub fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }

    /// Checks the numbers: a positive finite capital, fee rate and slippage in [0, 0.5), a range
    /// that ends after it starts. The error names the field (as params.json spells it).
    pub fn validate(&self) -> Result<()> {
        let check = |field: &str, v: f64, ok: bool, rule: &str| {
            if v.is_finite() && ok { Ok(()) } else { Err(Error::InvalidField { field: field.into(), message: format!("{field} {rule}, got {v}") }) }
        };
        check("initial_capital", self.initial_capital, self.initial_capital > 0.0, "must be > 0")?;
        check("fee_rate", self.fee_rate, (0.0..0.5).contains(&self.fee_rate), "must be in [0, 0.5)")?;
        check("slippage", self.slippage, (0.0..0.5).contains(&self.slippage), "must be in [0, 0.5)")?;
        if let (Some(s), Some(e)) = (self.start, self.end) {
            if e <= s {
                return Err(Error::InvalidField { field: "end".into(), message: "the range must end after it starts".into() });
            }
        }
        Ok(())
    }

    /// The output sub-folder of combination `k`: `sweep_dirs[k]` when given, else [`Combo::dir_name`].
    pub fn sweep_dir(&self, k: usize) -> String {
        match &self.sweep_dirs {
            Some(dirs) if k < dirs.len() => dirs[k].clone(),
            _ => self.params.combinations().get(k).map(Combo::dir_name).unwrap_or_else(|| format!("combo{k}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_keep_the_order_given_and_name_their_folders() {
        let p: ParamValues = serde_json::from_str(r#"[{"slow": 20, "fast": 5}, {"fast": 8.5}]"#).unwrap();
        let names: Vec<String> = p.combinations().iter().map(Combo::dir_name).collect();
        assert_eq!(names, vec!["slow20_fast5", "fast8.5"]);
    }

    #[test]
    fn params_json_make_a_grid_or_name_what_is_wrong() {
        use serde_json::json;
        let v = ParamValues::from_json(&json!({"slow": [20, 30], "fast": 5})).unwrap();
        let combos: Vec<String> = v.combinations().iter().map(|c| c.dir_name()).collect();
        assert_eq!(combos, vec!["fast5_slow20", "fast5_slow30"]);
        assert!(!ParamValues::from_json(&json!({"fast": 5})).unwrap().is_sweep());
        let err = |v: Value| ParamValues::from_json(&v).unwrap_err().to_string();
        assert_eq!(err(json!({"fast": "x"})), "params.fast: expected a number or a list of numbers, got \"x\"");
        assert_eq!(err(json!({"fast": []})), "params.fast: an empty list");
        let big: Vec<i32> = (0..40).collect();
        assert!(err(json!({"a": big, "b": big})).contains("1600 combinations"));
    }

    #[test]
    fn a_params_file_resolves_its_market_and_fills_the_defaults() {
        let p: BacktestParams = serde_json::from_str(r#"{"exchange": "Binance", "symbol": "btc/usdt", "timeframe": "60m", "start": 1, "end": 2}"#).unwrap();
        assert_eq!(p.market.to_string(), "binance BTCUSDT 1h");
        assert_eq!((p.initial_capital, p.fee_rate, p.slippage, p.fill_policy), (DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_SLIPPAGE, DEFAULT_FILL_POLICY));
        assert_eq!(p, BacktestParams { start: Some(1), end: Some(2), ..BacktestParams::new(p.market.clone()) });
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!((v["symbol"].as_str(), v["timeframe"].as_str()), (Some("BTCUSDT"), Some("1h")));
        let bad = BacktestParams { fee_rate: 0.7, ..p.clone() };
        assert_eq!(bad.validate().unwrap_err().to_string(), "fee_rate must be in [0, 0.5), got 0.7");
        assert!(BacktestParams { start: Some(5), end: Some(5), ..p }.validate().is_err());
    }

    #[test]
    fn a_grid_is_the_cartesian_product() {
        let g = ParamValues::grid(&[("fast".into(), vec![5.0, 10.0]), ("slow".into(), vec![20.0, 30.0, 40.0])]);
        let c = g.combinations();
        assert_eq!(c.len(), 6);
        assert_eq!(c[1].dir_name(), "fast5_slow30");
        assert!(!ParamValues::grid(&[("fast".into(), vec![5.0])]).is_sweep());
    }
}
