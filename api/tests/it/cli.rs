//! The basic subcommands: help, ingest, sql, demo, lake.

use std::process::Command;

use crate::*;

#[test]
fn help_lists_every_subcommand_with_its_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let o = bb(dir.path(), &["--help"]);
    assert!(o.status.success());
    let help = text(&o);
    for cmd in ["ingest", "resample", "lake", "sql", "sql-server", "serve", "worker", "paper", "demo"] {
        assert!(help.lines().any(|l| l.trim_start().starts_with(cmd) && l.len() > cmd.len() + 10), "{cmd} in:\n{help}");
    }
}

crate::on_both_lakes!(ingest_lands_good_files_and_fails_on_a_broken_one, |spot: &crate::Spot| {
    let dir = spot.path();
    let broken = dir.join("ETH_USDT-1h.json");
    let bytes = std::fs::read(shared("djienne-3ema-srsi-atr/ETH_USDT-1h.json")).unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 3]).unwrap();
    let good = shared("djienne-3ema-srsi-atr/BTC_USDT-1d.json");
    let o = spot.bb(&["ingest", good.to_str().unwrap(), broken.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("ETH_USDT-1h.json: cannot parse at line 1, column"), "{out}");
    assert!(out.contains("inferred: format json; symbol BTCUSDT from the file name; timeframe 1d from the file name"), "{out}");
    let summary = out.lines().find(|l| l.starts_with("ingested 1 file(s), 1 failed:")).unwrap_or_else(|| panic!("{out}"));
    for part in ["rows read", "landed", "quarantined", "duplicates merged", "gap(s)", " s, ", "rows/s"] {
        assert!(summary.contains(part), "{part}: {summary}");
    }
    let o = spot.bb(&["sql", "SELECT symbol, count(*) AS n FROM candles GROUP BY symbol", "--format", "csv"]);
    let rows = String::from_utf8(o.stdout).unwrap();
    let source: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&std::fs::read(&good).unwrap()).unwrap();
    assert_eq!(rows, format!("symbol,n\nBTCUSDT,{}\n", source.len()), "only the good file landed");
});

crate::on_both_lakes!(sql_csv_and_json_carry_floats_at_full_precision, |spot: &crate::Spot| {
    let src = shared("davidzhaodz-freqtrade/ETH_USDT-1m.json");
    assert!(spot.bb(&["ingest", src.to_str().unwrap()]).status.success());
    let source: Vec<Vec<f64>> = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    let q = "SELECT open_time, open, high, low, close, volume, trade_count FROM candles ORDER BY open_time";
    let csv_out = spot.bb(&["sql", q, "--format", "csv"]);
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
    let json_out = spot.bb(&["sql", &format!("{q} LIMIT 50"), "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&json_out.stdout).unwrap();
    for (r, row) in rows.iter().zip(&source) {
        assert_eq!(r["volume"].as_f64().unwrap(), row[5]);
        assert!(r["trade_count"].is_null());
    }
});

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
    // then a paper trade, fed the sample's last day bar by bar, its fills in the lake
    assert!(out.contains("POST /paper-trades (BTCUSDT 1m"), "{out}");
    let replay = out.lines().find(|l| l.contains("replayed the last day bar by bar (1440 candles")).unwrap_or_else(|| panic!("{out}"));
    let snapshot = out.lines().find(|l| l.contains("GET /paper-trades/")).unwrap_or_else(|| panic!("{out}"));
    let trades: usize = snapshot.split(" trades").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{snapshot}"));
    assert!(trades > 0, "{snapshot}");
    // an entry and an exit per closed trade (the run ends flat or holds one more entry)
    let fills: usize = replay.split(" fills").next().and_then(|s| s.rsplit(' ').next()).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{replay}"));
    assert!(fills == 2 * trades || fills == 2 * trades + 1, "{replay} / {snapshot}");
    assert!(replay.contains("1440 equity points"), "{replay}");
    assert!(out.contains("{status: stopped} → \"stopped\""), "{out}");
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
    let served = crate::Served::start(dir.path(), &[], &[("DATABASE_URL", &database_url), ("BB_JWT_SECRET", secret), ("BB_LOG", "warn")], &[]);
    let base = served.base.clone();
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
    drop(served);
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

/// Fixture candles as a CSV file `bb ingest` reads.
fn candles_csv(path: &std::path::Path, rows: &[String]) {
    std::fs::write(path, format!("open_time,open,high,low,close,volume\n{}\n", rows.join("\n"))).unwrap();
}

#[test]
fn bb_paper_starts_replays_and_stops_a_run_without_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let db = crate::FreshDatabase::new();
    let env = [("DATABASE_URL", db.url.as_str())];
    let rows: Vec<String> = std::fs::read_to_string(crate::fixtures("sma_cross_next_open/candles.csv")).unwrap().lines().skip(1).map(String::from).collect();
    let (history, next, later) = (dir.path().join("history.csv"), dir.path().join("next.csv"), dir.path().join("later.csv"));
    candles_csv(&history, &rows[..300]);
    candles_csv(&next, &rows[300..348]);
    candles_csv(&later, &rows[348..360]);
    let o = bb(dir.path(), &["ingest", "--symbol", "BTCUSDT", "--timeframe", "1h", history.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // a user and a strategy version, as the API would have stored them
    let o = crate::bb_with(dir.path(), &["paper", "ls"], &env);
    assert!(o.status.success() && text(&o).contains("no paper trades"), "{}", text(&o));
    let version = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let user = api::auth::jwt::user_id_for_email("cli@example.com");
        sqlx::query("INSERT INTO users (id, email, display_name) VALUES ($1, 'cli@example.com', 'cli')").bind(user).execute(&pool).await.unwrap();
        let s: uuid::Uuid = sqlx::query_scalar("INSERT INTO strategies (owner_id, title, slug) VALUES ($1, 'SMA', 'sma') RETURNING id").bind(user).fetch_one(&pool).await.unwrap();
        let graph: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(crate::fixtures("sma_cross_next_open/strategy.json")).unwrap()).unwrap();
        let v: uuid::Uuid = sqlx::query_scalar("INSERT INTO strategy_versions (strategy_id, version, graph_json, created_by) VALUES ($1, 1, $2, $3) RETURNING id").bind(s).bind(graph).bind(user).fetch_one(&pool).await.unwrap();
        v.to_string()
    });

    let o = crate::bb_with(dir.path(), &["paper", "start", "--strategy-version", &version, "--symbol", "BTC/USDT", "--timeframe", "60m", "--max-drawdown-pct", "50"], &env);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("for cli@example.com (scheduled)"), "{out}");
    let id = out.split("started paper trade ").nth(1).and_then(|s| s.split(' ').next()).unwrap().to_string();
    // a bad start names the problem and starts nothing
    let o = crate::bb_with(dir.path(), &["paper", "start", "--strategy-version", &version, "--symbol", "BTCUSDT", "--timeframe", "4h"], &env);
    assert!(!o.status.success() && text(&o).contains("only at 1h"), "{}", text(&o));

    // replaying a file: every bar processed before it returns; again: nothing new
    let o = crate::bb_with(dir.path(), &["paper", "replay", "--run", &id, next.to_str().unwrap()], &env);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("replayed 48 bar(s) of binance BTCUSDT 1h: 348 new to the run"), "warm-up bars first, then the file's: {out}");
    let o = crate::bb_with(dir.path(), &["paper", "replay", "--run", &id, next.to_str().unwrap()], &env);
    assert!(text(&o).contains("0 new to the run (48 already processed)"), "{}", text(&o));
    // or candles already in the lake, by time
    let o = crate::bb_with(dir.path(), &["paper", "replay", "--run", &id, "--from", "2021-10-11T21:00:00Z", "--to", "2030-01-01"], &env);
    assert!(text(&o).contains("0 new to the run (48 already processed)"), "{}", text(&o));
    let show: serde_json::Value = serde_json::from_slice(&crate::bb_with(dir.path(), &["paper", "show", &id], &env).stdout).unwrap();
    assert_eq!((show["status"].as_str(), show["barsTraded"].as_i64(), show["barsSeen"].as_i64()), (Some("active"), Some(48), Some(348)), "{show}");
    let lake_rows = text(&bb(dir.path(), &["sql", "--format", "csv", &format!("SELECT count(*) AS n FROM paper_equity WHERE run_id = '{id}'")]));
    assert!(lake_rows.contains("\n48"), "replay flushes the run's equity into the lake: {lake_rows}");

    // new candles ingested with DATABASE_URL set are announced to the run
    let o = crate::bb_with(dir.path(), &["ingest", "--symbol", "BTCUSDT", "--timeframe", "1h", later.to_str().unwrap()], &env);
    assert!(text(&o).contains("1 paper-trading run(s) of these markets have a tick queued"), "{}", text(&o));
    let o = crate::bb_with(dir.path(), &["paper", "pause", &id], &env);
    assert!(text(&o).contains("paused"), "{}", text(&o));
    let o = crate::bb_with(dir.path(), &["paper", "resume", &id], &env);
    assert!(text(&o).contains("active") && text(&o).contains("bars 60"), "resuming catches up the 12 bars: {}", text(&o));
    let o = crate::bb_with(dir.path(), &["paper", "ls", "--status", "active"], &env);
    assert!(text(&o).contains(&id), "{}", text(&o));
    let o = crate::bb_with(dir.path(), &["paper", "stop", &id], &env);
    assert!(o.status.success() && text(&o).contains("stopped"), "{}", text(&o));
    let o = crate::bb_with(dir.path(), &["paper", "resume", &id], &env);
    assert!(!o.status.success() && text(&o).contains("stopped, which is final"), "{}", text(&o));
}
