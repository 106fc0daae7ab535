//! Copies paper-trading fills and equity from Postgres (where ticks write them, transactionally)
//! into the lake's `paper_fills` / `paper_equity`, exactly once, in numbered batches: a batch is
//! assigned in Postgres, appended to the lake in a commit that records its number as a Delta
//! application transaction, then marked done. A flush cut off after the lake commit finds the
//! number there and does not write the batch again; one cut off before it writes the same rows.
//! One flusher at a time (a Postgres advisory lock); the others skip.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use lake::LakeTable;
use sqlx::{PgConnection, PgPool};

use crate::error::ApiResult;

/// Rows per lake commit at most.
const BATCH_ROWS: i64 = 200_000;

/// Rows a flush copied into the lake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Flushed {
    pub fills: u64,
    pub equity: u64,
}

struct Outbox {
    table: LakeTable,
    pg: &'static str,
    app: &'static str,
    lock: i64,
}

const FILLS: Outbox = Outbox { table: LakeTable::PaperFills, pg: "paper_fills", app: "bb.paper_fills", lock: 0x6262_7066_0001 };
const EQUITY: Outbox = Outbox { table: LakeTable::PaperEquity, pg: "paper_equity", app: "bb.paper_equity", lock: 0x6262_7066_0002 };

fn utc(v: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC"))
}

async fn rows(db: &mut PgConnection, o: &Outbox, batch: i64) -> ApiResult<RecordBatch> {
    let us = |t: &chrono::DateTime<chrono::Utc>| t.timestamp_micros();
    let columns: Vec<ArrayRef> = if o.table == LakeTable::PaperFills {
        #[allow(clippy::type_complexity)]
        let r: Vec<(uuid::Uuid, i32, chrono::DateTime<chrono::Utc>, String, String, f64, f64, f64, Option<String>, Option<f64>, f64)> = sqlx::query_as(
            "SELECT run_id, seq, bar_time, action, side, price, qty, fee, exit_reason, pnl, cash FROM paper_fills WHERE flush_batch = $1 ORDER BY run_id, seq",
        )
        .bind(batch)
        .fetch_all(&mut *db)
        .await?;
        vec![
            Arc::new(StringArray::from(r.iter().map(|x| x.0.to_string()).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(r.iter().map(|x| x.1 as i64).collect::<Vec<_>>())),
            utc(r.iter().map(|x| us(&x.2)).collect()),
            Arc::new(StringArray::from(r.iter().map(|x| x.3.clone()).collect::<Vec<_>>())),
            Arc::new(StringArray::from(r.iter().map(|x| x.4.clone()).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(r.iter().map(|x| x.5).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(r.iter().map(|x| x.6).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(r.iter().map(|x| x.7).collect::<Vec<_>>())),
            Arc::new(StringArray::from(r.iter().map(|x| x.8.clone()).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(r.iter().map(|x| x.9).collect::<Vec<_>>())),
            Arc::new(Float64Array::from(r.iter().map(|x| x.10).collect::<Vec<_>>())),
        ]
    } else {
        let r: Vec<(uuid::Uuid, chrono::DateTime<chrono::Utc>, f64)> =
            sqlx::query_as("SELECT run_id, bar_time, equity FROM paper_equity WHERE flush_batch = $1 ORDER BY run_id, bar_time").bind(batch).fetch_all(&mut *db).await?;
        vec![
            Arc::new(StringArray::from(r.iter().map(|x| x.0.to_string()).collect::<Vec<_>>())),
            utc(r.iter().map(|x| us(&x.1)).collect()),
            Arc::new(Float64Array::from(r.iter().map(|x| x.2).collect::<Vec<_>>())),
        ]
    };
    Ok(RecordBatch::try_new(o.table.schema(), columns).map_err(|e| anyhow::anyhow!(e))?)
}

/// Flushes one outbox table until it is empty; returns the rows copied (0 when another flusher holds it).
async fn flush_one(db: &mut PgConnection, lake: &lake::Lake, o: &Outbox) -> ApiResult<u64> {
    let mut copied = 0;
    sqlx::query("INSERT INTO lake_flushes (name) VALUES ($1) ON CONFLICT DO NOTHING").bind(o.pg).execute(&mut *db).await?;
    loop {
        let done: i64 = sqlx::query_scalar("SELECT batch FROM lake_flushes WHERE name = $1").bind(o.pg).fetch_one(&mut *db).await?;
        let in_lake = lake.app_version(o.table, o.app).await?.unwrap_or(0);
        let done = if in_lake > done {
            // the lake commit of batch `in_lake` landed but was not recorded here
            sqlx::query("UPDATE lake_flushes SET batch = $2 WHERE name = $1").bind(o.pg).bind(in_lake).execute(&mut *db).await?;
            in_lake
        } else {
            done
        };
        let next = done + 1;
        let pending: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {} WHERE flush_batch = $1", o.pg)).bind(next).fetch_one(&mut *db).await?;
        if pending == 0 {
            let n = sqlx::query(&format!("UPDATE {0} SET flush_batch = $1 WHERE ctid IN (SELECT ctid FROM {0} WHERE flush_batch IS NULL LIMIT $2)", o.pg))
                .bind(next)
                .bind(BATCH_ROWS)
                .execute(&mut *db)
                .await?
                .rows_affected();
            if n == 0 {
                return Ok(copied);
            }
        }
        let batch = rows(db, o, next).await?;
        copied += batch.num_rows() as u64;
        lake.append_as(o.table, vec![batch], o.app, next).await?;
        sqlx::query("UPDATE lake_flushes SET batch = $2 WHERE name = $1").bind(o.pg).bind(next).execute(&mut *db).await?;
    }
}

/// Copies every fill and equity point not yet in the lake into it.
pub async fn flush(pool: &PgPool, lake: &lake::Lake) -> ApiResult<Flushed> {
    let mut out = Flushed::default();
    let mut db = pool.acquire().await?;
    for (o, slot) in [(&FILLS, &mut out.fills), (&EQUITY, &mut out.equity)] {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(o.lock).fetch_one(&mut *db).await?;
        if !got {
            continue;
        }
        let r = flush_one(&mut db, lake, o).await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(o.lock).execute(&mut *db).await?;
        *slot = r?;
    }
    Ok(out)
}
