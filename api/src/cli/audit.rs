//! `bb audit verify`: checks the audit trail's hash chain in Postgres and its copy in the lake
//! record by record and names the first record that breaks either (exit 1), or prints how many it
//! checked and the chain's head (the lake's copy may lag: a prefix is not a break). `bb audit
//! export` writes a period's package for a regulator: records, compliance events, a manifest.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::global::GlobalArgs;
use crate::services::audit;

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub database: super::db::DatabaseArgs,
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the chain: every record numbered in order, chained to the one before, hashing to its hash.
    Verify,
    /// Write an audit package for a period: the records and the compliance events with their
    /// evidence (JSON lines and Parquet) and a manifest with the chain's hashes and each file's sha256.
    Export {
        /// Start (RFC 3339 or YYYY-MM-DD), inclusive.
        #[arg(long, value_parser = super::paper::parse_time)]
        from: i64,
        /// End (RFC 3339 or YYYY-MM-DD), exclusive.
        #[arg(long, value_parser = super::paper::parse_time)]
        to: i64,
        /// Folder (created if missing) or object-store prefix (`s3://bucket/prefix`, configured by the
        /// AWS_* environment like the lake) to write the package to.
        #[arg(long)]
        output: String,
    },
}

pub async fn run(global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let (pool, cluster) = args.database.open(&global.data_dir).await?;
    let result = match args.command {
        AuditCommand::Export { from, to, output } => export(&pool, from, to, &output).await?,
        AuditCommand::Verify => {
            let lake = global.open_lake()?;
            let mut ok = true;
            for (place, v) in [("Postgres", audit::verify(&pool).await?), ("the lake", audit::verify_lake(&pool, &lake).await?)] {
                match &v.first_break {
                    None => println!("audit trail in {place}: {} record(s) checked, the chain holds; head {}", v.checked, v.head),
                    Some((seq, why)) => {
                        ok = false;
                        println!("audit trail in {place}: {} record(s) checked, then record {seq} breaks the chain: {why}", v.checked);
                    }
                }
            }
            if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
    };
    pool.close().await;
    drop(cluster);
    Ok(result)
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn parquet(batch: &arrow::array::RecordBatch) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut out, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    Ok(out)
}

fn events_batch(events: &[crate::services::compliance::ComplianceEvent]) -> anyhow::Result<arrow::array::RecordBatch> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    let s = |f: &dyn Fn(&crate::services::compliance::ComplianceEvent) -> Option<String>| -> ArrayRef { Arc::new(events.iter().map(f).collect::<StringArray>()) };
    let t = |f: &dyn Fn(&crate::services::compliance::ComplianceEvent) -> Option<i64>| -> ArrayRef {
        Arc::new(events.iter().map(f).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
    };
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("entity_type", DataType::Utf8, false),
        Field::new("entity_id", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("created_by", DataType::Utf8, true),
        Field::new("resolved_by", DataType::Utf8, true),
        Field::new("resolved_at", ts.clone(), true),
        Field::new("created_at", ts, false),
    ]));
    Ok(arrow::array::RecordBatch::try_new(
        schema,
        vec![
            s(&|e| Some(e.id.to_string())),
            s(&|e| Some(e.entity_type.to_string())),
            s(&|e| Some(e.entity_id.to_string())),
            s(&|e| Some(e.event_type.to_string())),
            s(&|e| Some(crate::services::audit::canonical(&e.payload))),
            s(&|e| Some(e.status.to_string())),
            s(&|e| e.created_by.map(|u| u.to_string())),
            s(&|e| e.resolved_by.map(|u| u.to_string())),
            t(&|e| e.resolved_at.map(|x| x.timestamp_micros())),
            t(&|e| Some(e.created_at.timestamp_micros())),
        ],
    )?)
}

/// Writes the audit package of `[from, to)` (ms) under `dir` (a folder or an object-store prefix).
async fn export(pool: &sqlx::PgPool, from: i64, to: i64, dir: &str) -> anyhow::Result<ExitCode> {
    let (from, to) = (crate::services::paper_trades::runs::ms_time(from), crate::services::paper_trades::runs::ms_time(to));
    anyhow::ensure!(to > from, "--to must be after --from");
    let chain = audit::verify(pool).await?;
    let records = audit::between(pool, from, to).await?;
    let events = crate::services::compliance::between(pool, from, to).await?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut listed = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>, rows: usize| -> anyhow::Result<()> {
        listed.push(serde_json::json!({"name": name, "rows": rows, "bytes": bytes.len(), "sha256": sha256_hex(&bytes)}));
        files.push((name.to_string(), bytes));
        Ok(())
    };
    let lines = |values: Vec<serde_json::Value>| values.iter().map(|v| format!("{v}\n")).collect::<String>().into_bytes();
    put("audit_log.jsonl", lines(records.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect()), records.len())?;
    put("audit_log.parquet", parquet(&audit::batch_of(&records)?)?, records.len())?;
    put("compliance_events.jsonl", lines(events.iter().map(|e| serde_json::to_value(e).unwrap_or_default()).collect()), events.len())?;
    put("compliance_events.parquet", parquet(&events_batch(&events)?)?, events.len())?;
    let manifest = serde_json::json!({
        "generatedAt": chrono::Utc::now(), "from": from, "to": to,
        "records": records.len(), "firstSeq": records.first().map(|r| r.seq), "lastSeq": records.last().map(|r| r.seq),
        "firstPrevHash": records.first().map(|r| r.prev_hash.clone()), "lastHash": records.last().map(|r| r.hash.clone()),
        "hashRule": "hash = sha256(prev_hash || canonical JSON of {seq, actor, action, entityType, entityId, before, after, requestId, createdAt}); keys sorted, no spaces, createdAt RFC 3339 UTC with microseconds",
        "chain": {"recordsChecked": chain.checked, "holds": chain.first_break.is_none(), "head": chain.head, "firstBreak": chain.first_break.as_ref().map(|b| b.0)},
        "complianceEvents": events.len(), "files": listed,
    });
    files.push(("manifest.json".into(), serde_json::to_string_pretty(&manifest)?.into_bytes()));
    lake::put_files(&lake::LakeConfig::new(dir).with_aws_env(), &files).await.map_err(|e| anyhow::anyhow!("cannot write the package to {dir}: {e}"))?;
    println!("audit package of {} → {}: {} record(s), {} compliance event(s), chain {} ({} record(s) checked), written to {}",
        from.to_rfc3339(), to.to_rfc3339(), records.len(), events.len(), if chain.first_break.is_none() { "holds" } else { "BROKEN" }, chain.checked, dir);
    Ok(if chain.first_break.is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
