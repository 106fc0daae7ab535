//! What the API benchmarks share: a migrated Postgres database (a private cluster in `dir` unless
//! DATABASE_URL is set) and a lake folder in `dir`.

/// The pool, the lake, and the private cluster if one was started (stopped when dropped).
pub async fn setup(dir: &std::path::Path) -> anyhow::Result<(sqlx::PgPool, lake::Lake, Option<api::pg::PrivateCluster>)> {
    let (url, cluster) = match std::env::var("DATABASE_URL") {
        Ok(u) => (u, None),
        Err(_) => {
            let c = api::pg::PrivateCluster::start(&dir.join("pg"))?;
            c.ensure_database("bench")?;
            (c.url("bench"), Some(c))
        }
    };
    let pool = api::db::connect(&url).await?;
    api::db::migrate(&pool).await?;
    let lake = lake::Lake::new(lake::LakeConfig::new(dir.join("lake").display().to_string()))?;
    Ok((pool, lake, cluster))
}
