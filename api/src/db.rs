//! Postgres: connecting, the embedded migrations, and whether the database answers. The SQL of
//! each concept lives in its service (`crate::services`).

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects to `url`.
pub async fn connect(url: &str) -> anyhow::Result<PgPool> {
    Ok(PgPoolOptions::new().max_connections(20).acquire_timeout(std::time::Duration::from_secs(10)).connect(url).await?)
}

/// Applies pending migrations; returns how many were applied.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<usize> {
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations'")
        .fetch_one(pool)
        .await?;
    let applied_before: i64 = if before > 0 { sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(pool).await? } else { 0 };
    MIGRATOR.run(pool).await?;
    let applied_after: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations").fetch_one(pool).await?;
    Ok((applied_after - applied_before) as usize)
}

/// Whether the database answers (`GET /ready`).
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool).await.map(|_| ())
}
