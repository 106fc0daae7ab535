//! Strategies and their immutable versions.

use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// A strategy row as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Strategy {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub slug: String,
    pub visibility: String,
    pub status: String,
    pub tags: Vec<String>,
    pub latest_version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A strategy version (`id` is the `strategyVersionId` backtests take).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub id: Uuid,
    pub strategy_id: Uuid,
    pub version: i32,
    #[schema(value_type = Object)]
    pub graph_json: serde_json::Value,
    pub notes: Option<String>,
    pub created_by: Uuid,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "id, owner_id, title, slug, visibility, status, tags, latest_version, created_at, updated_at";
const VERSION_COLUMNS: &str = "id, strategy_id, version, graph_json, notes, created_by, created_at";

/// Inserts a strategy with `latest_version` 0 (its first version follows in the same transaction).
pub async fn insert(db: &mut PgConnection, owner: Uuid, title: &str, slug: &str, visibility: &str, tags: &[String]) -> sqlx::Result<Strategy> {
    sqlx::query_as::<_, Strategy>(&format!(
        "INSERT INTO strategies (owner_id, title, slug, visibility, tags) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(owner)
    .bind(title)
    .bind(slug)
    .bind(visibility)
    .bind(tags)
    .fetch_one(db)
    .await
}

/// Slugs in use that start with `base` (to pick a free one).
pub async fn slugs_like(db: impl PgExecutor<'_>, base: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT slug FROM strategies WHERE slug = $1 OR slug LIKE $1 || '-%'").bind(base).fetch_all(db).await
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Strategy>> {
    sqlx::query_as::<_, Strategy>(&format!("SELECT {COLUMNS} FROM strategies WHERE id = $1")).bind(id).fetch_optional(db).await
}

/// Filters of a strategy listing.
#[derive(Debug, Default)]
pub struct ListFilter {
    /// Only this owner's strategies (`None` with `public_only` false: every strategy, for admins).
    pub owner: Option<Uuid>,
    pub public_only: bool,
    pub status: Option<String>,
    pub tag: Option<String>,
    pub text: Option<String>,
    /// Keyset cursor: strictly after (created_at, id) in descending order.
    pub after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list(db: impl PgExecutor<'_>, f: &ListFilter) -> sqlx::Result<Vec<Strategy>> {
    sqlx::query_as::<_, Strategy>(&format!(
        "SELECT {COLUMNS} FROM strategies
         WHERE ($1::uuid IS NULL OR owner_id = $1)
           AND (NOT $2 OR visibility = 'public')
           AND ($3::text IS NULL OR status = $3)
           AND ($4::text IS NULL OR $4 = ANY(tags))
           AND ($5::text IS NULL OR title ILIKE '%' || $5 || '%' OR slug ILIKE '%' || $5 || '%')
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
         ORDER BY created_at DESC, id DESC
         LIMIT $8"
    ))
    .bind(f.owner)
    .bind(f.public_only)
    .bind(&f.status)
    .bind(&f.tag)
    .bind(&f.text)
    .bind(f.after.map(|a| a.0))
    .bind(f.after.map(|a| a.1))
    .bind(f.limit)
    .fetch_all(db)
    .await
}

/// Changes the given fields; returns the updated row.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    title: Option<&str>,
    tags: Option<&[String]>,
    visibility: Option<&str>,
    status: Option<&str>,
) -> sqlx::Result<Option<Strategy>> {
    sqlx::query_as::<_, Strategy>(&format!(
        "UPDATE strategies SET title = COALESCE($2, title), tags = COALESCE($3, tags), visibility = COALESCE($4, visibility),
             status = COALESCE($5, status), updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(title)
    .bind(tags)
    .bind(visibility)
    .bind(status)
    .fetch_optional(db)
    .await
}

/// Takes the next version number of a strategy (the row lock serialises concurrent creators).
pub async fn next_version(db: &mut PgConnection, id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("UPDATE strategies SET latest_version = latest_version + 1, updated_at = now() WHERE id = $1 RETURNING latest_version")
        .bind(id)
        .fetch_one(db)
        .await
}

pub async fn insert_version(db: &mut PgConnection, strategy: Uuid, version: i32, graph: &serde_json::Value, notes: Option<&str>, by: Uuid) -> sqlx::Result<Version> {
    sqlx::query_as::<_, Version>(&format!(
        "INSERT INTO strategy_versions (strategy_id, version, graph_json, notes, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING {VERSION_COLUMNS}"
    ))
    .bind(strategy)
    .bind(version)
    .bind(graph)
    .bind(notes)
    .bind(by)
    .fetch_one(db)
    .await
}

pub async fn versions(db: impl PgExecutor<'_>, strategy: Uuid) -> sqlx::Result<Vec<Version>> {
    sqlx::query_as::<_, Version>(&format!("SELECT {VERSION_COLUMNS} FROM strategy_versions WHERE strategy_id = $1 ORDER BY version DESC"))
        .bind(strategy)
        .fetch_all(db)
        .await
}

pub async fn version(db: impl PgExecutor<'_>, strategy: Uuid, n: i32) -> sqlx::Result<Option<Version>> {
    sqlx::query_as::<_, Version>(&format!("SELECT {VERSION_COLUMNS} FROM strategy_versions WHERE strategy_id = $1 AND version = $2"))
        .bind(strategy)
        .bind(n)
        .fetch_optional(db)
        .await
}
