//! `bb ingest kaiko` against a fake of Kaiko's trade history API on loopback that serves the real
//! trades of `freqtrade-testdata/XRP_ETH-trades.feather` in Kaiko's JSON shape (ms timestamps,
//! prices and amounts as strings, `taker_side_sell`, `continuation_token` pages, `X-Api-Key`),
//! with a 429 and a 500 in the middle: the candles landed equal those of ingesting the same trades
//! as a file, and a run that stops resumes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::{bb, bb_with, shared, text};

const KEY: &str = "kaiko-test-key-0123";

#[derive(Default)]
struct State {
    requests: Vec<HashMap<String, String>>,
    /// request number (from 1) → status to answer instead
    faults: HashMap<usize, u16>,
    /// from this request number on, every answer is a 500
    down_from: Option<usize>,
}

struct FakeKaiko {
    base: String,
    state: Arc<Mutex<State>>,
}

/// The trades of the file, as the fake serves them (sorted by time).
fn trades() -> Vec<ingest::RawTrade> {
    let (_, rows) = ingest::readers::read(&shared("freqtrade-testdata/XRP_ETH-trades.feather"), None, &ingest::ColumnMap::default()).unwrap();
    let ingest::Rows::Trades(mut t) = rows else { panic!("a trade file") };
    t.sort_by_key(|t| t.time_us);
    t
}

impl FakeKaiko {
    async fn start(trades: Vec<ingest::RawTrade>) -> FakeKaiko {
        use axum::extract::{Path, Query};
        use axum::http::{HeaderMap, StatusCode};
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let trades = Arc::new(trades);
        let app = axum::Router::new().route(
            "/v2/data/trades.v1/exchanges/{exchange}/{class}/{instrument}/trades",
            axum::routing::get(move |Path((exchange, class, instrument)): Path<(String, String, String)>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap| {
                let (st, trades) = (st.clone(), trades.clone());
                async move {
                    let n = {
                        let mut s = st.lock().unwrap();
                        s.requests.push(q.clone());
                        s.requests.len()
                    };
                    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
                        return (StatusCode::UNAUTHORIZED, [("retry-after", "0")], axum::Json(json!({"result": "error", "message": "Unauthorized: invalid API key"})));
                    }
                    let fault = {
                        let s = st.lock().unwrap();
                        s.faults.get(&n).copied().or(s.down_from.filter(|d| n >= *d).map(|_| 500))
                    };
                    match fault {
                        Some(429) => return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], axum::Json(json!({"result": "error", "message": "Rate limit exceeded"}))),
                        Some(s) => return (StatusCode::from_u16(s).unwrap(), [("retry-after", "0")], axum::Json(json!({"result": "error", "message": "Internal error"}))),
                        None => {}
                    }
                    assert_eq!((exchange.as_str(), class.as_str(), instrument.as_str()), ("bnce", "spot", "xrp-eth"));
                    assert_eq!(q.get("sort").map(String::as_str), Some("asc"));
                    let ms = |k: &str| chrono::DateTime::parse_from_rfc3339(&q[k]).unwrap().timestamp_millis();
                    let (start, end) = (ms("start_time") * 1_000, ms("end_time") * 1_000);
                    let size: usize = q["page_size"].parse().unwrap();
                    let offset: usize = q.get("continuation_token").map(|t| t.strip_prefix("ct_").unwrap().parse().unwrap()).unwrap_or(0);
                    let inside: Vec<&ingest::RawTrade> = trades.iter().filter(|t| t.time_us >= start && t.time_us < end).collect();
                    let page = &inside[offset.min(inside.len())..(offset + size).min(inside.len())];
                    let data: Vec<Value> = page
                        .iter()
                        .map(|t| json!({"timestamp": t.time_us / 1_000, "trade_id": t.id, "price": t.price.to_string(), "amount": t.qty.to_string(),
                            "taker_side_sell": t.side.as_deref() == Some("sell")}))
                        .collect();
                    let mut body = json!({"query": {"exchange": exchange, "instrument_class": class, "instrument": instrument, "page_size": size,
                        "start_time": q["start_time"], "end_time": q["end_time"]}, "time": chrono::Utc::now().to_rfc3339(),
                        "timestamp": chrono::Utc::now().timestamp_millis(), "data": data, "result": "success"});
                    if offset + size < inside.len() {
                        let token = format!("ct_{}", offset + size);
                        body["continuation_token"] = json!(token);
                        body["next_url"] = json!(format!("https://us.market-api.kaiko.io/v2/data/trades.v1/exchanges/{exchange}/{class}/{instrument}/trades?continuation_token={token}"));
                    }
                    (StatusCode::OK, [("retry-after", "0")], axum::Json(body))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeKaiko { base, state }
    }
}

fn candles_csv(dir: &std::path::Path) -> String {
    let o = bb(dir, &["sql", "SELECT exchange, symbol, timeframe, open_time, open, high, low, close, volume, trade_count FROM candles ORDER BY open_time", "--format", "csv"]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

fn count(dir: &std::path::Path, sql: &str) -> String {
    let o = bb(dir, &["sql", sql, "--format", "csv"]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn kaiko_trades_land_as_the_same_candles_as_the_file_through_429s_500s_and_a_stopped_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let all = trades();
    assert!(all.len() > 5_000, "{} trades", all.len());
    let from = chrono::DateTime::from_timestamp_micros(all[0].time_us).unwrap().to_rfc3339();
    let to = chrono::DateTime::from_timestamp_micros(all.last().unwrap().time_us + 1_000).unwrap().to_rfc3339();
    let fake = rt.block_on(FakeKaiko::start(all.clone()));

    // the reference: the same trades as a file
    let by_file = tempfile::tempdir().unwrap();
    let o = bb(by_file.path(), &["ingest", shared("freqtrade-testdata/XRP_ETH-trades.feather").to_str().unwrap(), "--exchange", "bnce", "--symbol", "XRPETH"]);
    assert!(o.status.success(), "{}", text(&o));

    let env = [("BB_KAIKO_BASE", fake.base.as_str()), ("BB_KAIKO_API_KEY", KEY), ("BB_KAIKO_RATE_PER_MINUTE", "60000")];
    let args = ["ingest", "kaiko", "--exchange", "bnce", "--pair", "xrp-eth", "--from", &from, "--to", &to, "--page-size", "500", "--land-every", "3",
        "--attempts", "2", "--backoff-secs", "0.05"];
    // a 429 (Retry-After: 1) and a 500 along the way are retried; then Kaiko goes down for good
    {
        let mut s = fake.state.lock().unwrap();
        s.faults.insert(3, 429);
        s.faults.insert(6, 500);
        s.down_from = Some(12);
    }
    let by_api = tempfile::tempdir().unwrap();
    let o = bb_with(by_api.path(), &args, &[env[0], env[1], env[2], ("BB_LOG", "debug")]);
    assert!(!o.status.success(), "Kaiko is down: {}", text(&o));
    assert!(text(&o).contains("Kaiko asked to retry") && !text(&o).contains(KEY), "retries are logged, the key never: {}", text(&o));
    assert!(text(&o).contains("Kaiko answered 500 Internal Server Error: Internal error") && text(&o).contains("run again to resume"), "{}", text(&o));
    let partial = candles_csv(by_api.path());
    let lines = partial.lines().count();
    assert!(lines > 1 && lines < candles_csv(by_file.path()).lines().count(), "some candles landed before it stopped ({lines} lines)");
    let requests_before = fake.state.lock().unwrap().requests.len();

    // back up: the run resumes from the last landed candle and finishes
    fake.state.lock().unwrap().down_from = None;
    let o = bb_with(by_api.path(), &args, &env);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resuming bnce XRPETH 1m from"), "{}", text(&o));
    let resumed_at = fake.state.lock().unwrap().requests[requests_before].clone();
    assert_ne!(resumed_at["start_time"], chrono::DateTime::parse_from_rfc3339(&from).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "not from the start again");
    assert!(resumed_at.get("continuation_token").is_none());

    assert_eq!(candles_csv(by_api.path()), candles_csv(by_file.path()), "the same candles as the file's");
    let trades_sql = "SELECT exchange, symbol, trade_time, trade_id, price, qty, side FROM trades_raw ORDER BY trade_time, trade_id";
    let (api_trades, file_trades) = (count(by_api.path(), trades_sql), count(by_file.path(), trades_sql));
    assert_eq!(api_trades.lines().count(), all.len() + 1);
    assert_eq!(api_trades, file_trades, "the same trades, each once");
    // every request carried the key; the fake refused none
    let requests = fake.state.lock().unwrap().requests.len();
    assert!(requests > requests_before + 1);
    // a wrong key is a clear error
    let o = bb_with(by_api.path(), &args, &[("BB_KAIKO_BASE", fake.base.as_str()), ("BB_KAIKO_API_KEY", "wrong"), ("BB_KAIKO_RATE_PER_MINUTE", "60000")]);
    assert!(!o.status.success() && text(&o).contains("Kaiko answered 401 Unauthorized: Unauthorized: invalid API key"), "{}", text(&o));
    let o = bb_with(by_api.path(), &args, &[("BB_KAIKO_BASE", fake.base.as_str())]);
    assert!(!o.status.success() && text(&o).contains("BB_KAIKO_API_KEY"), "{}", text(&o));
}
