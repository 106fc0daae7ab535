//! `GlobalArgs`: the options every subcommand shares (the data folder and the lake).

use std::path::PathBuf;

use clap::Args;

/// Options every subcommand shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Folder for local state: the default lake (`<data dir>/lake`) and the private Postgres (`<data dir>/pg`).
    #[arg(long, global = true, env = "BB_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Lake location: a folder, file:///abs/path or s3://bucket/prefix (S3 uses the AWS_* environment).
    #[arg(long, global = true, env = "BB_LAKE_URI")]
    pub lake: Option<String>,
}

impl GlobalArgs {
    /// The lake configuration these options describe.
    pub fn lake_config(&self) -> lake::LakeConfig {
        match &self.lake {
            Some(uri) => lake::LakeConfig::new(uri.clone()),
            None => lake::LakeConfig::in_data_dir(&self.data_dir),
        }
        .with_aws_env()
    }

    /// Opens the lake.
    pub fn open_lake(&self) -> anyhow::Result<lake::Lake> {
        Ok(lake::Lake::new(self.lake_config())?)
    }
}
