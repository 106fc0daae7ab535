//! Keeping tables healthy: compacting small files and vacuuming unreferenced ones.

use std::time::Duration;

use object_store::ObjectStoreExt;

use crate::error::Result;
use crate::lake::Lake;
use crate::schema::LakeTable;

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompactOutcome {
    pub version: Option<u64>,
    pub files_added: u64,
    pub files_removed: u64,
}

impl Lake {
    /// Rewrites small files of `table` into larger ones (one commit; the data is unchanged).
    pub async fn compact(&self, table: LakeTable) -> Result<CompactOutcome> {
        let Some(t) = self.open_existing(table).await? else { return Ok(CompactOutcome::default()) };
        let (t, metrics) = t.optimize().await?;
        Ok(CompactOutcome {
            version: t.version(),
            files_added: metrics.num_files_added,
            files_removed: metrics.num_files_removed,
        })
    }

    /// Deletes files no longer referenced by versions younger than `retention`; returns the
    /// files deleted (or that would be, with `dry_run`). Time travel before `retention` is lost.
    pub async fn vacuum(&self, table: LakeTable, retention: Duration, dry_run: bool) -> Result<Vec<String>> {
        let Some(t) = self.open_existing(table).await? else { return Ok(vec![]) };
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let vacuum = |t: deltalake::DeltaTable, dry_run: bool| {
            t.vacuum().with_retention_period(retention).with_enforce_retention_duration(false).with_dry_run(dry_run)
        };
        // Delta plans a removed file for deletion until its tombstone leaves the log, even once it
        // is gone: keep the files still there, and commit nothing when there are none (otherwise
        // every later vacuum reports the same files deleted again and adds two commits).
        let (t, planned) = vacuum(t, true).await?;
        let store = t.object_store();
        let mut present = Vec::with_capacity(planned.files_deleted.len());
        for file in planned.files_deleted {
            match store.head(&object_store::path::Path::parse(&file).map_err(deltalake::DeltaTableError::from)?).await {
                Ok(_) => present.push(file),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(deltalake::DeltaTableError::from(e).into()),
            }
        }
        if !dry_run && !present.is_empty() {
            vacuum(t, false).await?;
        }
        Ok(present)
    }
}
