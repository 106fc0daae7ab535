//! Where the API's Postgres is: `DATABASE_URL`, or a private cluster in `<data dir>/pg`.

use std::path::Path;

use crate::pg::PrivateCluster;

/// The database to use and, when it is the private one, the cluster (stopped when dropped).
pub fn database(data_dir: &Path, url: Option<&str>) -> anyhow::Result<(String, Option<PrivateCluster>)> {
    if let Some(url) = url {
        return Ok((url.to_string(), None));
    }
    let dir = data_dir.join("pg");
    let cluster = PrivateCluster::start(&dir)?;
    cluster.ensure_database("blockbuilders")?;
    eprintln!("no DATABASE_URL: using the private PostgreSQL cluster in {} (port {})", dir.display(), cluster.port());
    Ok((cluster.url("blockbuilders"), Some(cluster)))
}
