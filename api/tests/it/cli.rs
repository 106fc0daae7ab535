//! The basic subcommands: help, ingest, sql, demo, lake.

use std::process::Command;

use crate::*;

#[test]
fn help_lists_every_subcommand_with_its_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let o = bb(dir.path(), &["--help"]);
    assert!(o.status.success());
    let help = text(&o);
    for cmd in ["ingest", "resample", "lake", "sql", "sql-server", "serve", "worker", "demo"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd) && l.len() > cmd.len() + 10), "{cmd} in:\n{help}");
    }
}

#[test]
fn ingest_lands_good_files_and_fails_on_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("ETH_USDT-1h.json");
    let bytes = std::fs::read(shared("djienne-3ema-srsi-atr/ETH_USDT-1h.json")).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let good = shared("djienne-3ema-srsi-atr/BTC_USDT-1d.json");
    let o = bb(dir.path(), &["ingest", good.to_str().unwrap(), broken.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("ETH_USDT-1h.json: cannot parse at line 1, column"), "{out}");
    assert!(out.contains("inferred: format json; symbol BTCUSDT from the file name; timeframe 1d from the file name"), "{out}");
    let summary = out.lines().find(|l| l.starts_with("ingested 1 file(s), 1 failed:")).unwrap_or_else(|| panic!("{out}"));
    for part in ["rows read", "landed", "quarantined", "duplicates merged", "gap(s)", " s, ", "rows/s"] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
    let o = bb(dir.path(), &["sql", "SELECT symbol, count(*) AS n FROM candles GROUP BY symbol", "--format", "csv"]);
    let rows = String::from_utf8(o.stdout).unwrap();
    let source: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&std::fs::read(&good).unwrap()).unwrap();
    assert_eq!(rows, format!("symbol,n\nBTCUSDT,{}\n", source.len()), "only the good file landed");
}

#[test]
fn sql_csv_and_json_carry_floats_at_full_precision() {
    let dir = tempfile::tempdir().unwrap();
    let src = shared("davidzhaodz-freqtrade/ETH_USDT-1m.json");
    assert!(bb(dir.path(), &["ingest", src.to_str().unwrap()]).status.success());
    let source: Vec<Vec<f64>> = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    let q = "SELECT open_time, open, high, low, close, volume, trade_count FROM candles ORDER BY open_time";
    let csv_out = bb(dir.path(), &["sql", q, "--format", "csv"]);
    let csv_text = String::from_utf8(csv_out.stdout).unwrap();
    let mut lines = csv_text.lines();
    assert_eq!(lines.next(), Some("open_time,open,high,low,close,volume,trade_count"));
    let mut n = 0;
    for (line, row) in lines.zip(&source) {
        let f: Vec<&str> = line.split(',').collect();
        for k in 1..6 {
            assert_eq!(f[k].parse::<f64>().unwrap(), row[k], "{line}");
        }
        assert_eq!(f[6], "", "NULL is an empty field");
        n += 1;
    }
    assert_eq!(n, source.len());
    let json_out = bb(dir.path(), &["sql", &format!("{q} LIMIT 50"), "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json_out.stdout).unwrap();
    for (r, row) in rows.iter().zip(&source) {
        assert_eq!(r["volume"].as_f64().unwrap(), row[5]);
        assert!(r["trade_count"].is_null());
    }
}

#[test]
fn demo_ingests_the_bundled_sample() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::FreshDatabase::new();
    let o = crate::bb_with(dir.path(), &["demo"], &[("DATABASE_URL", &db.url)]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    for f in ["BTC_USDT-1h.json.gz", "ETH_USDT-1h.json.gz", "BTC_USDT-1m.json.gz", "ETH_USDT-1m.json.gz"] {
        assert!(out.contains(&format!("ingested {f}: 3000 rows, 3000 new")), "{f}: {out}");
    }
    assert!(dir.path().join("data/lake/candles/_delta_log").is_dir());
    assert!(out.contains("backtest of sample/sma_cross.json"), "{out}");
    assert!(out.contains("sweep fast × slow (9 combinations)"), "{out}");
    // it ends with a backtest submitted through the API, run by the worker, its metrics printed
    assert!(out.contains("POST /backtests (ETHUSDT 1h, fast × slow sweep) → 202"), "{out}");
    let done = out.lines().skip_while(|l| !l.contains("→ succeeded (4 combinations")).nth(1).unwrap_or_else(|| panic!("{out}"));
    assert!(done.trim_start().starts_with("total return ") && done.contains("sharpe") && done.contains("trades"), "{out}");
    // running it again is idempotent
    let again = text(&crate::bb_with(dir.path(), &["demo"], &[("DATABASE_URL", &db.url)]));
    assert!(again.contains("ingested BTC_USDT-1h.json.gz: 3000 rows, 0 new, 3000 already present"), "{again}");
    let ls = text(&bb(dir.path(), &["lake", "ls"]));
    assert!(ls.contains("binance/ETHUSDT/1m") && ls.contains("3000 rows"), "{ls}");
}

#[test]
fn an_unknown_lake_scheme_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = bb(dir.path(), &["--lake", "ftp://example.com/lake", "lake", "ls"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("unsupported lake URI scheme 'ftp'"), "{}", text(&o));
}

#[test]
fn token_prints_only_the_token_and_serve_answers_with_it() {
    use std::io::BufRead;
    let db = crate::FreshDatabase::new();
    let database_url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    // candles for the backtest that the embedded worker runs
    let sample = crate::crate_dir().join("../sample/ETH_USDT-1h.json.gz");
    assert!(bb(dir.path(), &["ingest", sample.to_str().unwrap()]).status.success());
    let secret = "e2e-secret-e2e-secret-e2e-secret-e2e-secret";
    let out = Command::new(env!("CARGO_BIN_EXE_bb")).args(["token", "--email", "e2e@example.com", "--plan", "premium"]).env("BB_JWT_SECRET", secret).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert_eq!(token.split('.').count(), 3, "{stdout}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bb"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("BB_DATA_DIR", dir.path().join("data"))
        .env("DATABASE_URL", &database_url)
        .env("BB_JWT_SECRET", secret)
        .env("BB_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut base = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("serving http://") {
            base = Some(format!("http://{}", rest.split_whitespace().next().unwrap()));
            break;
        }
    }
    let base = base.expect("bb serve announces its address");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    let send = |req: reqwest::RequestBuilder| {
        rt.block_on(async {
            let r = req.bearer_auth(&token).send().await.unwrap();
            let status = r.status().as_u16();
            (status, serde_json::from_slice::<serde_json::Value>(&r.bytes().await.unwrap()).unwrap_or_default())
        })
    };
    let json = |path: &str, body: serde_json::Value| client.post(format!("{base}{path}")).header("content-type", "application/json").body(body.to_string());
    let (status, me) = send(client.get(format!("{base}/me")));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "e2e@example.com");
    assert_eq!(me["planTier"], "premium");
    // the embedded worker runs a backtest submitted to the server
    let graph: serde_json::Value = serde_json::from_str(include_str!("../../../sample/sma_cross.json")).unwrap();
    let (status, s) = send(json("/strategies", serde_json::json!({"title": "e2e", "graphJson": graph})));
    assert_eq!(status, 201, "{s}");
    let (_, versions) = send(client.get(format!("{base}/strategies/{}/versions", s["id"].as_str().unwrap())));
    let body = serde_json::json!({"strategyVersionId": versions["items"][0]["id"], "exchange": "binance", "symbol": "ETHUSDT",
        "timeframe": "1h", "from": "2022-03-17T03:00:00Z", "to": "2022-07-20T03:00:00Z"});
    let (status, run) = send(json("/backtests", body));
    assert_eq!(status, 202, "{run}");
    let url = format!("{base}/backtests/{}", run["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let (_, run) = send(client.get(&url));
        if run["status"] == "succeeded" || run["status"] == "failed" || std::time::Instant::now() > deadline {
            break run;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["metrics"]["totalReturnPct"].is_number(), "{run}");
}

#[test]
fn backtest_help_shows_the_defaults_the_engine_uses() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(&bb(dir.path(), &["backtest", "--help"]));
    use pipelines::backtest::{DEFAULT_CAPITAL, DEFAULT_FEE_RATE, DEFAULT_FILL_POLICY, DEFAULT_SLIPPAGE};
    for (flag, default) in [("--capital", DEFAULT_CAPITAL.to_string()), ("--fee-rate", DEFAULT_FEE_RATE.to_string()), ("--slippage", DEFAULT_SLIPPAGE.to_string()), ("--fill-policy", DEFAULT_FILL_POLICY.to_string())] {
        let line = help.lines().find(|l| l.trim_start().starts_with(flag)).unwrap_or_else(|| panic!("{flag} in:\n{help}"));
        assert!(line.ends_with(&format!("[default: {default}]")), "{line}");
    }
}

#[test]
fn a_reader_that_stops_early_ends_bb_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let src = shared("davidzhaodz-freqtrade/ETH_USDT-1m.json");
    assert!(bb(dir.path(), &["ingest", src.to_str().unwrap()]).status.success());
    // sql writes and gets the error back; backtest prints with println!, which panics on it
    let strategy = crate::fixtures("param_sweep_sma").join("strategy.json");
    let fast = (2..=30).map(|v| v.to_string()).collect::<Vec<_>>().join(",");
    let slow = (31..=60).map(|v| v.to_string()).collect::<Vec<_>>().join(",");
    let sweep = ["backtest", "--strategy", strategy.to_str().unwrap(), "--symbol", "ETHUSDT", "--timeframe", "1m", "--param", &format!("fast={fast}"),
        "--param", &format!("slow={slow}"), "--top", "1000", "--no-store"];
    let commands: Vec<Vec<&str>> = vec![
        vec!["sql", "SELECT * FROM candles", "--format", "csv"],
        vec!["sql", "SELECT * FROM candles", "--format", "json"],
        vec!["sql", "SELECT * FROM candles", "--format", "table"],
        sweep.to_vec(),
    ];
    for args in commands {
        let format = args.join(" ");
        let mut child = Command::new(env!("CARGO_BIN_EXE_bb"))
            .args(&args)
            .env("BB_DATA_DIR", dir.path().join("data"))
            .env_remove("BB_LAKE_URI")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        // the reader is gone (like `| head -1`); the output is far larger than a pipe's buffer
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{format}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stderr.is_empty(), "{format}: {}", String::from_utf8_lossy(&o.stderr));
    }
}
