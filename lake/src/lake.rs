//! `Lake`: opens, creates and registers the Delta tables under one root.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use deltalake::delta_datafusion::TableProviderBuilder;
use deltalake::{DeltaTable, DeltaTableBuilder};

use crate::config::{LakeConfig, LakeRoot};
use crate::error::{Error, Result};
use crate::schema::LakeTable;

/// A lake: a root (local folder or S3 prefix) holding one Delta folder per table.
#[derive(Debug, Clone)]
pub struct Lake {
    config: LakeConfig,
    root: LakeRoot,
}

/// What `bb lake ls` shows about one table.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub table: LakeTable,
    pub version: u64,
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
    /// Rows per partition (partition values joined by `/`), for partitioned tables.
    pub partitions: BTreeMap<String, u64>,
}

/// The provider of a loaded table at its latest version, or at `version`. (On a loaded table,
/// `table_provider().with_table_version(v)` would be ignored: the builder must start from the log store.)
pub(crate) async fn provider_of(t: &DeltaTable, version: Option<u64>) -> Result<Arc<dyn TableProvider>> {
    Ok(match version {
        None => t.table_provider().await?,
        Some(v) => TableProviderBuilder::default().with_log_store(t.log_store()).with_table_version(v).await?,
    })
}

impl Lake {
    /// Opens the lake described by `config` (nothing is created until a table is first written).
    pub fn new(config: LakeConfig) -> Result<Self> {
        let root = config.root()?;
        if matches!(root, LakeRoot::S3(_)) {
            let asked = |v: &str| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no" | "off");
            let unsafe_rename = config.storage_options.iter().any(|(k, v)| k.eq_ignore_ascii_case("AWS_S3_ALLOW_UNSAFE_RENAME") && asked(v))
                || std::env::var("AWS_S3_ALLOW_UNSAFE_RENAME").is_ok_and(|v| asked(&v));
            if unsafe_rename {
                return Err(Error::InvalidUri {
                    uri: config.uri.clone(),
                    reason: "AWS_S3_ALLOW_UNSAFE_RENAME is set: the lake commits with S3 conditional writes (If-None-Match), \
                             which keep concurrent writers exactly-once; the unsafe rename mode would let two writers \
                             overwrite each other's commits. Unset it (AWS S3, MinIO and the other stores bb supports have \
                             conditional writes)"
                        .into(),
                });
            }
        }
        if let LakeRoot::Local(dir) = &root {
            std::fs::create_dir_all(dir).map_err(|e| Error::InvalidUri {
                uri: dir.display().to_string(),
                reason: format!("cannot create the lake folder: {e}"),
            })?;
        }
        Ok(Self { config, root })
    }

    /// The lake's root.
    pub fn root(&self) -> &LakeRoot {
        &self.root
    }

    /// Loads `table` if it exists.
    pub async fn open_existing(&self, table: LakeTable) -> Result<Option<DeltaTable>> {
        if let LakeRoot::Local(dir) = &self.root {
            if !dir.join(table.name()).join("_delta_log").is_dir() {
                return Ok(None);
            }
        }
        let url = self.root.table_url(table.name())?;
        let mut t = DeltaTableBuilder::from_url(url)?
            .with_storage_options(self.config.storage_options.clone())
            .build()
            .map_err(|e| self.explain(e))?;
        match t.load().await {
            Ok(()) => Ok(Some(t)),
            Err(deltalake::DeltaTableError::NotATable(_)) => Ok(None),
            Err(e) => Err(self.explain(e)),
        }
    }

    /// An object-store failure in words that name the lake and what to check (the store's own
    /// message otherwise). Credentials never appear: only the variables' names.
    fn explain(&self, e: deltalake::DeltaTableError) -> Error {
        let LakeRoot::S3(url) = &self.root else { return e.into() };
        let text = e.to_string();
        let bucket = url.host_str().unwrap_or("");
        let endpoint = self.config.storage_options.get("AWS_ENDPOINT_URL").map(|u| format!(" at {u}")).unwrap_or_default();
        let reason = if text.contains("NoSuchBucket") {
            format!("the bucket '{bucket}' does not exist{endpoint} (create it, or check AWS_ENDPOINT_URL and AWS_REGION)")
        } else if ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403 Forbidden", "ExpiredToken"].iter().any(|c| text.contains(c)) {
            let code = ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken"].into_iter().find(|c| text.contains(c)).unwrap_or("403 Forbidden");
            format!("the object store refused the credentials ({code}): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the bucket's policy")
        } else if ["Connection refused", "error sending request", "dns error", "error trying to connect"].iter().any(|c| text.contains(c)) {
            format!("cannot reach the object store{endpoint} (check AWS_ENDPOINT_URL, AWS_ALLOW_HTTP for http://, and the network)")
        } else {
            return e.into();
        };
        Error::Storage { uri: self.config.uri.clone(), reason }
    }

    /// Loads `table`, creating it with its fixed schema and partitioning on first use.
    pub async fn open(&self, table: LakeTable) -> Result<DeltaTable> {
        if let Some(t) = self.open_existing(table).await? {
            return Ok(t);
        }
        if let LakeRoot::Local(dir) = &self.root {
            let folder = dir.join(table.name());
            std::fs::create_dir_all(&folder).map_err(|e| Error::InvalidUri {
                uri: folder.display().to_string(),
                reason: format!("cannot create the table folder: {e}"),
            })?;
        }
        let url = self.root.table_url(table.name())?;
        let t = DeltaTableBuilder::from_url(url)?
            .with_storage_options(self.config.storage_options.clone())
            .build()?;
        let created = t
            .create()
            .with_table_name(table.name())
            .with_columns(table.delta_columns())
            .with_partition_columns(table.partition_columns().iter().copied())
            .with_save_mode(deltalake::protocol::SaveMode::Ignore)
            .await;
        match created {
            Ok(t) => Ok(t),
            // another writer created it at the same moment: use theirs
            Err(e) => match self.open_existing(table).await? {
                Some(t) => Ok(t),
                None => Err(e.into()),
            },
        }
    }

    /// The current version of `table`, or `None` if it does not exist yet.
    pub async fn version(&self, table: LakeTable) -> Result<Option<u64>> {
        Ok(self.open_existing(table).await?.and_then(|t| t.version()))
    }

    /// A DataFusion provider for `table` at its latest version, or at `version` (time travel).
    pub async fn provider(&self, table: LakeTable, version: Option<u64>) -> Result<Arc<dyn TableProvider>> {
        let t = self.open_existing(table).await?.ok_or_else(|| Error::TableNotFound(table.name().into()))?;
        provider_of(&t, version).await
    }

    /// Registers `table` in `ctx` under its name: the Delta table if it exists, an empty table of
    /// the same schema otherwise. Returns the version registered (`None` for the empty stand-in).
    pub async fn register(&self, ctx: &SessionContext, table: LakeTable) -> Result<Option<u64>> {
        self.register_as(ctx, table, table.name(), None).await
    }

    /// Registers `table` at `version` (latest when `None`) in `ctx` under `name`.
    pub async fn register_as(
        &self,
        ctx: &SessionContext,
        table: LakeTable,
        name: &str,
        version: Option<u64>,
    ) -> Result<Option<u64>> {
        match self.open_existing(table).await? {
            Some(t) => {
                t.update_datafusion_session(&ctx.state())?;
                let provider = provider_of(&t, version).await?;
                ctx.deregister_table(name)?;
                ctx.register_table(name, provider)?;
                Ok(Some(version.or(t.version()).unwrap_or_default()))
            }
            None if version.is_some() => Err(Error::TableNotFound(table.name().into())),
            None => {
                let empty = MemTable::try_new(table.schema(), vec![vec![]])?;
                ctx.deregister_table(name)?;
                ctx.register_table(name, Arc::new(empty))?;
                Ok(None)
            }
        }
    }

    /// Version, files, rows, bytes and partitions of `table`, from the Delta log (no data is read).
    pub async fn info(&self, table: LakeTable) -> Result<Option<TableInfo>> {
        let Some(t) = self.open_existing(table).await? else { return Ok(None) };
        let snapshot = t.snapshot()?;
        let mut info = TableInfo {
            table,
            version: snapshot.version(),
            files: 0,
            rows: 0,
            bytes: 0,
            partitions: BTreeMap::new(),
        };
        for file in snapshot.log_data().iter() {
            let rows = file.num_records().unwrap_or(0) as u64;
            info.files += 1;
            info.rows += rows;
            info.bytes += file.size().max(0) as u64;
            if !table.partition_columns().is_empty() {
                let values = file.partition_values_map();
                let key = table
                    .partition_columns()
                    .iter()
                    .map(|c| values.get(*c).cloned().flatten().unwrap_or_else(|| "null".into()))
                    .collect::<Vec<_>>()
                    .join("/");
                *info.partitions.entry(key).or_default() += rows;
            }
        }
        Ok(Some(info))
    }
}

/// Follows one table's latest version cheaply: the first call loads the table, later calls read
/// only the commits added since (a listing of its log), for callers that must notice a new
/// version at once without reopening the table each time (paper-trading ticks).
#[derive(Debug)]
pub struct VersionWatch {
    lake: Lake,
    table: LakeTable,
    loaded: Option<DeltaTable>,
}

impl VersionWatch {
    pub fn new(lake: &Lake, table: LakeTable) -> Self {
        VersionWatch { lake: lake.clone(), table, loaded: None }
    }

    /// The table's version now (`None` while it does not exist).
    pub async fn current(&mut self) -> Result<Option<u64>> {
        match self.loaded.as_mut() {
            Some(t) => {
                t.update_incremental(None).await?;
                Ok(t.version())
            }
            None => {
                self.loaded = self.lake.open_existing(self.table).await?;
                Ok(self.loaded.as_ref().and_then(|t| t.version()))
            }
        }
    }

    /// Whether this watch follows `lake` (the same location).
    pub fn follows(&self, lake: &Lake) -> bool {
        self.lake.root().to_string() == lake.root().to_string()
    }
}

/// The object store rooted at `config`'s folder or prefix (a local folder is created).
fn store_under(config: &LakeConfig) -> Result<Arc<dyn deltalake::ObjectStore>> {
    use deltalake::logstore::LogStore as _;
    let url = match config.root()? {
        LakeRoot::Local(dir) => {
            std::fs::create_dir_all(&dir).map_err(|e| Error::InvalidUri { uri: dir.display().to_string(), reason: format!("cannot create the folder: {e}") })?;
            url::Url::from_directory_path(&dir).map_err(|_| Error::InvalidUri { uri: dir.display().to_string(), reason: "not an absolute folder".into() })?
        }
        _ => url::Url::parse(&format!("{}/", config.uri.trim().trim_end_matches('/'))).map_err(|e| Error::InvalidUri { uri: config.uri.clone(), reason: e.to_string() })?,
    };
    Ok(DeltaTableBuilder::from_url(url)?.with_storage_options(config.storage_options.clone()).build_storage()?.object_store(None))
}

/// Writes files under a folder or object-store prefix (`s3://bucket/prefix`, configured like the
/// lake by `config`'s storage options): `name` is each file's path below it. For packages that
/// leave the platform (an audit export), not for tables.
pub async fn put_files(config: &LakeConfig, files: &[(String, Vec<u8>)]) -> Result<()> {
    use deltalake::logstore::object_store::ObjectStoreExt as _;
    let store = store_under(config)?;
    for (name, bytes) in files {
        store.put(&deltalake::Path::from(name.as_str()), bytes.clone().into()).await.map_err(deltalake::DeltaTableError::from)?;
    }
    Ok(())
}

/// Reads one file written by [`put_files`] under the same folder or prefix.
pub async fn get_file(config: &LakeConfig, name: &str) -> Result<Vec<u8>> {
    use deltalake::logstore::object_store::ObjectStoreExt as _;
    let got = store_under(config)?.get(&deltalake::Path::from(name)).await.map_err(deltalake::DeltaTableError::from)?;
    Ok(got.bytes().await.map_err(deltalake::DeltaTableError::from)?.to_vec())
}
