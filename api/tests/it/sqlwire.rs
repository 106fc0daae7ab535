//! The SQL endpoint over the PostgreSQL wire protocol, with real clients over TCP (sqlx's
//! PostgreSQL driver, psql, and psycopg in the notebooks): the same answers as `bb sql`, each
//! user's runs only, read-only, bad tokens refused, limits, and the notebooks executed headless.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use api::auth::jwt::Verifier;
use api::sqlwire::{Limits, SqlServer};
use axum::http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Row};

use crate::http::{call, token, SECRET};
use crate::{bb_with, fixtures, shared, text, FreshDatabase};

/// Serves `lake` and `pool` over the wire on a free port; returns the port.
async fn serve(pool: &PgPool, lake: &lake::Lake, limits: Limits) -> u16 {
    serve_with_logins(pool, lake, limits, 0).await
}

async fn serve_with_logins(pool: &PgPool, lake: &lake::Lake, limits: Limits, logins_per_minute: u32) -> u16 {
    let server = SqlServer::new(pool.clone(), Arc::new(lake.clone()), Arc::new(Verifier::new(Some(SecretString::from(SECRET)), None)), limits, logins_per_minute);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(server.serve(listener, std::future::pending()));
    port
}

fn options(port: u16, user: &str, password: &str) -> PgConnectOptions {
    PgConnectOptions::new().host("127.0.0.1").port(port).username(user).password(password).database("blockbuilders")
}

async fn connect(port: u16, email: &str, role: &str) -> PgConnection {
    PgConnection::connect_with(&options(port, email, &token(email, role, Some("premium")))).await.unwrap()
}

const LIMITS: Limits = Limits { max_rows: 1_000_000, timeout: Duration::from_secs(60) };

/// A lake with BTC 1h candles, and one finished backtest run for each of `users`; returns the run ids.
async fn runs_of(pool: &PgPool, users: &[&str]) -> (tempfile::TempDir, lake::Lake, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().join("lake").display().to_string())).unwrap();
    ingest::ingest_file(&lake, &shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json"), &ingest::IngestOptions::default(), &|_| {}).await.unwrap();
    let st = crate::http::state(pool.clone(), Verifier::new(Some(SecretString::from(SECRET)), None), lake.clone()).await;
    let app = api::http::router(st, &api::config::ApiConfig::default());
    let graph: Value = serde_json::from_str(&std::fs::read_to_string(fixtures("param_sweep_sma/strategy.json")).unwrap()).unwrap();
    let mut ids = Vec::new();
    for (k, email) in users.iter().enumerate() {
        let tok = token(email, "builder", Some("premium"));
        let s = call(&app, Method::POST, "/api/v1/strategies", Some(&tok), Some(json!({"title": "S", "graphJson": graph}))).await.body;
        let v = call(&app, Method::GET, &format!("/api/v1/strategies/{}/versions", s["id"].as_str().unwrap()), Some(&tok), None).await.body;
        let body = json!({"strategyVersionId": v["items"][0]["id"], "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h",
            "from": "2021-01-01T00:00:00Z", "to": "2021-04-01T00:00:00Z", "params": {"fast": [5 + k, 10], "slow": 30}});
        let r = call(&app, Method::POST, "/api/v1/backtests", Some(&tok), Some(body)).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        let worker = api::jobs::Worker::new(pool.clone(), Arc::new(lake.clone()), Default::default());
        assert!(worker.step().await.unwrap());
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    (dir, lake, ids)
}

/// `bb sql QUERY --format csv` over the lake in `dir`, as rows of fields.
fn bb_sql(dir: &Path, query: &str) -> Vec<Vec<String>> {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_bb")).args(["--lake", dir.join("lake").to_str().unwrap(), "sql", query, "--format", "csv"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap().lines().skip(1).map(|l| l.split(',').map(String::from).collect()).collect()
}

fn field(row: &PgRow, i: usize) -> String {
    use sqlx::{TypeInfo, ValueRef};
    let raw = row.try_get_raw(i).unwrap();
    if raw.is_null() {
        return String::new();
    }
    match raw.type_info().name() {
        "TIMESTAMPTZ" => row.get::<chrono::DateTime<chrono::Utc>, _>(i).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "FLOAT8" => row.get::<f64, _>(i).to_string(),
        "INT8" => row.get::<i64, _>(i).to_string(),
        "TEXT" | "VARCHAR" => row.get::<String, _>(i),
        other => panic!("unexpected type {other}"),
    }
}

fn rows(rows: &[PgRow]) -> Vec<Vec<String>> {
    rows.iter().map(|r| (0..r.len()).map(|i| field(r, i)).collect()).collect()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn queries_over_the_wire_equal_bb_sql_and_show_only_your_runs(pool: PgPool) {
    let (dir, lake, ids) = runs_of(&pool, &["ana@example.com", "bob@example.com"]).await;
    let port = serve(&pool, &lake, LIMITS).await;
    let mut ana = connect(port, "ana@example.com", "builder").await;

    // candles and indicators: the same rows and values as bb sql, over the extended protocol with typed parameters
    let q = "SELECT open_time, close, sma(close, 20) OVER w AS sma20, rsi(close, 14) OVER w AS rsi14 FROM candles \
             WHERE symbol = 'BTCUSDT' AND timeframe = '1h' WINDOW w AS (ORDER BY open_time) ORDER BY open_time LIMIT 300";
    let wire = rows(&sqlx::query(q).fetch_all(&mut ana).await.unwrap());
    assert_eq!(wire.len(), 300);
    assert_eq!(wire, bb_sql(dir.path(), q));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM candles WHERE symbol = $1 AND open_time >= $2")
        .bind("BTCUSDT")
        .bind(chrono::DateTime::parse_from_rfc3339("2021-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc))
        .fetch_one(&mut ana)
        .await
        .unwrap();
    assert_eq!(n.to_string(), bb_sql(dir.path(), "SELECT count(*) FROM candles WHERE symbol = 'BTCUSDT' AND open_time >= '2021-01-01T00:00:00Z'")[0][0]);
    // the simple protocol too
    let simple: Vec<PgRow> = sqlx::raw_sql("SELECT symbol, count(*) AS n FROM candles GROUP BY symbol").fetch_all(&mut ana).await.unwrap();
    assert_eq!(simple.len(), 1);

    // the backtest tables hold ana's run only, with the same rows bb sql has for it
    for table in ["backtest_metrics", "backtest_trades", "backtest_equity"] {
        let seen: Vec<String> = sqlx::query_scalar(&format!("SELECT DISTINCT run_id FROM {table}")).fetch_all(&mut ana).await.unwrap();
        assert_eq!(seen, vec![ids[0].clone()], "{table}");
    }
    let q = "SELECT combo, params, total_return_pct, sharpe, max_drawdown_pct, trades FROM backtest_metrics ORDER BY combo";
    let mine = rows(&sqlx::query(q).fetch_all(&mut ana).await.unwrap());
    let all = bb_sql(dir.path(), &q.replace("ORDER BY", &format!("WHERE run_id = '{}' ORDER BY", ids[0])));
    assert_eq!(mine.len(), 2);
    // (bb sql's CSV quotes the JSON params; compare the numbers)
    assert_eq!(mine.iter().map(|r| r[2..].to_vec()).collect::<Vec<_>>(), all.iter().map(|r| r[r.len() - 4..].to_vec()).collect::<Vec<_>>());
    let trades: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_trades").fetch_one(&mut ana).await.unwrap();
    assert_eq!(trades.to_string(), bb_sql(dir.path(), &format!("SELECT count(*) FROM backtest_trades WHERE run_id = '{}'", ids[0]))[0][0]);
    let runs = sqlx::query("SELECT run_id, owner_email, status, combinations, sharpe FROM backtest_runs").fetch_all(&mut ana).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].get::<String, _>(0), runs[0].get::<String, _>(1), runs[0].get::<String, _>(2)), (ids[0].clone(), "ana@example.com".into(), "succeeded".into()));
    // a join across Postgres metadata and lake results
    let best: f64 = sqlx::query_scalar("SELECT max(m.sharpe) FROM backtest_metrics m JOIN backtest_runs r ON r.run_id = m.run_id WHERE r.status = 'succeeded'")
        .fetch_one(&mut ana)
        .await
        .unwrap();
    assert_eq!(best, runs[0].get::<f64, _>(4), "the run's headline sharpe is its best combination's");

    // bob sees his, an admin sees both
    let mut bob = connect(port, "bob@example.com", "builder").await;
    let seen: Vec<String> = sqlx::query_scalar("SELECT DISTINCT run_id FROM backtest_trades").fetch_all(&mut bob).await.unwrap();
    assert_eq!(seen, vec![ids[1].clone()]);
    let mut admin = connect(port, "root@example.com", "admin").await;
    let mut seen: Vec<String> = sqlx::query_scalar("SELECT DISTINCT run_id FROM backtest_metrics").fetch_all(&mut admin).await.unwrap();
    seen.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(seen, want);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM backtest_runs").fetch_one(&mut admin).await.unwrap();
    assert_eq!(n, 2);
    ana.close().await.unwrap();
}

fn sqlstate(e: &sqlx::Error) -> String {
    e.as_database_error().and_then(|d| d.code()).map(|c| c.to_string()).unwrap_or_else(|| format!("not a database error: {e}"))
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn writes_bad_tokens_and_runaway_queries_are_refused(pool: PgPool) {
    let (_dir, lake, _) = runs_of(&pool, &["ana@example.com"]).await;
    let port = serve(&pool, &lake, Limits { max_rows: 1000, timeout: Duration::from_millis(300) }).await;
    let mut ana = connect(port, "ana@example.com", "builder").await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM candles").fetch_one(&mut ana).await.unwrap();
    for sql in [
        "INSERT INTO candles SELECT * FROM candles LIMIT 1",
        "DELETE FROM backtest_trades",
        "UPDATE candles SET close = 0",
        "CREATE TABLE mine AS SELECT * FROM candles",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE candles",
        "COPY candles TO '/tmp/bb-copy-test.csv'",
        "SELECT * INTO stolen FROM backtest_trades",
    ] {
        // both protocols: simple (raw_sql) and extended (query)
        let e = sqlx::raw_sql(sql).execute(&mut ana).await.unwrap_err();
        assert_eq!(sqlstate(&e), "25006", "{sql}: {e}");
        assert!(e.to_string().contains("read-only"), "{e}");
        let e = sqlx::query(sql).execute(&mut ana).await.unwrap_err();
        assert_eq!(sqlstate(&e), "25006", "{sql}: {e}");
    }
    assert!(!Path::new("/tmp/bb-copy-test.csv").exists());
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM candles").fetch_one(&mut ana).await.unwrap();
    assert_eq!(before, after);
    let tables: Vec<String> = sqlx::query_scalar("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1").fetch_all(&mut ana).await.unwrap();
    assert_eq!(tables, vec!["backtest_equity", "backtest_metrics", "backtest_runs", "backtest_trades", "candles", "paper_equity", "paper_fills", "paper_trades"]);

    // limits: too many rows, too long
    let e = sqlx::query("SELECT * FROM candles").fetch_all(&mut ana).await.unwrap_err();
    assert!(e.to_string().contains("more than 1000 rows"), "{e}");
    let ok = sqlx::query("SELECT * FROM candles LIMIT 1000").fetch_all(&mut ana).await.unwrap();
    assert_eq!(ok.len(), 1000);
    let e = sqlx::query("SELECT count(DISTINCT a.close * b.close) FROM candles a, candles b").fetch_one(&mut ana).await.unwrap_err();
    assert!(e.to_string().contains("ran longer than the 0.3 s limit"), "{e}");
    // the connection is still usable
    let one: i64 = sqlx::query_scalar("SELECT 1::bigint").fetch_one(&mut ana).await.unwrap();
    assert_eq!(one, 1);

    // bad tokens, another user's name, another database
    let refused = |opts: PgConnectOptions| async move { PgConnection::connect_with(&opts).await.map(|_| ()).unwrap_err() };
    let e = refused(options(port, "ana@example.com", "not-a-token")).await;
    assert_eq!(sqlstate(&e), "28P01", "{e}");
    let claims = api::auth::jwt::claims_for(&api::auth::jwt::user_id_for_email("ana@example.com").to_string(), Some("ana@example.com"), &["builder"], None, Duration::from_secs(1));
    let mut expired = claims.clone();
    expired.exp = expired.iat - 3600;
    let e = refused(options(port, "ana@example.com", &api::auth::jwt::sign_hs256(&SecretString::from(SECRET), &expired).unwrap())).await;
    assert_eq!(sqlstate(&e), "28P01", "{e}");
    assert!(e.to_string().contains("expired") || e.to_string().contains("Expired"), "{e}");
    let forged = api::auth::jwt::sign_hs256(&SecretString::from("another-secret-another-secret-another-1"), &claims).unwrap();
    assert_eq!(sqlstate(&refused(options(port, "ana@example.com", &forged)).await), "28P01");
    let e = refused(options(port, "bob@example.com", &token("ana@example.com", "builder", None))).await;
    assert_eq!(sqlstate(&e), "28000", "{e}");
    let e = refused(options(port, "ana@example.com", &token("ana@example.com", "builder", None)).database("postgres")).await;
    assert_eq!(sqlstate(&e), "3D000", "{e}");
}

/// Starts `bb sql-server` on a free port over `database` with the lake in `dir`; returns the
/// process and the host and port it announced.
fn spawn_sql_server(dir: &Path, database: &str, secret: &str) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bb"))
        .args(["sql-server", "--addr", "127.0.0.1:0"])
        .current_dir(dir)
        .env("BB_DATA_DIR", dir.join("data"))
        .env("DATABASE_URL", database)
        .env("BB_JWT_SECRET", secret)
        .env("BB_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("serving SQL on postgres://").map(|r| r.split('/').next().unwrap().to_string()))
        .expect("bb sql-server announces its address");
    let (host, port) = addr.split_once(':').unwrap();
    (child, host.to_string(), port.to_string())
}

/// `bb token --email EMAIL` signed with `secret`.
fn bb_token(secret: &str, email: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bb")).args(["token", "--email", email]).env("BB_JWT_SECRET", secret).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn psql() -> std::path::PathBuf {
    let candidates = [api::pg::bin_dir().map(|d| d.join("psql")).unwrap_or_default(), "/usr/bin/psql".into()];
    candidates.into_iter().find(|p| p.exists()).expect("psql (the PostgreSQL client) is installed with the server binaries")
}

#[test]
fn bb_sql_server_starts_on_an_empty_lake_and_psql_describes_its_tables() {
    let db = FreshDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let secret = "wire-secret-wire-secret-wire-secret-wire";
    let started = std::time::Instant::now();
    let (mut child, host, port) = spawn_sql_server(dir.path(), &db.url, secret);
    eprintln!("bb sql-server accepted connections {:.2} s after start", started.elapsed().as_secs_f64());
    let tok = bb_token(secret, "ana@example.com");
    let conn = format!("host={host} port={port} dbname=blockbuilders user=ana@example.com");
    let out = std::process::Command::new(psql())
        .args([&conn, "-X", "-c", "\\dt", "-c", "\\d backtest_equity", "-c", "SELECT count(*) AS n FROM backtest_trades", "-c", "SELECT count(*) AS n FROM candles"])
        .env("PGPASSWORD", &tok)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    for t in ["backtest_equity", "backtest_metrics", "backtest_runs", "backtest_trades", "candles"] {
        assert!(shown.contains(&format!(" {t} ")), "{t} in:\n{shown}");
    }
    assert!(shown.contains("equity_time | timestamp with time zone"), "{shown}");
    assert_eq!(shown.matches("\n 0\n").count(), 2, "the tables not yet written are empty:\n{shown}");
}

#[test]
fn the_notebooks_run_headless_against_a_demo_setup() {
    let db = FreshDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let o = bb_with(dir.path(), &["demo"], &[("DATABASE_URL", &db.url)]);
    assert!(o.status.success(), "{}", text(&o));
    let secret = "notebook-secret-notebook-secret-notebook";
    let (mut child, host, port) = spawn_sql_server(dir.path(), &db.url, secret);
    // the demo's user, whose runs the notebooks analyse
    let tok = bb_token(secret, "demo@blockbuilders.local");
    let root = crate::crate_dir().join("..");
    let out = std::process::Command::new(root.join("scripts/notebooks.sh"))
        .arg(dir.path().join("executed"))
        .env("BB_SQL_HOST", &host)
        .env("BB_SQL_PORT", &port)
        .env("BB_SQL_USER", "demo@blockbuilders.local")
        .env("BB_SQL_TOKEN", &tok)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.status.success(), "{}", text(&out));
    for nb in ["market_data.ipynb", "backtest_results.ipynb"] {
        assert!(dir.path().join("executed").join(nb).exists(), "{nb} executed");
    }
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn logins_are_rate_limited_per_address(pool: PgPool) {
    let (_dir, lake, _) = runs_of(&pool, &[]).await;
    let port = serve_with_logins(&pool, &lake, LIMITS, 2).await;
    // a wrong password counts as much as a right one
    assert!(PgConnection::connect_with(&options(port, "ana@example.com", "not-a-token")).await.is_err());
    let ok = connect(port, "ana@example.com", "builder").await;
    ok.close().await.unwrap();
    let e = PgConnection::connect_with(&options(port, "ana@example.com", &token("ana@example.com", "builder", None))).await.unwrap_err().to_string();
    assert!(e.contains("too many login attempts from your address: at most 2 a minute"), "{e}");
}
