//! Concurrent writers: `bb ingest` processes started together into the same lake land every
//! candle exactly once (Delta's conflict check at commit, then the merge redone), ten races in a
//! row, also on S3; `bb backtest` processes storing results at once all land; S3 errors are
//! clear; `bb serve` and its worker run over an S3 lake.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::shared;

fn ingest(dir: &Path, lake: &Path, files: &[&Path]) -> std::process::Child {
    ingest_with(dir, lake.to_str().unwrap(), files, &[])
}

fn ingest_with(dir: &Path, lake: &str, files: &[&Path], env: &[(&str, String)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bb"))
        .arg("ingest")
        .args(files)
        .arg("--lake")
        .arg(lake)
        .current_dir(dir)
        .env("BB_DATA_DIR", dir.join("data"))
        .env_remove("BB_LAKE_URI")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bb ingest starts")
}

/// (rows, distinct natural keys) of the candles table.
fn counts(dir: &Path, lake: &Path) -> (u64, u64) {
    counts_with(dir, lake.to_str().unwrap(), &[])
}

fn counts_with(dir: &Path, lake: &str, env: &[(&str, String)]) -> (u64, u64) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = crate::bb_with(
        dir,
        &["sql", "--lake", lake, "--format", "csv", "SELECT count(*) AS n, count(DISTINCT (exchange, symbol, timeframe, open_time)) AS k FROM candles"],
        &env,
    );
    assert!(o.status.success(), "{}", crate::text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let row = out.lines().nth(1).expect("a row");
    let (n, k) = row.split_once(',').unwrap();
    (n.parse().unwrap(), k.parse().unwrap())
}

#[test]
fn two_ingests_started_together_land_every_candle_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let nic = shared("nic-tradingstrategyga/BTC_USDT-1h.feather");
    let (btc, eth) = (shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json"), shared("djienne-3ema-srsi-atr/ETH_USDT-1h.json"));

    // the answer, one ingest after the other
    let baseline = dir.path().join("baseline");
    for files in [vec![nic.as_path()], vec![btc.as_path(), eth.as_path()]] {
        let o = ingest(dir.path(), &baseline, &files).wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (rows, keys) = counts(dir.path(), &baseline);
    assert_eq!(rows, keys, "one after the other: no duplicates");
    assert_eq!(keys, 103_443, "the distinct (symbol, open_time) keys of the three files");

    for race in 0..10 {
        let lake = dir.path().join(format!("race{race}"));
        let a = ingest(dir.path(), &lake, &[nic.as_path()]);
        let b = ingest(dir.path(), &lake, &[btc.as_path(), eth.as_path()]);
        for (who, child) in [("nic", a), ("djienne", b)] {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "race {race}: the {who} ingest failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        assert_eq!(counts(dir.path(), &lake), (rows, keys), "race {race}: every candle exactly once");
    }
}

#[test]
fn backtests_writing_results_at_once_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared("filimonov-freqtrade/BTC_USDT-5m.feather");
    assert!(crate::bb(dir.path(), &["ingest", src.to_str().unwrap()]).status.success());
    let case = crate::fixtures("param_sweep_sma");
    let backtest = || {
        Command::new(env!("CARGO_BIN_EXE_bb"))
            .args(["backtest", "--strategy", case.join("strategy.json").to_str().unwrap(), "--params", case.join("params.json").to_str().unwrap()])
            .current_dir(dir.path())
            .env("BB_DATA_DIR", dir.path().join("data"))
            .env_remove("BB_LAKE_URI")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bb backtest starts")
    };
    let trades_per_run: usize = ["fast5_slow20", "fast10_slow30", "fast20_slow50", "fast8"]
        .iter()
        .map(|s| std::fs::read_to_string(case.join(s).join("trades.csv")).unwrap().lines().count() - 1)
        .sum();
    let mut runs = vec![];
    for race in 0..4 {
        let (a, b) = (backtest(), backtest());
        for child in [a, b] {
            let o = child.wait_with_output().unwrap();
            let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            assert!(o.status.success(), "race {race}: {out}");
            runs.push(out.lines().find_map(|l| l.strip_prefix("run ")).unwrap_or_else(|| panic!("{out}")).trim().to_string());
        }
    }
    let q = "SELECT run_id, count(*) AS n FROM backtest_metrics GROUP BY run_id ORDER BY run_id";
    let metrics = String::from_utf8(crate::bb(dir.path(), &["sql", q, "--format", "csv"]).stdout).unwrap();
    let mut want: Vec<String> = runs.iter().map(|r| format!("{r},4")).collect();
    want.sort();
    assert_eq!(metrics.lines().skip(1).collect::<Vec<_>>(), want, "every run's four combinations, once");
    let q = "SELECT run_id, count(*) AS n FROM backtest_trades GROUP BY run_id ORDER BY run_id";
    let trades = String::from_utf8(crate::bb(dir.path(), &["sql", q, "--format", "csv"]).stdout).unwrap();
    let mut want: Vec<String> = runs.iter().map(|r| format!("{r},{trades_per_run}")).collect();
    want.sort();
    assert_eq!(trades.lines().skip(1).collect::<Vec<_>>(), want, "every run's trades, once");
}

#[test]
fn the_unsafe_rename_mode_cannot_be_turned_on() {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::bb_with(dir.path(), &["lake", "ls", "--lake", "s3://some-bucket/lake"], &[("AWS_S3_ALLOW_UNSAFE_RENAME", "true")]);
    let out = crate::text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("s3://some-bucket/lake") && out.contains("AWS_S3_ALLOW_UNSAFE_RENAME is set") && out.contains("conditional writes"), "{out}");
}

#[test]
fn two_ingests_into_one_s3_lake_land_every_candle_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = rt.block_on(crate::s3::Moto::start());
    let env = moto.env();
    let dir = tempfile::tempdir().unwrap();
    let nic = shared("nic-tradingstrategyga/BTC_USDT-1h.feather");
    let (btc, eth) = (shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json"), shared("djienne-3ema-srsi-atr/ETH_USDT-1h.json"));
    for race in 0..3 {
        let bucket = format!("race-{race}");
        rt.block_on(moto.bucket(&bucket));
        let lake = format!("s3://{bucket}/lake");
        let a = ingest_with(dir.path(), &lake, &[nic.as_path()], &env);
        let b = ingest_with(dir.path(), &lake, &[btc.as_path(), eth.as_path()], &env);
        for (who, child) in [("nic", a), ("djienne", b)] {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "race {race}: the {who} ingest failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        assert_eq!(counts_with(dir.path(), &lake, &env), (103_443, 103_443), "race {race} on S3: every candle exactly once");
    }
}

#[test]
fn a_missing_bucket_is_an_error_naming_the_lake() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = rt.block_on(crate::s3::Moto::start());
    let env: Vec<(&str, String)> = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let sample = crate::crate_dir().join("../sample/ETH_USDT-1h.json.gz");
    for args in [vec!["lake", "ls"], vec!["ingest", sample.to_str().unwrap()], vec!["sql", "SELECT count(*) FROM candles"]] {
        let mut args = args;
        args.extend(["--lake", "s3://no-such-bucket/lake"]);
        let o = crate::bb_with(dir.path(), &args, &env);
        let out = crate::text(&o);
        assert!(!o.status.success(), "{args:?}: {out}");
        assert!(out.contains("lake s3://no-such-bucket/lake: the bucket 'no-such-bucket' does not exist at http://127.0.0.1:"), "{args:?}: {out}");
        assert!(!out.contains("<Error>"), "no raw XML: {out}");
    }
}

#[test]
fn bb_serve_backtests_over_an_s3_lake_and_bb_sql_reads_the_results() {
    let spot = crate::Spot::s3();
    let db = crate::FreshDatabase::new();
    let sample = crate::crate_dir().join("../sample/ETH_USDT-1h.json.gz");
    let o = spot.bb(&["ingest", sample.to_str().unwrap()]);
    assert!(o.status.success(), "{}", crate::text(&o));
    let mut env: Vec<(&str, &str)> = spot.env().iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([("DATABASE_URL", db.url.as_str()), ("BB_JWT_SECRET", crate::http::SECRET)]);
    let served = crate::Served::start(spot.path(), &[], &env, &[]);
    let base = format!("http://{}/api/v1", served.host());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tok = crate::http::token("s3-api@example.com", "builder", Some("premium"));
    let client = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder, body: Option<serde_json::Value>| crate::send(&rt, &tok, req, body);
    let graph: serde_json::Value = serde_json::from_str(include_str!("../../../sample/sma_cross.json")).unwrap();
    let (status, s) = send(client.post(format!("{base}/strategies")), Some(serde_json::json!({"title": "on s3", "graphJson": graph})));
    assert_eq!(status, 201, "{s}");
    let (_, versions) = send(client.get(format!("{base}/strategies/{}/versions", s["id"].as_str().unwrap())), None);
    let body = serde_json::json!({"strategyVersionId": versions["items"][0]["id"], "exchange": "binance", "symbol": "ETHUSDT",
        "timeframe": "1h", "from": "2022-03-17T03:00:00Z", "to": "2022-07-20T03:00:00Z"});
    let (status, run) = send(client.post(format!("{base}/backtests")), Some(body));
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let done = loop {
        let (_, r) = send(client.get(format!("{base}/backtests/{run_id}")), None);
        if r["status"] == "succeeded" {
            break r;
        }
        assert!(r["status"] != "failed" && std::time::Instant::now() < deadline, "{r}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // the worker wrote the run's results to the bucket: bb sql reads them there
    let q = format!("SELECT count(*) AS n FROM backtest_trades WHERE run_id = '{run_id}'");
    let o = spot.bb(&["sql", &q, "--format", "csv"]);
    assert!(o.status.success(), "{}", crate::text(&o));
    let trades: i64 = String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(Some(trades), done["metrics"]["trade_count"].as_i64().or(done["summary"]["trades"].as_i64()).or(Some(trades)), "{done}");
    assert!(trades > 0, "{done}");
}
