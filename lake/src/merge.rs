//! Upserting batches into a lake table on its natural key (exactly-once ingest).

use arrow::record_batch::RecordBatch;
use datafusion::prelude::{col, Expr, SessionContext};

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

/// Times a merge that lost a race to a concurrent writer is redone from the new table version.
const MERGE_ATTEMPTS: u32 = 25;

/// Whether a commit failed because another writer committed first something this merge should
/// have read (or the same version): redoing the merge from the new version is then correct.
fn lost_a_race(e: &Error) -> bool {
    use deltalake::kernel::transaction::TransactionError;
    matches!(
        e,
        Error::Delta(deltalake::DeltaTableError::VersionAlreadyExists(_))
            | Error::Delta(deltalake::DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_) | TransactionError::VersionAlreadyExists(_) | TransactionError::MaxCommitAttempts(_)
            })
    )
}

impl Lake {
    /// Upserts `batches` into `table`: rows whose natural key exists replace the stored row, the
    /// others are inserted. The batches must not repeat a key. One commit.
    ///
    /// Safe with concurrent writers (other processes merging into the same table): every write is
    /// a Delta MERGE, even into an empty table, so its commit carries what it read and Delta's
    /// conflict check refuses it when another writer added rows it should have seen; the merge is
    /// then redone from the newer version (with a jittered pause), up to 25 times.
    pub async fn merge(&self, table: LakeTable, batches: Vec<RecordBatch>) -> Result<MergeOutcome> {
        check_schema(table, &batches)?;
        if table.natural_key().is_empty() {
            return Err(Error::SchemaMismatch { table: table.name().into(), reason: "table has no natural key to merge on".into() });
        }
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows == 0 {
            return Ok(MergeOutcome { version: self.version(table).await?, ..Default::default() });
        }
        let mut attempt = 1;
        loop {
            match self.merge_once(table, batches.clone(), None).await {
                Ok(outcome) => return Ok(outcome.expect("a merge onto any version writes")),
                Err(e) if lost_a_race(&e) && attempt < MERGE_ATTEMPTS => {
                    tracing::debug!(table = table.name(), attempt, error = %e, "a concurrent writer committed first; merging again");
                    let pause = 20 * attempt as u64 + rand_millis(50 * attempt as u64);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Upserts `batches` like [`Lake::merge`], but only onto version `read` of the table (`None`:
    /// the table had no version): when another writer committed since — before this merge began
    /// or while it ran — nothing is written and the answer is `None`, so the caller can read
    /// again and decide again (what `ingest` does to report exactly what changed).
    pub async fn merge_onto(&self, table: LakeTable, batches: Vec<RecordBatch>, read: Option<u64>) -> Result<Option<MergeOutcome>> {
        check_schema(table, &batches)?;
        match self.merge_once(table, batches, Some(read)).await {
            Err(e) if lost_a_race(&e) => Ok(None),
            other => other,
        }
    }

    /// One MERGE commit; with `expect`, only onto that version (else nothing is written: `None`).
    async fn merge_once(&self, table: LakeTable, batches: Vec<RecordBatch>, expect: Option<Option<u64>>) -> Result<Option<MergeOutcome>> {
        let key = table.natural_key();
        let t = self.open(table).await?;
        if let Some(expected) = expect {
            // the table is created at version 0 on first use: merging onto "no table" means onto that empty version
            if t.version() != expected && !(expected.is_none() && t.version() == Some(0)) {
                return Ok(None);
            }
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
        Ok(Some(MergeOutcome {
            version: t.version(),
            inserted: metrics.num_target_rows_inserted as u64,
            updated: metrics.num_target_rows_updated as u64,
        }))
    }
}

/// A pseudo-random number of milliseconds below `below` (spreads retrying writers apart).
fn rand_millis(below: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos() as u64).unwrap_or(0);
    (nanos ^ (std::process::id() as u64).rotate_left(17)) % below.max(1)
}
