//! End-to-end tests of the `bb` binary: real processes, real files, a lake in a temporary folder.

mod backtest;
mod billing;
mod cli;
mod educators;
mod http;
mod jobs;
mod kaiko;
mod layers;
mod model;
mod notify;
mod ops;
mod paper;
mod s3;
mod sqlwire;
mod supabase;
mod writers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn shared(rel: &str) -> PathBuf {
    crate::crate_dir().join("../../shared/data").join(rel)
}

pub fn fixtures(rel: &str) -> PathBuf {
    crate::crate_dir().join("../../shared/fixtures/backtests").join(rel)
}

/// Runs `bb ARGS` with its data dir in `dir`.
pub fn bb(dir: &Path, args: &[&str]) -> Output {
    bb_with(dir, args, &[])
}

/// Runs `bb ARGS` with its data dir in `dir` and the given environment variables.
pub fn bb_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bb"))
        .args(args)
        .current_dir(dir)
        .env("BB_DATA_DIR", dir.join("data"))
        .env_remove("BB_LAKE_URI")
        .envs(env.iter().copied())
        .output()
        .expect("bb runs")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A new, empty database on the test cluster (`DATABASE_URL`), for a `bb` process of its own: a
/// worker in it must not take another test's jobs. Dropped when the guard is.
pub struct FreshDatabase {
    pub url: String,
    name: String,
    admin: String,
}

#[allow(clippy::new_without_default)]
impl FreshDatabase {
    pub fn new() -> Self {
        let admin = std::env::var("DATABASE_URL").expect("DATABASE_URL must point at a Postgres (scripts/test.sh starts one)");
        let name = format!("bb_e2e_{}", uuid::Uuid::new_v4().simple());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut c).await.unwrap();
        });
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&format!("/{name}"));
        FreshDatabase { url: url.to_string(), name, admin }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c).await;
                }
            });
        })
        .join();
    }
}

/// This crate's folder, read at run time (cargo and nextest set it), so that a test binary built
/// from another clone sharing the target folder still finds `../shared` beside this checkout.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
}

/// The project's Python (scripts/python-env.sh makes it once; `BB_PYTHON` names it when set).
pub fn python() -> String {
    if let Ok(p) = std::env::var("BB_PYTHON") {
        return p;
    }
    let script = crate_dir().join("../scripts/python-env.sh");
    let out = Command::new(script).output().expect("scripts/python-env.sh runs");
    assert!(out.status.success(), "python env: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}


/// Where a test's lake lives, so that one test body runs on a folder and on S3 (a bucket of its own
/// on a moto server on loopback): `spot.bb(args)` runs `bb` with its data dir in `spot.path()` and
/// the lake there.
pub struct Spot {
    pub dir: tempfile::TempDir,
    /// `BB_LAKE_URI` and the AWS variables, for S3 (none: the data dir's lake folder).
    env: Vec<(&'static str, String)>,
    _moto: Option<s3::Moto>,
}

impl Spot {
    pub fn folder() -> Spot {
        Spot { dir: tempfile::tempdir().unwrap(), env: vec![], _moto: None }
    }

    pub fn s3() -> Spot {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let moto = rt.block_on(s3::Moto::start());
        rt.block_on(moto.bucket("test-lake"));
        let mut env = moto.env();
        env.push(("BB_LAKE_URI", "s3://test-lake/lake".into()));
        Spot { dir: tempfile::tempdir().unwrap(), env, _moto: Some(moto) }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The variables that point `bb` at this lake (none for a folder).
    pub fn env(&self) -> &[(&'static str, String)] {
        &self.env
    }

    /// Runs `bb ARGS` against this lake.
    pub fn bb(&self, args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        bb_with(self.dir.path(), args, &env)
    }
}

/// Defines a test twice, as `NAME::folder` and `NAME::s3`, running `BODY(&Spot)` on each lake.
#[macro_export]
macro_rules! on_both_lakes {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn folder() {
                ($body)(&$crate::Spot::folder())
            }
            #[test]
            fn s3() {
                ($body)(&$crate::Spot::s3())
            }
        }
    };
}

/// Sends `req` with `tok` as bearer token (and `body` as JSON): the status and the JSON answer
/// (`Null` when the body is not JSON).
pub fn send(rt: &tokio::runtime::Runtime, tok: &str, req: reqwest::RequestBuilder, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    rt.block_on(async {
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(b.to_string()),
            None => req,
        };
        let r = req.bearer_auth(tok).send().await.unwrap();
        let status = r.status().as_u16();
        (status, serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default())
    })
}

/// A `bb serve` process on a free port, its data dir in `dir` (killed when dropped, so a failing
/// test leaves no server behind).
pub struct Served {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT/api/v1`, as it announced.
    pub base: String,
    /// The lines it printed before announcing its address.
    pub announced: Vec<String>,
    /// The rest of its stderr.
    pub stderr: Option<std::io::Lines<std::io::BufReader<std::process::ChildStderr>>>,
}

impl Served {
    /// Starts `bb serve --addr 127.0.0.1:0 ARGS` with `env` set and `unset` removed, and waits for
    /// its `serving http://…` line.
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Served {
        use std::io::BufRead;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bb"));
        cmd.args(["serve", "--addr", "127.0.0.1:0"]).args(args).current_dir(dir).env("BB_DATA_DIR", dir.join("data")).env_remove("BB_LAKE_URI");
        for k in unset {
            cmd.env_remove(k);
        }
        let mut child = cmd.envs(env.iter().copied()).stderr(std::process::Stdio::piped()).spawn().expect("bb serve starts");
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut announced = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("serving http://") {
                let base = format!("http://{}", rest.split_whitespace().next().unwrap());
                return Served { child, base, announced, stderr: Some(lines) };
            }
            announced.push(line);
        }
        let _ = child.kill();
        panic!("bb serve did not announce its address: {announced:?}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        self.base.trim_start_matches("http://").trim_end_matches("/api/v1")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
