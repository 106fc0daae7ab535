//! A private PostgreSQL cluster started from the system's binaries, for `bb serve`/`bb demo`
//! without `DATABASE_URL` and for the test harness. As root, initdb and postgres run as the
//! `postgres` system user (PostgreSQL refuses to run as root).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// A running private cluster; stopped when dropped (unless it was already running when found).
#[derive(Debug)]
pub struct PrivateCluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
    owned: bool,
}

/// The folder of the PostgreSQL server binaries: `BB_PG_BIN`, else `pg_config --bindir` when it
/// holds `initdb`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("BB_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).context("no PostgreSQL server binaries found (set BB_PG_BIN to the folder holding initdb and pg_ctl)")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl PrivateCluster {
    /// Starts (creating it on first use) the cluster in `dir`. If a server from an earlier run is
    /// still up in that folder, it is reused.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        let run_as = is_root().then(|| "postgres".to_string());
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let mut cluster = PrivateCluster { dir: dir.clone(), bin, port: 0, run_as, owned: true };
        if let Some(user) = &cluster.run_as {
            let status = Command::new("chown").args(["-R", &format!("{user}:{user}")]).arg(&dir).status()?;
            if !status.success() {
                bail!("cannot hand {} to the {user} user", dir.display());
            }
            // the postgres user must be able to reach the folder
            let mut p = dir.parent();
            while let Some(parent) = p {
                let _ = Command::new("chmod").arg("o+x").arg(parent).status();
                p = parent.parent();
            }
        }
        if !dir.join("PG_VERSION").exists() {
            let out = cluster.command("initdb").args(["-D"]).arg(&dir).args(["-U", "postgres", "--auth=trust", "-N", "-E", "UTF8", "--locale=C"]).output()?;
            if !out.status.success() {
                bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        if let Some(port) = cluster.running_port() {
            cluster.port = port;
            cluster.owned = false;
            return Ok(cluster);
        }
        cluster.port = free_port()?;
        let options = format!("-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200", cluster.port, dir.display());
        let out = cluster
            .command("pg_ctl")
            .arg("-D")
            .arg(&dir)
            .args(["-w", "-t", "60", "-l"])
            .arg(dir.join("server.log"))
            .args(["-o", &options, "start"])
            .output()?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            bail!("PostgreSQL did not start: {}{}", String::from_utf8_lossy(&out.stderr), log.lines().rev().take(5).collect::<Vec<_>>().join("\n"));
        }
        Ok(cluster)
    }

    /// A command for one of the server binaries, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    /// The port of a server already running in this folder (from `postmaster.pid`), if any.
    fn running_port(&self) -> Option<u16> {
        let status = self.command("pg_ctl").arg("-D").arg(&self.dir).arg("status").output().ok()?;
        if !status.status.success() {
            return None;
        }
        let pid = std::fs::read_to_string(self.dir.join("postmaster.pid")).ok()?;
        pid.lines().nth(3)?.trim().parse().ok()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for `database` as the `postgres` superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Leaves the server running after this value is dropped (for `bb postgres start`).
    pub fn detach(mut self) -> u16 {
        self.owned = false;
        self.port
    }

    /// Creates `name` if it does not exist.
    pub fn ensure_database(&self, name: &str) -> anyhow::Result<()> {
        let psql = |sql: &str| {
            let mut c = Command::new("psql");
            c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-tAc", sql]);
            c
        };
        let out = psql(&format!("SELECT 1 FROM pg_database WHERE datname = '{name}'")).output().context("psql")?;
        if String::from_utf8_lossy(&out.stdout).trim() != "1" {
            let out = psql(&format!("CREATE DATABASE \"{name}\"")).output()?;
            if !out.status.success() {
                bail!("cannot create database {name}: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        Ok(())
    }

    /// Stops a server running in `dir`, if any.
    pub fn stop_in(dir: &Path) -> anyhow::Result<bool> {
        let bin = bin_dir()?;
        let run_as = is_root().then(|| "postgres".to_string());
        let mut c = PrivateCluster { dir: dir.to_path_buf(), bin, port: 0, run_as, owned: false };
        if c.running_port().is_none() {
            return Ok(false);
        }
        c.owned = true;
        c.stop();
        Ok(true)
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) {
        if self.owned {
            let _ = self.command("pg_ctl").arg("-D").arg(&self.dir).args(["-m", "fast", "-w", "stop"]).output();
            self.owned = false;
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
