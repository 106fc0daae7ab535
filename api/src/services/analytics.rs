//! Cohort analytics: how a cohort's members use its educator's templates, one row per member and
//! template used (members who used none get one row without a template): clones made, backtests
//! run, best and median Sharpe and best total return over their combinations, worst max drawdown,
//! mean paper-trading return, last activity. DataFusion joins a snapshot of the cohort's Postgres
//! rows (members, their clones, runs and paper trades) with the lake's `backtest_metrics`, read
//! only for those runs: never another cohort's data. CSV and JSON can leave as a stream of batches
//! ([`cohort_stream`], [`encode_chunk`]); Parquet is written whole.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::services::cohorts;
use crate::services::users::User;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Parquet,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "parquet" => Ok(Format::Parquet),
            other => Err(format!("format '{other}': csv, json or parquet")),
        }
    }
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }
}

fn utc() -> DataType {
    DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()))
}

fn strings(v: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(v))
}

fn table(fields: Vec<Field>, columns: Vec<ArrayRef>) -> ApiResult<Arc<MemTable>> {
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
}

const QUERY: &str = "
WITH paper AS (SELECT strategy_id, avg(return_pct) AS return_pct FROM paper_runs GROUP BY strategy_id),
     metrics AS (SELECT r.run_id, r.strategy_id, b.sharpe, b.total_return_pct, b.max_drawdown_pct
                 FROM runs r JOIN backtest_metrics b ON b.run_id = r.run_id)
SELECT m.user_id, m.email, m.display_name, c.template_id, c.template_title,
       count(DISTINCT c.strategy_id) AS clones_made,
       count(DISTINCT r.run_id) AS backtests_run,
       max(bm.sharpe) AS best_sharpe,
       median(bm.sharpe) AS median_sharpe,
       max(bm.total_return_pct) AS best_total_return_pct,
       max(bm.max_drawdown_pct) AS worst_max_drawdown_pct,
       avg(p.return_pct) AS paper_return_pct,
       m.last_active_at
FROM members m
LEFT JOIN clones c ON c.user_id = m.user_id
LEFT JOIN runs r ON r.strategy_id = c.strategy_id
LEFT JOIN metrics bm ON bm.run_id = r.run_id AND bm.strategy_id = c.strategy_id
LEFT JOIN paper p ON p.strategy_id = c.strategy_id
GROUP BY m.user_id, m.email, m.display_name, c.template_id, c.template_title, m.last_active_at
ORDER BY m.email, c.template_title";

/// The rows of an export and their schema (kept when there is no row).
#[derive(Debug, Clone)]
pub struct Rows {
    pub schema: arrow::datatypes::SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The analytics rows of cohort `id` (its educator, or an admin), all at once.
pub async fn cohort(pool: &PgPool, lake: &lake::Lake, user: &User, id: Uuid) -> ApiResult<Rows> {
    let df = cohort_frame(pool, lake, user, id).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    Ok(Rows { schema, batches: df.collect().await? })
}

/// The analytics rows of cohort `id` as a stream of batches, as DataFusion produces them.
pub async fn cohort_stream(pool: &PgPool, lake: &lake::Lake, user: &User, id: Uuid) -> ApiResult<datafusion::physical_plan::SendableRecordBatchStream> {
    Ok(cohort_frame(pool, lake, user, id).await?.execute_stream().await?)
}

/// The planned query over the cohort's rows (see the module).
async fn cohort_frame(pool: &PgPool, lake: &lake::Lake, user: &User, id: Uuid) -> ApiResult<datafusion::prelude::DataFrame> {
    let c = cohorts::managed(pool, user, id).await?;
    // the Postgres side, read in one snapshot
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut *tx).await?;
    let members: Vec<(Uuid, Option<String>, String, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "SELECT u.id, u.email, u.display_name, u.last_active_at FROM cohort_members m JOIN users u ON u.id = m.user_id WHERE m.cohort_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    // the members' strategies cloned from this educator's templates shared with the cohort or the public
    let clones: Vec<(Uuid, Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT s.owner_id, s.id, t.id, ts.title FROM strategies s
         JOIN template_shares t ON t.id = s.cloned_from_template_id
         JOIN strategy_versions tv ON tv.id = t.strategy_version_id JOIN strategies ts ON ts.id = tv.strategy_id
         WHERE s.owner_id IN (SELECT user_id FROM cohort_members WHERE cohort_id = $1)
           AND t.educator_id = $2 AND (t.cohort_id = $1 OR t.audience_scope = 'public')",
    )
    .bind(id)
    .bind(c.educator_id)
    .fetch_all(&mut *tx)
    .await?;
    let strategy_ids: Vec<Uuid> = clones.iter().map(|c| c.1).collect();
    let runs: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT r.id, v.strategy_id FROM backtest_runs r JOIN strategy_versions v ON v.id = r.strategy_version_id
         WHERE v.strategy_id = ANY($1) AND r.status = 'succeeded'",
    )
    .bind(&strategy_ids)
    .fetch_all(&mut *tx)
    .await?;
    let paper: Vec<(Uuid, Option<f64>)> = sqlx::query_as(
        "SELECT v.strategy_id, (r.performance_snapshot ->> 'returnPct')::float8 FROM paper_trade_runs r
         JOIN strategy_versions v ON v.id = r.strategy_version_id WHERE v.strategy_id = ANY($1) AND r.performance_snapshot IS NOT NULL",
    )
    .bind(&strategy_ids)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let ctx = query::session_with(lake, &query::Tables::none().latest(lake::LakeTable::BacktestMetrics)).await?;
    let s = |name: &str| Field::new(name, DataType::Utf8, true);
    ctx.register_table(
        "members",
        table(
            vec![s("user_id"), s("email"), s("display_name"), Field::new("last_active_at", utc(), true)],
            vec![
                strings(members.iter().map(|m| Some(m.0.to_string())).collect()),
                strings(members.iter().map(|m| m.1.clone()).collect()),
                strings(members.iter().map(|m| Some(m.2.clone())).collect()),
                Arc::new(TimestampMicrosecondArray::from(members.iter().map(|m| m.3.map(|t| t.timestamp_micros())).collect::<Vec<_>>()).with_timezone("UTC")),
            ],
        )?,
    )?;
    ctx.register_table(
        "clones",
        table(
            vec![s("user_id"), s("strategy_id"), s("template_id"), s("template_title")],
            vec![
                strings(clones.iter().map(|c| Some(c.0.to_string())).collect()),
                strings(clones.iter().map(|c| Some(c.1.to_string())).collect()),
                strings(clones.iter().map(|c| Some(c.2.to_string())).collect()),
                strings(clones.iter().map(|c| Some(c.3.clone())).collect()),
            ],
        )?,
    )?;
    ctx.register_table(
        "runs",
        table(vec![s("run_id"), s("strategy_id")], vec![strings(runs.iter().map(|r| Some(r.0.to_string())).collect()), strings(runs.iter().map(|r| Some(r.1.to_string())).collect())])?,
    )?;
    ctx.register_table(
        "paper_runs",
        table(
            vec![s("strategy_id"), Field::new("return_pct", DataType::Float64, true)],
            vec![strings(paper.iter().map(|p| Some(p.0.to_string())).collect()), Arc::new(Float64Array::from(paper.iter().map(|p| p.1).collect::<Vec<_>>()))],
        )?,
    )?;
    if std::env::var_os("BB_DEBUG_PLAN").is_some() {
        let b = ctx.sql(&format!("EXPLAIN ANALYZE {QUERY}")).await?.collect().await?;
        eprintln!("{}", arrow::util::pretty::pretty_format_batches(&b).map(|d| d.to_string()).unwrap_or_default());
    }
    Ok(ctx.sql(QUERY).await?)
}

/// What a CSV or JSON body starts with: `[` for JSON's array.
pub fn head(format: Format) -> Vec<u8> {
    if format == Format::Json { b"[".to_vec() } else { Vec::new() }
}

/// One batch of a CSV or JSON body: CSV rows (with the header line before the first batch), or
/// the batch's JSON objects (after a comma unless first). Parquet is not written in pieces: its
/// footer needs every row group first.
pub fn encode_chunk(batch: &RecordBatch, format: Format, first: bool) -> ApiResult<Vec<u8>> {
    let internal = |e: arrow::error::ArrowError| ApiError::Internal(e.into());
    let mut out = Vec::new();
    match format {
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(first).with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.6fZ".into()).build(&mut out);
            w.write(batch).map_err(internal)?;
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut out);
            w.write(batch).map_err(internal)?;
            w.finish().map_err(internal)?;
            // `[{...},{...}]` without its brackets, after a comma when objects came before
            out = if out.len() >= 2 { out[1..out.len() - 1].to_vec() } else { Vec::new() };
            if !first {
                out.insert(0, b',');
            }
        }
        Format::Parquet => return Err(ApiError::Internal(anyhow::anyhow!("parquet is not written in pieces"))),
    }
    Ok(out)
}

/// What a CSV or JSON body ends with: `]` for JSON's array; for CSV without any row, the header line.
pub fn tail(format: Format, schema: &arrow::datatypes::Schema, any_rows: bool) -> Vec<u8> {
    match format {
        Format::Json => b"]".to_vec(),
        _ if !any_rows => (schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(",") + "\n").into_bytes(),
        _ => Vec::new(),
    }
}

/// The rows encoded in `format`.
pub fn encode(rows: &Rows, format: Format) -> ApiResult<Vec<u8>> {
    let batches: Vec<&RecordBatch> = rows.batches.iter().filter(|b| b.num_rows() > 0).collect();
    if format == Format::Parquet {
        let internal = |e: datafusion::parquet::errors::ParquetError| ApiError::Internal(e.into());
        let mut out = Vec::new();
        let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, rows.schema.clone(), None).map_err(internal)?;
        for b in batches {
            w.write(b).map_err(internal)?;
        }
        w.close().map_err(internal)?;
        return Ok(out);
    }
    let mut out = head(format);
    for (k, b) in batches.iter().enumerate() {
        out.extend(encode_chunk(b, format, k == 0)?);
    }
    out.extend(tail(format, &rows.schema, !batches.is_empty()));
    Ok(out)
}
