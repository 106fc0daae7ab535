//! Another Delta reader (the Python `deltalake` package, delta-rs's Python binding) reads our tables.

use std::process::Command;

use arrow::array::AsArray;
use arrow::datatypes::Float64Type;

use crate::*;

fn python() -> String {
    if let Ok(p) = std::env::var("BB_PYTHON") {
        return p;
    }
    let script = crate::crate_dir().join("../scripts/python-env.sh");
    let out = Command::new(script).output().expect("scripts/python-env.sh runs");
    assert!(out.status.success(), "python env: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn python_deltalake_reads_the_candles_table() {
    let (dir, lake) = temp_lake();
    ingest(&lake, &shared("harthor-marketlab/ETH_USDT-1d.feather")).await;
    ingest(&lake, &shared("harthor-marketlab/BTC_USDT-1d.feather")).await;
    let ours = sql(&lake, "SELECT count(*), sum(close) FROM candles WHERE symbol = 'ETHUSDT'").await;
    let (n, sum) = (ours[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0), ours[0].column(1).as_primitive::<Float64Type>().value(0));
    let table = dir.path().join("lake/candles");
    let code = r#"
import sys
import pyarrow.compute as pc
from deltalake import DeltaTable
t = DeltaTable(sys.argv[1])
parts = sorted(set(tuple(sorted(p.items())) for p in t.partitions()))
data = t.to_pyarrow_table(filters=[("symbol", "=", "ETHUSDT")])
print(t.version(), data.num_rows, repr(pc.sum(data["close"]).as_py()), data.schema.field("open_time").type, len(parts), flush=True)
# the deltalake/pyarrow native threads sometimes abort ("terminate called without an active exception")
# during interpreter teardown, after the work is done: leave without it
import os
os._exit(0)
"#;
    let out = Command::new(python()).arg("-c").arg(code).arg(&table).output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f[1].parse::<i64>().unwrap(), n, "{text}");
    let py_sum: f64 = f[2].parse().unwrap();
    assert!((py_sum - sum).abs() <= 1e-9 * sum, "{py_sum} vs {sum}");
    assert!(text.contains("timestamp[us, tz=UTC]"), "{text}");
    assert_eq!(f.last().unwrap().parse::<usize>().unwrap(), 2, "{text}");
}
