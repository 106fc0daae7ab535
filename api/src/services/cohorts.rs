//! Cohorts: an educator's groups of students. The educator who owns a cohort (or an admin) manages
//! it and its members; adding an e-mail with no user yet records an invite that becomes a
//! membership when that e-mail first signs in. Another educator's cohort is "not found".

use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::model::Role;
use crate::services::users::User;

/// A cohort as the API returns it.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cohort {
    pub id: Uuid,
    pub educator_id: Uuid,
    pub name: String,
    pub description: String,
    pub members: i64,
    /// Invited e-mails that have not signed in yet.
    pub pending_invites: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A member, or an invite still waiting for its e-mail to sign in (`userId` null).
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: Option<Uuid>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `member` or `invited`.
    pub state: String,
    pub since: chrono::DateTime<chrono::Utc>,
}

const COLUMNS: &str = "c.id, c.educator_id, c.name, c.description,
    (SELECT count(*) FROM cohort_members m WHERE m.cohort_id = c.id) AS members,
    (SELECT count(*) FROM cohort_invites i WHERE i.cohort_id = c.id) AS pending_invites,
    c.created_at, c.updated_at";

fn name(n: &str) -> ApiResult<String> {
    let n = n.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(ApiError::invalid("name", "name must be 1 to 200 characters"));
    }
    Ok(n.to_string())
}

fn description(d: &str) -> ApiResult<String> {
    if d.chars().count() > 2000 {
        return Err(ApiError::invalid("description", "description must be at most 2000 characters"));
    }
    Ok(d.trim().to_string())
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("cohort {id} not found"))
}

async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Cohort>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM cohorts c WHERE c.id = $1")).bind(id).fetch_optional(db).await
}

/// The cohort if `user` manages it (its educator, or an admin); 404 otherwise.
pub async fn managed(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Cohort> {
    user.require(Role::Educator)?;
    match get(pool, id).await? {
        Some(c) if c.educator_id == user.id || user.is_admin() => Ok(c),
        _ => Err(not_found(id)),
    }
}

/// Creates a cohort owned by `user` (an educator).
pub async fn create(pool: &PgPool, user: &User, n: &str, d: &str) -> ApiResult<Cohort> {
    user.require(Role::Educator)?;
    let (n, d) = (name(n)?, description(d)?);
    let id: Uuid = sqlx::query_scalar("INSERT INTO cohorts (educator_id, name, description) VALUES ($1, $2, $3) RETURNING id")
        .bind(user.id)
        .bind(n)
        .bind(d)
        .fetch_one(pool)
        .await?;
    Ok(get(pool, id).await?.ok_or_else(|| not_found(id))?)
}

/// The cohorts `user` manages (every cohort for an admin), newest first.
pub async fn list(pool: &PgPool, user: &User, after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>, limit: i64) -> ApiResult<Vec<Cohort>> {
    user.require(Role::Educator)?;
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM cohorts c WHERE ($1::uuid IS NULL OR c.educator_id = $1)
           AND ($2::timestamptz IS NULL OR (c.created_at, c.id) < ($2, $3))
         ORDER BY c.created_at DESC, c.id DESC LIMIT $4"
    ))
    .bind((!user.is_admin()).then_some(user.id))
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Renames or re-describes a cohort.
pub async fn update(pool: &PgPool, user: &User, id: Uuid, n: Option<&str>, d: Option<&str>) -> ApiResult<Cohort> {
    managed(pool, user, id).await?;
    let n = n.map(name).transpose()?;
    let d = d.map(description).transpose()?;
    sqlx::query("UPDATE cohorts SET name = coalesce($2, name), description = coalesce($3, description), updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(n)
        .bind(d)
        .execute(pool)
        .await?;
    Ok(get(pool, id).await?.ok_or_else(|| not_found(id))?)
}

/// Deletes a cohort with its memberships and invites; its templates stay with their educator
/// (seen by nobody else) and the strategies cloned from them keep their attribution.
pub async fn delete(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<()> {
    managed(pool, user, id).await?;
    sqlx::query("DELETE FROM cohorts WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Adds `email` to the cohort: its user if one exists, else an invite that binds on first sign-in.
pub async fn add_member(pool: &PgPool, user: &User, id: Uuid, email: &str) -> ApiResult<Member> {
    managed(pool, user, id).await?;
    let email = email.trim().to_lowercase();
    let at = email.find('@');
    if !at.is_some_and(|i| i > 0 && i + 1 < email.len()) || email.len() > 320 {
        return Err(ApiError::invalid("email", format!("'{email}' is not an e-mail address")));
    }
    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = $1").bind(&email).fetch_optional(pool).await?;
    match existing {
        Some(member) => {
            sqlx::query("INSERT INTO cohort_members (cohort_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING").bind(id).bind(member).execute(pool).await?;
        }
        None => {
            sqlx::query("INSERT INTO cohort_invites (cohort_id, email, invited_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(&email)
                .bind(user.id)
                .execute(pool)
                .await?;
        }
    }
    members(pool, user, id)
        .await?
        .into_iter()
        .find(|m| m.email.as_deref().map(str::to_lowercase).as_deref() == Some(email.as_str()))
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("member vanished")))
}

/// Removes a member (or `user_id` of an invite is never given: invites are removed by e-mail through re-adding).
pub async fn remove_member(pool: &PgPool, user: &User, id: Uuid, member: Uuid) -> ApiResult<()> {
    managed(pool, user, id).await?;
    let n = sqlx::query("DELETE FROM cohort_members WHERE cohort_id = $1 AND user_id = $2").bind(id).bind(member).execute(pool).await?.rows_affected();
    if n == 0 {
        return Err(ApiError::NotFound(format!("user {member} is not a member of cohort {id}")));
    }
    Ok(())
}

/// Members, then pending invites.
pub async fn members(pool: &PgPool, user: &User, id: Uuid) -> ApiResult<Vec<Member>> {
    managed(pool, user, id).await?;
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.display_name, 'member' AS state, m.joined_at AS since
         FROM cohort_members m JOIN users u ON u.id = m.user_id WHERE m.cohort_id = $1
         UNION ALL
         SELECT NULL, i.email, NULL, 'invited', i.created_at FROM cohort_invites i WHERE i.cohort_id = $1
         ORDER BY state, since, email",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}
