//! The product's data model on a real Postgres: display names and activity, subscriptions as the
//! source of the tier, quota windows with their end and cap, the paper-trading gauge, the
//! migration of existing rows, and the defaults the OpenAPI document shows.

use api::model::{PlanTier, QuotaMetric, SubscriptionStatus};
use api::services::subscriptions::{self, SubscriptionState};
use api::services::quotas;
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::http::{app, call, token};

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn users_get_a_display_name_and_their_activity_at_most_once_a_minute(pool: PgPool) {
    let app = app(pool.clone()).await;
    let t = token("ada.lovelace@example.com", "builder", None);
    let me = call(&app, Method::GET, "/api/v1/me", Some(&t), None).await.body;
    assert_eq!(me["displayName"], "ada.lovelace", "the e-mail's local part");
    let first = me["lastActiveAt"].as_str().unwrap().to_string();
    let id = Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let updated = move |pool: PgPool| async move {
        sqlx::query_as::<_, (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>("SELECT last_active_at, updated_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let (active, row_updated) = updated(pool.clone()).await;
    for _ in 0..5 {
        assert_eq!(call(&app, Method::GET, "/api/v1/me", Some(&t), None).await.body["lastActiveAt"], first.as_str(), "within a minute: unchanged");
    }
    assert_eq!(updated(pool.clone()).await, (active, row_updated), "nothing was written");
    // a minute later the next request records activity again
    sqlx::query("UPDATE users SET last_active_at = now() - interval '61 seconds' WHERE id = $1").bind(id).execute(&pool).await.unwrap();
    call(&app, Method::GET, "/api/v1/me", Some(&t), None).await;
    let (again, _) = updated(pool.clone()).await;
    assert!(again > active, "{again} after {active}");
    assert!(chrono::Utc::now() - again < chrono::Duration::seconds(30));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn the_subscription_sets_the_tier_and_the_token_claim_is_only_a_default(pool: PgPool) {
    let app = app(pool.clone()).await;
    let t = token("sam@example.com", "builder", Some("free"));
    let me = call(&app, Method::GET, "/api/v1/me", Some(&t), None).await.body;
    assert_eq!(me["planTier"], "free");
    let id = Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let limit = |body: &serde_json::Value| body["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "backtests").unwrap()["limit"].clone();

    let state = |plan, status| SubscriptionState { plan_code: plan, status, stripe_customer_id: Some("cus_1".into()), stripe_subscription_id: Some("sub_1".into()), renewal_at: None };
    subscriptions::set(&pool, id, &state(PlanTier::Premium, SubscriptionStatus::Active)).await.unwrap();
    let usage = call(&app, Method::GET, "/api/v1/plan-usage", Some(&t), None).await.body;
    assert_eq!((usage["plan"].as_str(), limit(&usage)), (Some("premium"), json!(200)), "the subscription wins over the token's free claim");
    assert_eq!(call(&app, Method::GET, "/api/v1/me", Some(&t), None).await.body["planTier"], "premium");

    subscriptions::set(&pool, id, &state(PlanTier::Premium, SubscriptionStatus::PastDue)).await.unwrap();
    assert_eq!(call(&app, Method::GET, "/api/v1/plan-usage", Some(&t), None).await.body["plan"], "premium", "past due keeps the plan (grace)");

    subscriptions::set(&pool, id, &state(PlanTier::Premium, SubscriptionStatus::Canceled)).await.unwrap();
    let premium_claim = token("sam@example.com", "builder", Some("premium"));
    let usage = call(&app, Method::GET, "/api/v1/plan-usage", Some(&premium_claim), None).await.body;
    assert_eq!((usage["plan"].as_str(), limit(&usage)), (Some("free"), json!(3)), "canceled is free, whatever the token claims");
    let sub = subscriptions::get(&pool, id).await.unwrap().unwrap();
    assert_eq!((sub.plan_code, sub.status, sub.stripe_subscription_id.as_deref()), (PlanTier::Premium, SubscriptionStatus::Canceled, Some("sub_1")));
    // one Stripe subscription belongs to one user
    let other = call(&app, Method::GET, "/api/v1/me", Some(&token("eve@example.com", "builder", None)), None).await.body;
    let other = Uuid::parse_str(other["id"].as_str().unwrap()).unwrap();
    let e = api::error::ApiError::from(subscriptions::set(&pool, other, &state(PlanTier::Premium, SubscriptionStatus::Active)).await.unwrap_err());
    assert_eq!(e.status(), StatusCode::CONFLICT);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn a_quota_window_records_its_end_and_the_cap_it_opened_with(pool: PgPool) {
    let app = app(pool.clone()).await;
    let me = call(&app, Method::GET, "/api/v1/me", Some(&token("ana@example.com", "builder", None)), None).await.body;
    let id = Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    for want in 1..=3 {
        let mut tx = pool.begin().await.unwrap();
        assert_eq!(quotas::consume(&mut tx, id, QuotaMetric::Backtests).await.unwrap().unwrap(), want);
        tx.commit().await.unwrap();
    }
    let mut tx = pool.begin().await.unwrap();
    let over = quotas::consume(&mut tx, id, QuotaMetric::Backtests).await.unwrap().unwrap_err();
    assert_eq!((over.limit, over.plan), (3, PlanTier::Free));
    tx.rollback().await.unwrap();
    let (start, end, cap, used): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>, Option<i32>, i32) =
        sqlx::query_as("SELECT window_start, window_end, plan_limit, used FROM plan_usage WHERE user_id = $1 AND metric = 'backtests'").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!((end - start, cap, used), (chrono::Duration::days(1), Some(3), 3));
    assert_eq!(start, over.window_end - chrono::Duration::days(1));
    // an upgrade mid-window applies at once; the window keeps the cap it opened with
    subscriptions::set(&pool, id, &SubscriptionState { plan_code: PlanTier::Premium, status: SubscriptionStatus::Active, stripe_customer_id: None, stripe_subscription_id: None, renewal_at: None }).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(quotas::consume(&mut tx, id, QuotaMetric::Backtests).await.unwrap().unwrap(), 4);
    tx.commit().await.unwrap();
    let cap: Option<i32> = sqlx::query_scalar("SELECT plan_limit FROM plan_usage WHERE user_id = $1").bind(id).fetch_one(&pool).await.unwrap();
    assert_eq!(cap, Some(3));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn paper_trades_count_the_active_and_scheduled_runs(pool: PgPool) {
    let app = app(pool.clone()).await;
    let t = token("ana@example.com", "builder", Some("premium"));
    let s = call(&app, Method::POST, "/api/v1/strategies", Some(&t), Some(json!({"title": "S", "graphJson": crate::http::graph()}))).await.body;
    let v = call(&app, Method::GET, &format!("/api/v1/strategies/{}/versions", s["id"].as_str().unwrap()), Some(&t), None).await.body;
    let version = Uuid::parse_str(v["items"][0]["id"].as_str().unwrap()).unwrap();
    let user = Uuid::parse_str(s["ownerId"].as_str().unwrap()).unwrap();
    for status in ["scheduled", "active", "active", "paused", "stopped"] {
        sqlx::query("INSERT INTO paper_trade_runs (user_id, strategy_version_id, status, schedule) VALUES ($1, $2, $3, $4)")
            .bind(user)
            .bind(version)
            .bind(status)
            .bind(json!({"exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h"}))
            .execute(&pool)
            .await
            .unwrap();
    }
    let usage = call(&app, Method::GET, "/api/v1/plan-usage", Some(&t), None).await.body;
    let metrics: Vec<&str> = usage["metrics"].as_array().unwrap().iter().map(|m| m["metric"].as_str().unwrap()).collect();
    assert_eq!(metrics, ["backtests", "paper_trades", "template_publishes"]);
    let paper = usage["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == "paper_trades").unwrap();
    assert_eq!((paper["used"].as_i64(), paper["limit"].as_i64(), paper["remaining"].as_i64()), (Some(3), Some(20), Some(17)));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM plan_usage").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0, "a gauge is counted, not stored");
}

/// Applies a migration file's SQL as it is.
async fn apply(pool: &PgPool, file: &str) {
    let sql = std::fs::read_to_string(crate::crate_dir().join("../migrations").join(file)).unwrap();
    sqlx::raw_sql(&sql).execute(pool).await.unwrap_or_else(|e| panic!("{file}: {e}"));
}

#[sqlx::test(migrations = false)]
async fn the_data_model_migration_carries_existing_rows_over(pool: PgPool) {
    apply(&pool, "0001_create_schema.sql").await;
    apply(&pool, "0002_backtest_jobs.sql").await;
    let (ana, bob) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::raw_sql(&format!(
        "INSERT INTO users (id, email, plan_tier) VALUES ('{ana}', 'ana.lima@example.com', 'premium'), ('{bob}', NULL, 'free');
         INSERT INTO strategies (id, owner_id, title, slug, latest_version) VALUES ('00000000-0000-4000-8000-000000000001', '{ana}', 'S', 's', 2);
         INSERT INTO strategy_versions (id, strategy_id, version, graph_json, created_by) VALUES
             ('00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-000000000001', 1, '{{}}', '{ana}'),
             ('00000000-0000-4000-8000-0000000000a2', '00000000-0000-4000-8000-000000000001', 2, '{{}}', '{ana}');
         INSERT INTO cohorts (id, educator_id, name) VALUES ('00000000-0000-4000-8000-0000000000c1', '{ana}', 'Class');
         INSERT INTO template_shares (strategy_id, shared_by, cohort_id) VALUES
             ('00000000-0000-4000-8000-000000000001', '{ana}', NULL),
             ('00000000-0000-4000-8000-000000000001', '{ana}', '00000000-0000-4000-8000-0000000000c1');
         INSERT INTO plan_usage (user_id, metric, window_start, used) VALUES
             ('{ana}', 'backtests', '2026-01-05T00:00:00Z', 7), ('{ana}', 'paper_trades', '2026-01-05T00:00:00Z', 1);
         INSERT INTO paper_trade_runs (user_id, strategy_version_id, status, exchange, symbol, timeframe, params) VALUES
             ('{ana}', '00000000-0000-4000-8000-0000000000a1', 'active', 'binance', 'BTCUSDT', '1h', '{{\"fast\": 5}}');
         INSERT INTO compliance_events (user_id, action, subject, details, request_id) VALUES
             ('{ana}', 'publish', 'strategy:00000000-0000-4000-8000-000000000001', '{{\"note\": \"ok\"}}', 'req-1'),
             ('{ana}', 'login', 'session 42', '{{}}', 'req-2');
         INSERT INTO notifications (user_id, type) VALUES ('{ana}', 'system');"
    ))
    .execute(&pool)
    .await
    .unwrap();
    apply(&pool, "0003_product_data_model.sql").await;

    let names: Vec<(Uuid, String)> = sqlx::query_as("SELECT id, display_name FROM users ORDER BY email NULLS LAST").fetch_all(&pool).await.unwrap();
    assert_eq!(names, vec![(ana, "ana.lima".to_string()), (bob, "user".to_string())]);
    let tiers: Vec<(Uuid, String)> = sqlx::query_as("SELECT user_id, tier FROM user_plans ORDER BY tier DESC").fetch_all(&pool).await.unwrap();
    assert_eq!(tiers, vec![(ana, "premium".to_string()), (bob, "free".to_string())], "no subscription rows: the claimed tier");

    let usage: Vec<(String, chrono::DateTime<chrono::Utc>, Option<i32>, i32)> =
        sqlx::query_as("SELECT metric, window_end, plan_limit, used FROM plan_usage").fetch_all(&pool).await.unwrap();
    assert_eq!(usage.len(), 1, "paper_trades is a gauge now: its counter rows are gone");
    assert_eq!((usage[0].0.as_str(), usage[0].1.to_rfc3339().as_str(), usage[0].2, usage[0].3), ("backtests", "2026-01-06T00:00:00+00:00", Some(200), 7));

    let (status, schedule): (String, serde_json::Value) = sqlx::query_as("SELECT status, schedule FROM paper_trade_runs").fetch_one(&pool).await.unwrap();
    assert_eq!(status, "active");
    assert_eq!((schedule["symbol"].as_str(), schedule["timeframe"].as_str(), &schedule["params"]), (Some("BTCUSDT"), Some("1h"), &json!({"fast": 5})));

    let shares: Vec<(String, String, Uuid, Uuid)> =
        sqlx::query_as("SELECT audience_scope, status, strategy_version_id, educator_id FROM template_shares ORDER BY audience_scope").fetch_all(&pool).await.unwrap();
    let v2 = Uuid::parse_str("00000000-0000-4000-8000-0000000000a2").unwrap();
    assert_eq!(shares, vec![("cohort".into(), "published".into(), v2, ana), ("public".into(), "published".into(), v2, ana)], "the latest version, live as before");

    let events: Vec<(String, Uuid, String, String, serde_json::Value)> =
        sqlx::query_as("SELECT entity_type, entity_id, event_type, status, payload FROM compliance_events").fetch_all(&pool).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].0.as_str(), events[0].2.as_str(), events[0].3.as_str()), ("strategy", "audit", "approved"));
    assert_eq!(events[0].4, json!({"note": "ok", "action": "publish", "requestId": "req-1"}));
    let legacy: i64 = sqlx::query_scalar("SELECT count(*) FROM compliance_events_legacy").fetch_one(&pool).await.unwrap();
    assert_eq!(legacy, 1, "a row that names no entity is kept, not lost");

    let channel: String = sqlx::query_scalar("SELECT channel FROM notifications").fetch_one(&pool).await.unwrap();
    assert_eq!(channel, "in_app");
    sqlx::query("INSERT INTO jobs (kind, payload) VALUES ('paper_tick', '{}'), ('notify', '{}'), ('export', '{}')").execute(&pool).await.unwrap();
    assert!(sqlx::query("INSERT INTO jobs (kind, payload) VALUES ('mine_bitcoin', '{}')").execute(&pool).await.is_err());
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn the_openapi_document_shows_the_backtest_defaults_and_the_closed_sets(pool: PgPool) {
    let app = app(pool).await;
    let doc = call(&app, Method::GET, "/api/v1/openapi.json", None, None).await.body;
    let props = &doc["components"]["schemas"]["CreateBacktest"]["properties"];
    assert_eq!(props["initialCapital"]["default"], json!(pipelines::backtest::DEFAULT_CAPITAL));
    assert_eq!(props["feeRate"]["default"], json!(pipelines::backtest::DEFAULT_FEE_RATE));
    assert_eq!(props["slippage"]["default"], json!(pipelines::backtest::DEFAULT_SLIPPAGE));
    assert_eq!(props["fillPolicy"]["default"], "next_open");
    assert_eq!(doc["components"]["schemas"]["RunStatus"]["enum"], json!(["queued", "running", "succeeded", "failed"]));
    assert_eq!(doc["components"]["schemas"]["Visibility"]["enum"], json!(["private", "cohort", "public"]));
}
