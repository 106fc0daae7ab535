//! Backtest inputs in the layout of the reference fixtures' params.json.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sim::FillPolicy;

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
    fn a_grid_is_the_cartesian_product() {
        let g = ParamValues::grid(&[("fast".into(), vec![5.0, 10.0]), ("slow".into(), vec![20.0, 30.0, 40.0])]);
        let c = g.combinations();
        assert_eq!(c.len(), 6);
        assert_eq!(c[1].dir_name(), "fast5_slow30");
        assert!(!ParamValues::grid(&[("fast".into(), vec![5.0])]).is_sweep());
    }
}
