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
