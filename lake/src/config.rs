//! Where the lake lives: `LakeConfig` and the parsing of its URI.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use url::Url;

use crate::error::{Error, Result};

/// Environment variables passed to the S3 object store when they are set.
const AWS_ENV: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
];

/// The lake's location and the options its object store needs.
#[derive(Debug, Clone)]
pub struct LakeConfig {
    /// `file:///abs/folder`, a plain (relative or absolute) folder path, or `s3://bucket/prefix`.
    pub uri: String,
    /// Object-store options (for S3: region, keys, endpoint override, allow-http).
    pub storage_options: HashMap<String, String>,
}

/// A parsed lake root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeRoot {
    /// A folder on the local file system (absolute).
    Local(PathBuf),
    /// An S3 (or S3-compatible) bucket and prefix.
    S3(Url),
}

impl LakeConfig {
    /// A lake at `uri`, with no extra storage options.
    pub fn new(uri: impl Into<String>) -> Self {
        Self { uri: uri.into(), storage_options: HashMap::new() }
    }

    /// The default lake: the folder `lake` inside `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self::new(data_dir.join("lake").to_string_lossy().into_owned())
    }

    /// Adds the usual AWS environment variables (region, keys, endpoint, allow-http) as storage options.
    pub fn with_aws_env(mut self) -> Self {
        for key in AWS_ENV {
            if let Ok(value) = std::env::var(key) {
                self.storage_options.insert((*key).to_string(), value);
            }
        }
        self
    }

    /// Parses the URI: plain paths and `file://` are local folders, `s3://`/`s3a://` are S3, anything else is an error.
    pub fn root(&self) -> Result<LakeRoot> {
        let uri = self.uri.trim();
        if uri.is_empty() {
            return Err(Error::InvalidUri { uri: uri.into(), reason: "empty".into() });
        }
        let has_scheme = uri.contains("://") || (uri.contains(':') && !looks_like_windows_path(uri));
        if !has_scheme {
            return Ok(LakeRoot::Local(absolute(Path::new(uri))));
        }
        let url = Url::parse(uri).map_err(|e| Error::InvalidUri { uri: uri.into(), reason: e.to_string() })?;
        match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| Error::InvalidUri { uri: uri.into(), reason: "not a local path".into() })?;
                Ok(LakeRoot::Local(path))
            }
            "s3" | "s3a" => {
                if url.host_str().unwrap_or_default().is_empty() {
                    return Err(Error::InvalidUri { uri: uri.into(), reason: "missing bucket name".into() });
                }
                Ok(LakeRoot::S3(url))
            }
            other => Err(Error::UnsupportedScheme { scheme: other.into(), uri: uri.into() }),
        }
    }
}

fn looks_like_windows_path(uri: &str) -> bool {
    let b = uri.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// The absolute form of `path`, without `.` components (`./data/lake` → `/cwd/data/lake`).
fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    joined.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

impl LakeRoot {
    /// The URL of the Delta table folder `name` under this root.
    pub fn table_url(&self, name: &str) -> Result<Url> {
        match self {
            LakeRoot::Local(dir) => {
                let path = dir.join(name);
                Url::from_directory_path(&path).map_err(|_| Error::InvalidUri {
                    uri: path.display().to_string(),
                    reason: "not an absolute path".into(),
                })
            }
            LakeRoot::S3(url) => {
                let mut url = url.clone();
                let prefix = url.path().trim_end_matches('/').to_string();
                url.set_path(&format!("{prefix}/{name}/"));
                Ok(url)
            }
        }
    }
}

impl std::fmt::Display for LakeRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LakeRoot::Local(p) => write!(f, "{}", p.display()),
            LakeRoot::S3(u) => write!(f, "{u}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_and_file_urls_are_local() {
        assert_eq!(LakeConfig::new("/tmp/lake").root().unwrap(), LakeRoot::Local("/tmp/lake".into()));
        assert_eq!(LakeConfig::new("file:///tmp/lake").root().unwrap(), LakeRoot::Local("/tmp/lake".into()));
        let LakeRoot::Local(p) = LakeConfig::new("./data/lake").root().unwrap() else { panic!("not local") };
        assert!(p.is_absolute() && p.ends_with("data/lake"), "{}", p.display());
        assert!(!p.to_string_lossy().contains("/./"), "{}", p.display());
    }

    #[test]
    fn s3_uris_keep_bucket_and_prefix() {
        let root = LakeConfig::new("s3://bucket/some/prefix").root().unwrap();
        assert_eq!(root.table_url("candles").unwrap().as_str(), "s3://bucket/some/prefix/candles/");
        let root = LakeConfig::new("s3://bucket").root().unwrap();
        assert_eq!(root.table_url("candles").unwrap().as_str(), "s3://bucket/candles/");
    }

    #[test]
    fn unknown_schemes_are_a_clear_error() {
        let err = LakeConfig::new("ftp://host/lake").root().unwrap_err().to_string();
        assert!(err.contains("unsupported lake URI scheme 'ftp'"), "{err}");
        assert!(LakeConfig::new("s3://").root().is_err());
    }
}
