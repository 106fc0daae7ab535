//! Educators and compliance through the API on a real Postgres: cohorts and invites, templates for a
//! cohort and for everyone (risk review), clones (50 at once), takedowns, disclosures, roles set by
//! an admin, the role guards on every educator and admin route, and the audit trail's hash chain
//! (verified, and an edited record named by `bb audit verify`).

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::http::{app, call, error_code, graph, token};

async fn version_of(app: &Router, tok: &str) -> String {
    let r = call(app, Method::POST, "/api/v1/strategies", Some(tok), Some(json!({"title": "Trend course", "graphJson": graph()}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = call(app, Method::GET, &format!("/api/v1/strategies/{}/versions", r.body["id"].as_str().unwrap()), Some(tok), None).await;
    v.body["items"][0]["id"].as_str().unwrap().to_string()
}

async fn me(app: &Router, tok: &str) -> Value {
    call(app, Method::GET, "/api/v1/me", Some(tok), None).await.body
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn builders_get_403_on_every_educator_and_admin_route(pool: PgPool) {
    let app = app(pool.clone()).await;
    let builder = token("bo@example.com", "builder", None);
    let educator = token("ed@example.com", "educator", None);
    let id = uuid::Uuid::new_v4();
    let educator_routes = [
        (Method::POST, "/api/v1/cohorts".to_string(), Some(json!({"name": "c"}))),
        (Method::GET, "/api/v1/cohorts".into(), None),
        (Method::GET, format!("/api/v1/cohorts/{id}"), None),
        (Method::PATCH, format!("/api/v1/cohorts/{id}"), Some(json!({"name": "x"}))),
        (Method::DELETE, format!("/api/v1/cohorts/{id}"), None),
        (Method::GET, format!("/api/v1/cohorts/{id}/members"), None),
        (Method::POST, format!("/api/v1/cohorts/{id}/members"), Some(json!({"email": "s@example.com"}))),
        (Method::DELETE, format!("/api/v1/cohorts/{id}/members/{id}"), None),
        (Method::POST, "/api/v1/templates".into(), Some(json!({"strategyVersionId": id, "audienceScope": "public"}))),
    ];
    let admin_routes = [
        (Method::GET, "/api/v1/admin/compliance/events".to_string(), None),
        (Method::GET, format!("/api/v1/admin/compliance/events/{id}"), None),
        (Method::PATCH, format!("/api/v1/admin/compliance/events/{id}"), Some(json!({"status": "approved"}))),
        (Method::POST, format!("/api/v1/admin/templates/{id}/takedown"), Some(json!({"reason": "r"}))),
        (Method::PATCH, format!("/api/v1/admin/users/{id}/roles"), Some(json!({"roles": ["admin"]}))),
    ];
    for (m, path, body) in educator_routes.iter().chain(admin_routes.iter()) {
        let r = call(&app, m.clone(), path, Some(&builder), body.clone()).await;
        assert_eq!((r.status, error_code(&r).as_str()), (StatusCode::FORBIDDEN, "forbidden"), "builder: {m} {path}");
    }
    for (m, path, body) in &admin_routes {
        let r = call(&app, m.clone(), path, Some(&educator), body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "educator: {m} {path}");
    }
    assert_eq!(count(&pool, "SELECT (SELECT count(*) FROM cohorts) + (SELECT count(*) FROM template_shares) + (SELECT count(*) FROM audit_log)").await, 0);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn cohorts_invites_and_cohort_templates(pool: PgPool) {
    let app = app(pool.clone()).await;
    let ed = token("ed@example.com", "educator", Some("educator"));
    let other_ed = token("oe@example.com", "educator", None);
    let (sam, una) = (token("sam@example.com", "builder", None), token("una@example.com", "builder", None));
    me(&app, &sam).await; // sam exists; una signs in only later

    let r = call(&app, Method::POST, "/api/v1/cohorts", Some(&ed), Some(json!({"name": "  Spring 2027 ", "description": "trend following"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["name"], "Spring 2027");
    let cohort = r.body["id"].as_str().unwrap().to_string();
    let r = call(&app, Method::POST, "/api/v1/cohorts", Some(&ed), Some(json!({"name": ""}))).await;
    assert_eq!(r.body["error"]["details"]["field"], "name");
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/cohorts/{cohort}"), Some(&other_ed), None).await.status, StatusCode::NOT_FOUND, "another educator's");

    let r = call(&app, Method::POST, &format!("/api/v1/cohorts/{cohort}/members"), Some(&ed), Some(json!({"email": "SAM@example.com"}))).await;
    assert_eq!((r.status, r.body["state"].as_str()), (StatusCode::CREATED, Some("member")), "{}", r.body);
    let r = call(&app, Method::POST, &format!("/api/v1/cohorts/{cohort}/members"), Some(&ed), Some(json!({"email": "una@example.com"}))).await;
    assert_eq!(r.body["state"], "invited", "{}", r.body);
    let r = call(&app, Method::POST, &format!("/api/v1/cohorts/{cohort}/members"), Some(&ed), Some(json!({"email": "not-an-email"}))).await;
    assert_eq!(r.body["error"]["details"]["field"], "email");
    let c = call(&app, Method::GET, &format!("/api/v1/cohorts/{cohort}"), Some(&ed), None).await.body;
    assert_eq!((c["members"].as_i64(), c["pendingInvites"].as_i64()), (Some(1), Some(1)));

    // a cohort template is live at once for its members only
    let version = version_of(&app, &ed).await;
    let body = json!({"strategyVersionId": version, "audienceScope": "cohort", "cohortId": cohort,
        "metadata": {"description": "SMA crossover for the course", "tags": ["Trend"], "disclaimers": ["Educational only."]}});
    let r = call(&app, Method::POST, "/api/v1/templates", Some(&ed), Some(body)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::CREATED, Some("published")), "{}", r.body);
    let template = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["metadata"]["tags"], json!(["trend"]));
    let r = call(&app, Method::GET, "/api/v1/templates?tag=trend", Some(&sam), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1, "{}", r.body);
    let outsider = token("out@example.com", "builder", None);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{template}"), Some(&outsider), None).await.status, StatusCode::NOT_FOUND);
    // the invite binds when una first signs in
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{template}"), Some(&una), None).await.status, StatusCode::OK);
    let c = call(&app, Method::GET, &format!("/api/v1/cohorts/{cohort}"), Some(&ed), None).await.body;
    assert_eq!((c["members"].as_i64(), c["pendingInvites"].as_i64()), (Some(2), Some(0)));

    // a clone keeps attribution and shows the disclaimers; a student who left sees the template no more
    let r = call(&app, Method::POST, &format!("/api/v1/templates/{template}/clone"), Some(&sam), None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["disclaimers"], json!(["Educational only."]));
    let strategy = r.body["strategy"]["id"].as_str().unwrap().to_string();
    let v = call(&app, Method::GET, &format!("/api/v1/strategies/{strategy}/versions/1"), Some(&sam), None).await;
    assert_eq!(v.body["graphJson"], graph(), "version 1 is the template's graph");
    let attributed: Option<uuid::Uuid> = sqlx::query_scalar("SELECT cloned_from_template_id FROM strategies WHERE id = $1::uuid").bind(&strategy).fetch_one(&pool).await.unwrap();
    assert_eq!(attributed.map(|u| u.to_string()), Some(template.clone()));
    let sam_id = me(&app, &sam).await["id"].as_str().unwrap().to_string();
    let r = call(&app, Method::DELETE, &format!("/api/v1/cohorts/{cohort}/members/{sam_id}"), Some(&ed), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{template}"), Some(&sam), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/strategies/{strategy}"), Some(&sam), None).await.status, StatusCode::OK, "the clone stays");
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_log WHERE action = 'template.published'").await, 1);
    // deleting the cohort: its template stays with its educator only, clones keep their attribution
    assert_eq!(call(&app, Method::DELETE, &format!("/api/v1/cohorts/{cohort}"), Some(&ed), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{template}"), Some(&ed), None).await.status, StatusCode::OK);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{template}"), Some(&una), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&pool, "SELECT count(*) FROM strategies WHERE cloned_from_template_id IS NOT NULL").await, 1);
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn public_templates_wait_for_review_and_takedowns_hide_them(pool: PgPool) {
    let app = app(pool.clone()).await;
    let ed = token("ed@example.com", "educator", Some("educator"));
    let admin = token("root@example.com", "admin", None);
    let student = token("stu@example.com", "builder", None);
    me(&app, &admin).await; // reviewers are the admins known to the platform
    let version = version_of(&app, &ed).await;

    // another user's version cannot be published; a refused request consumes nothing
    let stranger_version = version_of(&app, &token("x@example.com", "educator", None)).await;
    let r = call(&app, Method::POST, "/api/v1/templates", Some(&ed), Some(json!({"strategyVersionId": stranger_version, "audienceScope": "public"}))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = call(&app, Method::POST, "/api/v1/templates", Some(&ed), Some(json!({"strategyVersionId": version, "audienceScope": "everyone"}))).await;
    assert_eq!(r.body["error"]["details"]["field"], "audienceScope");
    assert_eq!(count(&pool, "SELECT coalesce(sum(used), 0)::bigint FROM plan_usage WHERE metric = 'template_publishes'").await, 0);

    let submit = |v: &str| json!({"strategyVersionId": v, "audienceScope": "public", "metadata": {"description": "d", "disclaimers": ["Past results do not predict future ones."]}});
    let r = call(&app, Method::POST, "/api/v1/templates", Some(&ed), Some(submit(&version))).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::CREATED, Some("pending_review")), "{}", r.body);
    let first = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{first}"), Some(&student), None).await.status, StatusCode::NOT_FOUND, "pending: hidden");
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{first}"), Some(&ed), None).await.status, StatusCode::OK, "but not from its educator");
    let events = call(&app, Method::GET, &format!("/api/v1/admin/compliance/events?status=open&entityId={first}"), Some(&admin), None).await;
    let event = events.body["items"][0].clone();
    assert_eq!((event["eventType"].as_str(), event["entityType"].as_str()), (Some("risk_review"), Some("template")), "{}", events.body);
    let tasks = call(&app, Method::GET, "/api/v1/notifications", Some(&admin), None).await;
    assert_eq!(tasks.body["items"][0]["type"], "governance_task", "reviewers are told: {}", tasks.body);

    // approve: published to everyone
    let r = call(&app, Method::PATCH, &format!("/api/v1/admin/compliance/events/{}", event["id"].as_str().unwrap()), Some(&admin), Some(json!({"status": "approved", "note": "fine"}))).await;
    assert_eq!(r.body["status"], "approved", "{}", r.body);
    let r = call(&app, Method::PATCH, &format!("/api/v1/admin/compliance/events/{}", event["id"].as_str().unwrap()), Some(&admin), Some(json!({"status": "rejected"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "decided once");
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{first}"), Some(&student), None).await.body["status"], "published");

    // reject another: hidden, the educator told
    let r = call(&app, Method::POST, "/api/v1/templates", Some(&ed), Some(submit(&version))).await;
    let second = r.body["id"].as_str().unwrap().to_string();
    let events = call(&app, Method::GET, &format!("/api/v1/admin/compliance/events?status=open&entityId={second}"), Some(&admin), None).await;
    let id = events.body["items"][0]["id"].as_str().unwrap().to_string();
    call(&app, Method::PATCH, &format!("/api/v1/admin/compliance/events/{id}"), Some(&admin), Some(json!({"status": "rejected", "note": "too risky"}))).await;
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{second}"), Some(&student), None).await.status, StatusCode::NOT_FOUND);
    let notes = call(&app, Method::GET, "/api/v1/notifications", Some(&ed), None).await.body;
    assert!(notes["items"].as_array().unwrap().iter().any(|n| n["type"] == "governance_task" && n["payload"]["note"] == "too risky"), "{notes}");

    // 50 students clone at once: +50
    let students: Vec<String> = (0..50).map(|k| token(&format!("s{k}@example.com"), "builder", None)).collect();
    let clone_path = format!("/api/v1/templates/{first}/clone");
    let replies = futures::future::join_all(students.iter().map(|t| call(&app, Method::POST, &clone_path, Some(t), None))).await;
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{first}"), Some(&student), None).await.body["cloneCount"], 50);
    let r = call(&app, Method::GET, "/api/v1/templates?sort=most_cloned", Some(&student), None).await;
    assert_eq!(r.body["items"][0]["id"], first.as_str());
    let ed_id = me(&app, &ed).await["id"].as_str().unwrap().to_string();
    for (query, n) in [("q=trend%20course", 1), ("q=nothing-like-it", 0), (&*format!("educator={ed_id}"), 1), (&*format!("educator={}", uuid::Uuid::new_v4()), 0)] {
        let r = call(&app, Method::GET, &format!("/api/v1/templates?{query}"), Some(&student), None).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), n, "{query}: {}", r.body);
    }

    // disclaimers changed: a disclosure event and an audit record
    let r = call(&app, Method::PATCH, &format!("/api/v1/templates/{first}"), Some(&ed), Some(json!({"metadata": {"description": "d", "disclaimers": ["New risk wording."]}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = call(&app, Method::GET, &format!("/api/v1/admin/compliance/events?eventType=disclosure&entityId={first}"), Some(&admin), None).await;
    assert_eq!(d.body["items"][0]["payload"]["after"], json!(["New risk wording."]), "{}", d.body);

    // takedown: gone for everyone but its educator and admins; clones stay with their owners
    let r = call(&app, Method::POST, &format!("/api/v1/admin/templates/{first}/takedown"), Some(&admin), Some(json!({"reason": "misleading claims"}))).await;
    assert_eq!(r.body["status"], "taken_down", "{}", r.body);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{first}"), Some(&student), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Method::POST, &format!("/api/v1/templates/{first}/clone"), Some(&student), None).await.status, StatusCode::NOT_FOUND);
    assert!(call(&app, Method::GET, "/api/v1/templates", Some(&students[0]), None).await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/templates/{first}"), Some(&ed), None).await.status, StatusCode::OK);
    assert_eq!(count(&pool, "SELECT count(*) FROM strategies WHERE cloned_from_template_id IS NOT NULL").await, 50);
    let actions: Vec<String> = sqlx::query_scalar("SELECT action FROM audit_log ORDER BY seq").fetch_all(&pool).await.unwrap();
    assert_eq!(actions, ["template.submitted_for_review", "compliance.reviewed", "template.published", "template.submitted_for_review", "compliance.reviewed",
        "template.rejected", "template.disclaimers_changed", "template.taken_down"]);
    let v = api::services::audit::verify(&pool).await.unwrap();
    assert_eq!((v.checked, v.first_break), (8, None));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn roles_an_admin_sets_stay_and_the_audit_chain_names_an_edited_record(pool: PgPool) {
    let app = app(pool.clone()).await;
    let admin = token("root@example.com", "admin", None);
    let bo = token("bo@example.com", "builder", None);
    let bo_id = me(&app, &bo).await["id"].as_str().unwrap().to_string();
    let r = call(&app, Method::PATCH, &format!("/api/v1/admin/users/{bo_id}/roles"), Some(&admin), Some(json!({"roles": ["educator", "builder"]}))).await;
    assert_eq!(r.body["roles"], json!(["builder", "educator"]), "{}", r.body);
    let r = call(&app, Method::PATCH, &format!("/api/v1/admin/users/{bo_id}/roles"), Some(&admin), Some(json!({"roles": ["wizard"]}))).await;
    assert_eq!(r.body["error"]["details"]["field"], "roles");
    // bo's token still says builder; the admin's choice stands, and bo may now run cohorts
    assert_eq!(me(&app, &bo).await["roles"], json!(["builder", "educator"]));
    assert_eq!(call(&app, Method::POST, "/api/v1/cohorts", Some(&bo), Some(json!({"name": "mine"}))).await.status, StatusCode::CREATED);
    // a visibility change is audited too
    let s = call(&app, Method::POST, "/api/v1/strategies", Some(&bo), Some(json!({"title": "S", "graphJson": graph()}))).await.body;
    call(&app, Method::PATCH, &format!("/api/v1/strategies/{}", s["id"].as_str().unwrap()), Some(&bo), Some(json!({"visibility": "public"}))).await;
    let records: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as("SELECT action, before_json, after_json FROM audit_log ORDER BY seq").fetch_all(&pool).await.unwrap();
    assert_eq!(records[0], ("user.roles_changed".into(), Some(r#"{"roles":["builder"]}"#.into()), Some(r#"{"roles":["builder","educator"]}"#.into())));
    assert_eq!(records[1].0, "strategy.visibility_changed");
    let ids: Vec<Option<String>> = sqlx::query_scalar("SELECT request_id FROM audit_log").fetch_all(&pool).await.unwrap();
    assert!(ids.iter().all(|i| i.as_deref().is_some_and(|i| !i.is_empty())), "each record names its request: {ids:?}");

    // bb audit verify: holds, then names the record someone edited
    let db = std::env::var("DATABASE_URL").unwrap();
    let name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap();
    let mut url = url::Url::parse(&db).unwrap();
    url.set_path(&format!("/{name}"));
    let dir = tempfile::tempdir().unwrap();
    let env = [("DATABASE_URL", url.as_str())];
    // the worker's mirror copies the chain into the lake (again: nothing new)
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().join("data/lake").display().to_string())).unwrap();
    assert_eq!(api::services::audit::mirror(&pool, &lake).await.unwrap(), 2);
    assert_eq!(api::services::audit::mirror(&pool, &lake).await.unwrap(), 0);
    // a third record: the lake's copy lags, which is no break
    call(&app, Method::PATCH, &format!("/api/v1/admin/users/{bo_id}/roles"), Some(&admin), Some(json!({"roles": ["builder"]}))).await;
    let o = crate::bb_with(dir.path(), &["audit", "verify"], &env);
    let out = crate::text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("audit trail in Postgres: 3 record(s) checked, the chain holds") && out.contains("audit trail in the lake: 2 record(s) checked, the chain holds"), "{out}");
    assert_eq!(api::services::audit::mirror(&pool, &lake).await.unwrap(), 1);
    assert_eq!(api::services::audit::verify_lake(&pool, &lake).await.unwrap().checked, 3);
    // the audit package a regulator gets: records, events, a manifest whose hashes match the files
    let pkg = dir.path().join("package");
    let o = crate::bb_with(dir.path(), &["audit", "export", "--from", "2020-01-01", "--to", "2100-01-01", "--output", pkg.to_str().unwrap()], &env);
    assert!(o.status.success() && crate::text(&o).contains("3 record(s)"), "{}", crate::text(&o));
    let manifest: Value = serde_json::from_slice(&std::fs::read(pkg.join("manifest.json")).unwrap()).unwrap();
    assert_eq!((manifest["records"].as_i64(), manifest["firstSeq"].as_i64(), manifest["lastSeq"].as_i64()), (Some(3), Some(1), Some(3)), "{manifest}");
    assert_eq!(manifest["chain"]["holds"], true);
    let head: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = 3").fetch_one(&pool).await.unwrap();
    assert_eq!(manifest["lastHash"], head.as_str());
    for f in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(pkg.join(f["name"].as_str().unwrap())).unwrap();
        let digest: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(f["sha256"], digest.as_str(), "{f}");
    }
    let lines = std::fs::read_to_string(pkg.join("audit_log.jsonl")).unwrap();
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!((lines.lines().count(), first["action"].as_str()), (3, Some("user.roles_changed")));
    // the same package to an S3 bucket (a real S3-compatible server on loopback)
    let moto = crate::s3::Moto::start().await;
    moto.bucket("audit").await;
    let mut s3_env: Vec<(&str, String)> = moto.env();
    s3_env.push(("DATABASE_URL", url.to_string()));
    let s3_env: Vec<(&str, &str)> = s3_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = crate::bb_with(dir.path(), &["audit", "export", "--from", "2020-01-01", "--to", "2100-01-01", "--output", "s3://audit/2026/q4"], &s3_env);
    assert!(o.status.success(), "{}", crate::text(&o));
    let remote: Value = serde_json::from_slice(&moto.get("audit", "2026/q4/manifest.json").await).unwrap();
    assert_eq!((remote["records"].as_i64(), remote["lastHash"].as_str()), (Some(3), Some(head.as_str())), "{remote}");
    assert_eq!(moto.get("audit", "2026/q4/audit_log.jsonl").await, std::fs::read(pkg.join("audit_log.jsonl")).unwrap());
    sqlx::query("UPDATE audit_log SET after_json = '{\"visibility\":\"private\"}' WHERE seq = 2").execute(&pool).await.unwrap();
    let o = crate::bb_with(dir.path(), &["audit", "verify"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", crate::text(&o));
    assert!(crate::text(&o).contains("1 record(s) checked, then record 2 breaks the chain: its content does not hash"), "{}", crate::text(&o));
}

#[sqlx::test(migrator = "api::db::MIGRATOR")]
async fn cohort_analytics_cover_the_cohorts_templates_and_nothing_else(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.path().join("lake").display().to_string())).unwrap();
    ingest::ingest_file(&lake, &crate::shared("djienne-3ema-srsi-atr/BTC_USDT-1h.json"), &ingest::IngestOptions::default(), &|_| {}).await.unwrap();
    let app = crate::http::app_with_lake(pool.clone(), lake.clone()).await;
    let worker = api::jobs::Worker::new(pool.clone(), std::sync::Arc::new(lake.clone()), Default::default());
    let (ed, other_ed) = (token("ed@example.com", "educator", Some("educator")), token("oe@example.com", "educator", Some("educator")));
    let (sam, una) = (token("sam@example.com", "builder", Some("premium")), token("una@example.com", "builder", None));
    me(&app, &sam).await;
    me(&app, &una).await;
    let mut templates = Vec::new();
    let mut cohorts = Vec::new();
    for educator in [&ed, &other_ed] {
        let c = call(&app, Method::POST, "/api/v1/cohorts", Some(educator), Some(json!({"name": "c"}))).await.body["id"].as_str().unwrap().to_string();
        call(&app, Method::POST, &format!("/api/v1/cohorts/{c}/members"), Some(educator), Some(json!({"email": "sam@example.com"}))).await;
        let v = version_of(&app, educator).await;
        let t = call(&app, Method::POST, "/api/v1/templates", Some(educator), Some(json!({"strategyVersionId": v, "audienceScope": "cohort", "cohortId": c}))).await;
        templates.push(t.body["id"].as_str().unwrap().to_string());
        cohorts.push(c);
    }
    call(&app, Method::POST, &format!("/api/v1/cohorts/{}/members", cohorts[0]), Some(&ed), Some(json!({"email": "una@example.com"}))).await;
    // sam clones both templates and backtests each clone; only ed's counts in ed's cohort
    let mut sharpes = Vec::new();
    for (k, t) in templates.iter().enumerate() {
        let clone = call(&app, Method::POST, &format!("/api/v1/templates/{t}/clone"), Some(&sam), None).await.body;
        let s = clone["strategy"]["id"].as_str().unwrap();
        let v = call(&app, Method::GET, &format!("/api/v1/strategies/{s}/versions/1"), Some(&sam), None).await.body["id"].as_str().unwrap().to_string();
        let ranges: &[(&str, &str)] = if k == 0 { &[("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"), ("2021-01-01T00:00:00Z", "2022-01-01T00:00:00Z"), ("2020-06-01T00:00:00Z", "2021-06-01T00:00:00Z")] } else { &[("2020-01-01T00:00:00Z", "2020-03-01T00:00:00Z")] };
        for (from, to) in ranges {
            let r = call(&app, Method::POST, "/api/v1/backtests", Some(&sam), Some(json!({"strategyVersionId": v, "exchange": "binance", "symbol": "BTCUSDT", "timeframe": "1h", "from": from, "to": to}))).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
            assert!(worker.step().await.unwrap());
            let run = call(&app, Method::GET, &format!("/api/v1/backtests/{}", r.body["id"].as_str().unwrap()), Some(&sam), None).await.body;
            assert_eq!(run["status"], "succeeded", "{run}");
            if k == 0 {
                sharpes.push((run["metrics"]["sharpe"].as_f64().unwrap(), run["metrics"]["totalReturnPct"].as_f64().unwrap(), run["metrics"]["maxDrawdownPct"].as_f64().unwrap()));
            }
        }
    }
    let r = call(&app, Method::GET, &format!("/api/v1/cohorts/{}/analytics?format=json", cohorts[0]), Some(&ed), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows = r.body.as_array().unwrap();
    assert_eq!(rows.len(), 2, "sam with ed's template, una with none: {}", r.body);
    let sam_row = rows.iter().find(|x| x["email"] == "sam@example.com").unwrap();
    assert_eq!((sam_row["template_id"].as_str(), sam_row["clones_made"].as_i64(), sam_row["backtests_run"].as_i64()), (Some(templates[0].as_str()), Some(1), Some(3)), "{sam_row}");
    let mut s: Vec<f64> = sharpes.iter().map(|x| x.0).collect();
    s.sort_by(f64::total_cmp);
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(&sam_row["best_sharpe"], s[2]) && close(&sam_row["median_sharpe"], s[1]), "{sam_row} vs {s:?}");
    assert!(close(&sam_row["best_total_return_pct"], sharpes.iter().map(|x| x.1).fold(f64::MIN, f64::max)), "{sam_row}");
    assert!(close(&sam_row["worst_max_drawdown_pct"], sharpes.iter().map(|x| x.2).fold(f64::MIN, f64::max)), "{sam_row}");
    let una_row = rows.iter().find(|x| x["email"] == "una@example.com").unwrap();
    assert!(una_row.get("template_id").is_none_or(Value::is_null) && una_row["backtests_run"] == 0, "{una_row}");

    // CSV and Parquet; the other educator may not read it; a bad format is a 400
    let r = crate::http::call_raw(&app, &format!("/api/v1/cohorts/{}/analytics", cohorts[0]), &ed).await;
    assert!(r.0.starts_with("text/csv") && String::from_utf8_lossy(&r.1).starts_with("user_id,email,display_name,template_id"), "{:?}", r.0);
    let r = crate::http::call_raw(&app, &format!("/api/v1/cohorts/{}/analytics?format=parquet", cohorts[0]), &ed).await;
    assert_eq!(&r.1[..4], b"PAR1");
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/cohorts/{}/analytics", cohorts[0]), Some(&other_ed), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/cohorts/{}/analytics?format=xls", cohorts[0]), Some(&ed), None).await.status, StatusCode::BAD_REQUEST);
    // a cohort without members: the CSV header alone, an empty JSON array
    let empty = call(&app, Method::POST, "/api/v1/cohorts", Some(&ed), Some(json!({"name": "empty"}))).await.body["id"].as_str().unwrap().to_string();
    let r = crate::http::call_raw(&app, &format!("/api/v1/cohorts/{empty}/analytics"), &ed).await;
    assert_eq!(String::from_utf8_lossy(&r.1).lines().collect::<Vec<_>>().len(), 1, "{:?}", String::from_utf8_lossy(&r.1));
    assert_eq!(call(&app, Method::GET, &format!("/api/v1/cohorts/{empty}/analytics?format=json"), Some(&ed), None).await.body, json!([]));

    // bb export cohort: the same rows from the shell
    let name: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap();
    let mut url = url::Url::parse(&std::env::var("DATABASE_URL").unwrap()).unwrap();
    url.set_path(&format!("/{name}"));
    let out = dir.path().join("cohort.parquet");
    let lake_dir = dir.path().join("lake").display().to_string();
    let o = crate::bb_with(dir.path(), &["--lake", &lake_dir, "export", "cohort", &cohorts[0], "--format", "parquet", "--output", out.to_str().unwrap()], &[("DATABASE_URL", url.as_str())]);
    assert!(o.status.success() && crate::text(&o).contains("wrote 2 row(s)"), "{}", crate::text(&o));
    assert_eq!(&std::fs::read(&out).unwrap()[..4], b"PAR1");
}
