//! Users: created on first sight of a token's `sub`, refreshed from its claims.

use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A user row.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: Option<String>,
    pub roles: Vec<String>,
    pub plan_tier: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Creates the user or refreshes its email, roles and plan (idempotent under concurrency).
pub async fn upsert(db: impl PgExecutor<'_>, id: Uuid, email: Option<&str>, roles: &[String], plan: &str) -> sqlx::Result<User> {
    sqlx::query_as::<_, User>(
        "INSERT INTO users (id, email, roles, plan_tier) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, roles = EXCLUDED.roles, plan_tier = EXCLUDED.plan_tier,
             updated_at = CASE WHEN (users.email, users.roles, users.plan_tier) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.roles, EXCLUDED.plan_tier)
                               THEN now() ELSE users.updated_at END
         RETURNING id, email, roles, plan_tier, created_at",
    )
    .bind(id)
    .bind(email)
    .bind(roles)
    .bind(plan)
    .fetch_one(db)
    .await
}
