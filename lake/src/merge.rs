//! Upserting batches into a lake table on its natural key (exactly-once ingest).

use arrow::record_batch::RecordBatch;
use datafusion::prelude::{col, Expr, SessionContext};
use deltalake::protocol::SaveMode;

use crate::append::check_schema;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::schema::LakeTable;

/// What a merge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The table version after the merge (`None` when nothing was written and the table does not exist).
    pub version: Option<u64>,
    /// Rows whose key was new.
    pub inserted: u64,
    /// Rows whose key existed and were overwritten with the incoming values.
    pub updated: u64,
}

impl Lake {
    /// Upserts `batches` into `table`: rows whose natural key exists replace the stored row, the
    /// others are inserted. The batches must not repeat a key. One commit.
    pub async fn merge(&self, table: LakeTable, batches: Vec<RecordBatch>) -> Result<MergeOutcome> {
        check_schema(table, &batches)?;
        let key = table.natural_key();
        if key.is_empty() {
            return Err(Error::SchemaMismatch { table: table.name().into(), reason: "table has no natural key to merge on".into() });
        }
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            return Ok(MergeOutcome { version: self.version(table).await?, ..Default::default() });
        }
        let t = self.open(table).await?;
        if t.snapshot()?.log_data().num_files() == 0 {
            let t = t
                .write(batches)
                .with_save_mode(SaveMode::Append)
                .with_partition_columns(table.partition_columns().iter().copied())
                .await?;
            return Ok(MergeOutcome { version: t.version(), inserted: rows as u64, updated: 0 });
        }

        let source = SessionContext::new().read_batches(batches)?;
        let predicate = key
            .iter()
            .map(|k| col(format!("t.{k}")).eq(col(format!("s.{k}"))))
            .reduce(Expr::and)
            .expect("natural key is not empty");
        let value_columns: Vec<&str> =
            table.columns().iter().map(|c| c.name).filter(|c| !key.contains(c)).collect();
        let all_columns: Vec<&str> = table.columns().iter().map(|c| c.name).collect();
        let (t, metrics) = t
            .merge(source, predicate)
            .with_source_alias("s")
            .with_target_alias("t")
            .when_matched_update(|mut u| {
                for c in &value_columns {
                    u = u.update(*c, col(format!("s.{c}")));
                }
                u
            })?
            .when_not_matched_insert(|mut i| {
                for c in &all_columns {
                    i = i.set(*c, col(format!("s.{c}")));
                }
                i
            })?
            .await?;
        Ok(MergeOutcome {
            version: t.version(),
            inserted: metrics.num_target_rows_inserted as u64,
            updated: metrics.num_target_rows_updated as u64,
        })
    }
}
