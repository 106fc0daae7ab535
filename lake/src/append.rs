//! Appending batches to a lake table, after checking them against its fixed schema.

use arrow::record_batch::RecordBatch;
use deltalake::protocol::SaveMode;

use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::schema::LakeTable;

/// Checks that every batch has exactly the table's column names and types.
pub(crate) fn check_schema(table: LakeTable, batches: &[RecordBatch]) -> Result<()> {
    let expected = table.schema();
    for batch in batches {
        let got = batch.schema();
        let same = got.fields().len() == expected.fields().len()
            && got.fields().iter().zip(expected.fields()).all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(Error::SchemaMismatch {
                table: table.name().into(),
                reason: format!("expected {expected:?}, got {got:?}"),
            });
        }
    }
    Ok(())
}

impl Lake {
    /// Appends `batches` to `table` in one commit and returns the new version. No rows, no commit.
    pub async fn append(&self, table: LakeTable, batches: Vec<RecordBatch>) -> Result<Option<u64>> {
        check_schema(table, &batches)?;
        if batches.iter().all(|b| b.num_rows() == 0) {
            return self.version(table).await;
        }
        let t = self.open(table).await?;
        let t = t
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_partition_columns(table.partition_columns().iter().copied())
            .await?;
        Ok(t.version())
    }
}

impl Lake {
    /// Replaces every row of `table` whose `column` equals `value` with `batches`, in one commit
    /// (Delta's `replaceWhere`). Writing the same rows again leaves one copy, so a retried job that
    /// stores a run's results twice does not duplicate them. Returns the new version.
    pub async fn replace_where_eq(&self, table: LakeTable, column: &str, value: &str, batches: Vec<RecordBatch>) -> Result<Option<u64>> {
        check_schema(table, &batches)?;
        let t = self.open(table).await?;
        let t = t
            .write(batches)
            .with_save_mode(SaveMode::Overwrite)
            .with_replace_where(datafusion::prelude::col(column).eq(datafusion::prelude::lit(value)))
            .with_partition_columns(table.partition_columns().iter().copied())
            .await?;
        Ok(t.version())
    }
}

impl Lake {
    /// The last version `app_id` committed to `table` with [`Lake::append_as`] (Delta's
    /// application transaction), `None` when it never did or the table does not exist.
    pub async fn app_version(&self, table: LakeTable, app_id: &str) -> Result<Option<i64>> {
        let Some(t) = self.open_existing(table).await? else {
            return Ok(None);
        };
        Ok(t.snapshot()?.transaction_version(t.log_store().as_ref(), app_id).await?)
    }

    /// Appends `batches` in one commit that also records `app_id` at `version` (a Delta
    /// application transaction): a writer that lost track of whether its commit landed asks
    /// [`Lake::app_version`] instead of writing twice. Returns the new table version.
    pub async fn append_as(&self, table: LakeTable, batches: Vec<RecordBatch>, app_id: &str, version: i64) -> Result<Option<u64>> {
        check_schema(table, &batches)?;
        let t = self.open(table).await?;
        let txn = deltalake::kernel::Transaction::new(app_id, version);
        let t = t
            .write(batches)
            .with_save_mode(SaveMode::Append)
            .with_partition_columns(table.partition_columns().iter().copied())
            .with_commit_properties(deltalake::kernel::transaction::CommitProperties::default().with_application_transaction(txn))
            .await?;
        Ok(t.version())
    }
}
