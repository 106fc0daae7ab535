//! The audit trail: every compliance-relevant change (a template published, reviewed, taken down,
//! its disclaimers changed; a strategy's visibility; a user's roles) appends a record in the same
//! transaction as the change. Records form a hash chain, `hash = sha256(prev_hash || canonical
//! JSON of the record)`, appended one at a time under a transaction-scoped lock, so that editing,
//! removing or reordering any record breaks every hash after it; [`verify`] finds the first break.
//! [`mirror`] copies new records in order into the lake's `audit_log` (each commit records the last
//! sequence number as a Delta application transaction, so a mirror cut off anywhere resumes without
//! a gap or a duplicate), and [`verify_lake`] checks that copy: a valid chain that is a prefix of
//! Postgres's (it may lag).

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The hash the first record chains from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Advisory lock key serialising appends to the chain.
const CHAIN_LOCK: i64 = 0x6262_6175_6469_7401;

/// A change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub actor: Option<Uuid>,
    /// e.g. `template.published`, `template.taken_down`, `user.roles_changed`.
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One record of the chain as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub seq: i64,
    pub actor: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    /// The entity before and after the change, as canonical JSON text (null for none).
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub request_id: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub prev_hash: String,
    pub hash: String,
}

/// JSON with object keys in sorted order and no insignificant whitespace (serde_json's maps are
/// ordered by key), the form that is hashed.
pub fn canonical(v: &Value) -> String {
    v.to_string()
}

/// The time as hashed: RFC 3339, UTC, microseconds (what Postgres keeps).
fn time_text(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The canonical JSON of a record's content (everything but its own hash).
pub fn content(r: &Record) -> String {
    canonical(&json!({
        "seq": r.seq, "actor": r.actor, "action": r.action, "entityType": r.entity_type, "entityId": r.entity_id,
        "before": r.before_json, "after": r.after_json, "requestId": r.request_id, "createdAt": time_text(&r.created_at),
    }))
}

/// `sha256(prev_hash || content)` in hex.
pub fn chain_hash(prev_hash: &str, content: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(prev_hash.as_bytes());
    ctx.update(content.as_bytes());
    ctx.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `change` to the chain inside the caller's transaction (the lock is held until it
/// ends, so records are numbered and chained in commit order). Returns its sequence number.
pub async fn append(tx: &mut PgConnection, change: Change<'_>) -> sqlx::Result<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CHAIN_LOCK).execute(&mut *tx).await?;
    let last: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
    let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS.to_string()));
    let now = chrono::Utc::now();
    let created_at = chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    let mut r = Record {
        seq: prev_seq + 1,
        actor: change.actor,
        action: change.action.to_string(),
        entity_type: change.entity_type.to_string(),
        entity_id: change.entity_id,
        before_json: change.before.as_ref().map(canonical),
        after_json: change.after.as_ref().map(canonical),
        // the request being served, when there is one (`bb` commands have none)
        request_id: Some(crate::context::request_id()).filter(|r| !r.is_empty()),
        created_at,
        prev_hash,
        hash: String::new(),
    };
    r.hash = chain_hash(&r.prev_hash, &content(&r));
    sqlx::query(
        "INSERT INTO audit_log (seq, actor, action, entity_type, entity_id, before_json, after_json, request_id, created_at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(r.seq)
    .bind(r.actor)
    .bind(&r.action)
    .bind(&r.entity_type)
    .bind(&r.entity_id)
    .bind(&r.before_json)
    .bind(&r.after_json)
    .bind(&r.request_id)
    .bind(r.created_at)
    .bind(&r.prev_hash)
    .bind(&r.hash)
    .execute(&mut *tx)
    .await?;
    Ok(r.seq)
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// Records checked.
    pub checked: u64,
    /// The first record that breaks the chain, and why.
    pub first_break: Option<(i64, String)>,
    /// Hash of the last record checked (the chain's head when there is no break).
    pub head: String,
}

/// Checks records in order: numbered 1, 2, ... without a gap, each chaining from the one before,
/// each hash that of its content. Stops at the first break.
pub fn verify_records(records: impl IntoIterator<Item = Record>) -> Verified {
    let mut out = Verified { checked: 0, first_break: None, head: GENESIS.to_string() };
    for r in records {
        let expected_seq = out.checked as i64 + 1;
        let why = if r.seq != expected_seq {
            Some(format!("record {expected_seq} is missing (found {} next)", r.seq))
        } else if r.prev_hash != out.head {
            Some(format!("its prev_hash {} is not the hash of record {} ({})", r.prev_hash, r.seq - 1, out.head))
        } else if chain_hash(&r.prev_hash, &content(&r)) != r.hash {
            Some("its content does not hash to its recorded hash (the record was changed)".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            out.first_break = Some((r.seq, why));
            return out;
        }
        out.checked += 1;
        out.head = r.hash;
    }
    out
}

/// Verifies the chain as Postgres holds it.
pub async fn verify(db: impl PgExecutor<'_>) -> sqlx::Result<Verified> {
    let records: Vec<Record> = sqlx::query_as("SELECT * FROM audit_log ORDER BY seq").fetch_all(db).await?;
    Ok(verify_records(records))
}

/// Lake app id under which the mirror records the last sequence number it copied.
const MIRROR_APP: &str = "bb.audit_log";
/// Advisory lock key: one mirror at a time.
const MIRROR_LOCK: i64 = 0x6262_6175_6469_7402;
/// Records per lake commit at most.
const MIRROR_BATCH: i64 = 50_000;

/// Records as a batch of the lake's `audit_log` schema.
pub fn batch_of(records: &[Record]) -> Result<arrow::array::RecordBatch, arrow::error::ArrowError> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
    let s = |f: &dyn Fn(&Record) -> Option<String>| -> ArrayRef { Arc::new(records.iter().map(f).collect::<StringArray>()) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(records.iter().map(|r| r.seq).collect::<Int64Array>()),
        s(&|r| r.actor.map(|a| a.to_string())),
        s(&|r| Some(r.action.clone())),
        s(&|r| Some(r.entity_type.clone())),
        s(&|r| Some(r.entity_id.clone())),
        s(&|r| r.before_json.clone()),
        s(&|r| r.after_json.clone()),
        s(&|r| r.request_id.clone()),
        Arc::new(TimestampMicrosecondArray::from(records.iter().map(|r| r.created_at.timestamp_micros()).collect::<Vec<_>>()).with_timezone("UTC")),
        s(&|r| Some(r.prev_hash.clone())),
        s(&|r| Some(r.hash.clone())),
    ];
    arrow::array::RecordBatch::try_new(lake::LakeTable::AuditLog.schema(), columns)
}

/// Copies the records the lake's `audit_log` lacks into it, in order; returns how many (0 when
/// another mirror holds the lock).
pub async fn mirror(pool: &sqlx::PgPool, lake: &lake::Lake) -> anyhow::Result<u64> {
    let mut db = pool.acquire().await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(MIRROR_LOCK).fetch_one(&mut *db).await?;
    if !got {
        return Ok(0);
    }
    let result = async {
        let mut copied = 0;
        loop {
            let done = lake.app_version(lake::LakeTable::AuditLog, MIRROR_APP).await?.unwrap_or(0);
            let records: Vec<Record> = sqlx::query_as("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2").bind(done).bind(MIRROR_BATCH).fetch_all(&mut *db).await?;
            let Some(last) = records.last().map(|r| r.seq) else {
                return anyhow::Ok(copied);
            };
            lake.append_as(lake::LakeTable::AuditLog, vec![batch_of(&records)?], MIRROR_APP, last).await?;
            copied += records.len() as u64;
        }
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIRROR_LOCK).execute(&mut *db).await?;
    result
}

/// The lake's copy of the chain, in order.
pub async fn lake_records(lake: &lake::Lake) -> anyhow::Result<Vec<Record>> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
    if lake.version(lake::LakeTable::AuditLog).await?.is_none() {
        return Ok(Vec::new());
    }
    let ctx = query::session_with(lake, &query::Tables::none().latest(lake::LakeTable::AuditLog)).await?;
    let batches = ctx.sql("SELECT * FROM audit_log ORDER BY seq").await?.collect().await?;
    let mut out = Vec::new();
    for b in batches {
        let text = |i: usize| lake::utf8(b.column(i));
        let (actor, action, et, eid, before, after, req, prev, hash) = (text(1)?, text(2)?, text(3)?, text(4)?, text(5)?, text(6)?, text(7)?, text(9)?, text(10)?);
        let seq = b.column(0).as_primitive::<Int64Type>();
        let at = b.column(8).as_primitive::<TimestampMicrosecondType>();
        let opt = |a: &arrow::array::StringArray, r: usize| (!a.is_null(r)).then(|| a.value(r).to_string());
        for r in 0..b.num_rows() {
            out.push(Record {
                seq: seq.value(r),
                actor: opt(&actor, r).and_then(|a| a.parse().ok()),
                action: action.value(r).into(),
                entity_type: et.value(r).into(),
                entity_id: eid.value(r).into(),
                before_json: opt(&before, r),
                after_json: opt(&after, r),
                request_id: opt(&req, r),
                created_at: chrono::DateTime::from_timestamp_micros(at.value(r)).unwrap_or_default(),
                prev_hash: prev.value(r).into(),
                hash: hash.value(r).into(),
            });
        }
    }
    Ok(out)
}

/// Verifies the lake's copy: a valid chain whose every record is Postgres's record of the same
/// number (shorter is fine: the mirror may lag).
pub async fn verify_lake(pool: &sqlx::PgPool, lake: &lake::Lake) -> anyhow::Result<Verified> {
    let copy = lake_records(lake).await?;
    let mut v = verify_records(copy.clone());
    if v.first_break.is_none() {
        let pg: Vec<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_log WHERE seq <= $1 ORDER BY seq").bind(v.checked as i64).fetch_all(pool).await?;
        if let Some((r, _)) = copy.iter().zip(&pg).find(|(r, p)| r.seq != p.0 || r.hash != p.1) {
            v.first_break = Some((r.seq, "the lake's record differs from Postgres's record of the same number".into()));
        } else if pg.len() < copy.len() {
            v.first_break = Some((copy[pg.len()].seq, "the lake holds a record Postgres does not".into()));
        }
    }
    Ok(v)
}

/// Records created in `[from, to)`, in order.
pub async fn between(db: impl PgExecutor<'_>, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as("SELECT * FROM audit_log WHERE created_at >= $1 AND created_at < $2 ORDER BY seq").bind(from).bind(to).fetch_all(db).await
}

/// Records of one entity, oldest first.
pub async fn of_entity(db: impl PgExecutor<'_>, entity_type: &str, entity_id: &str) -> sqlx::Result<Vec<Record>> {
    sqlx::query_as("SELECT * FROM audit_log WHERE entity_type = $1 AND entity_id = $2 ORDER BY seq").bind(entity_type).bind(entity_id).fetch_all(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, prev: &str, action: &str) -> Record {
        let mut r = Record {
            seq,
            actor: None,
            action: action.into(),
            entity_type: "template".into(),
            entity_id: "t1".into(),
            before_json: None,
            after_json: Some(canonical(&json!({"b": 1, "a": [1.5, "x"]}))),
            request_id: Some("req-1".into()),
            created_at: chrono::DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            prev_hash: prev.into(),
            hash: String::new(),
        };
        r.hash = chain_hash(prev, &content(&r));
        r
    }

    #[test]
    fn a_chain_verifies_and_any_edit_is_named() {
        let a = record(1, GENESIS, "template.published");
        let b = record(2, &a.hash, "template.taken_down");
        let c = record(3, &b.hash, "user.roles_changed");
        assert_eq!(verify_records(vec![a.clone(), b.clone(), c.clone()]), Verified { checked: 3, first_break: None, head: c.hash.clone() });
        assert_eq!(a.after_json.as_deref(), Some(r#"{"a":[1.5,"x"],"b":1}"#), "keys sorted, no spaces");
        let mut edited = b.clone();
        edited.action = "template.published".into();
        let v = verify_records(vec![a.clone(), edited, c.clone()]);
        assert_eq!((v.checked, v.first_break.as_ref().map(|b| b.0)), (1, Some(2)));
        let v = verify_records(vec![a.clone(), c.clone()]);
        assert_eq!(v.first_break.map(|b| b.0), Some(3), "a removed record");
        assert_eq!(chain_hash("", "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256");
    }
}
