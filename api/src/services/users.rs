//! Users: created on first sight of a token's subject and refreshed from its claims, their
//! effective plan tier (a subscription's, else the token's claim: the `user_plans` view), their
//! last activity, the rules of who may read or change what, and the admin's role changes and
//! invitations (through Supabase's admin API when it is configured).

use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::model::{PlanTier, Role, Visibility};

/// A user as the API returns it; `plan_tier` is the effective tier.
#[derive(Debug, Clone, sqlx::FromRow, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub roles: Vec<Role>,
    /// The tier quotas follow: the subscription's plan (free once canceled), else the token's claim.
    pub plan_tier: PlanTier,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_active_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a verified token says about its user.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub id: Uuid,
    pub email: Option<String>,
    /// A name the identity provider knows (Supabase's `user_metadata.full_name`), if any.
    pub name: Option<String>,
    pub roles: Vec<Role>,
    pub claimed_tier: PlanTier,
}

const COLUMNS: &str = "u.id, u.email, u.display_name, u.roles, p.tier AS plan_tier, u.created_at, u.last_active_at";

/// A user by id, with the effective tier.
pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    sqlx::query_as::<_, User>(&format!("SELECT {COLUMNS} FROM users u JOIN user_plans p ON p.user_id = u.id WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// A display name from the token: its name, else the e-mail's local part, else `user`.
fn display_name(t: &TokenUser) -> String {
    let name = t.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let local = t.email.as_deref().and_then(|e| e.split('@').next()).map(str::trim).filter(|n| !n.is_empty());
    name.or(local).unwrap_or("user").chars().take(100).collect()
}

/// Records an authenticated request of the token's user: creates the user on first sight (and
/// turns the cohort invites of its e-mail into memberships), refreshes e-mail, roles (unless an
/// admin set them) and claimed tier when they changed, and `last_active_at` at most once a minute
/// (a request that changes nothing writes nothing). Safe under concurrent requests.
///
/// Most requests change nothing: they cost one read, without a transaction or a row lock (an
/// upsert locks the user's row even when its `WHERE` writes nothing, which serialized every
/// request of one user behind the others).
pub async fn seen(pool: &sqlx::PgPool, t: &TokenUser) -> sqlx::Result<User> {
    let fresh: Option<User> = sqlx::query_as::<_, User>(&format!(
        "SELECT {COLUMNS} FROM users u JOIN user_plans p ON p.user_id = u.id
         WHERE u.id = $1 AND u.email IS NOT DISTINCT FROM $2 AND u.plan_tier = $4
           AND (u.roles_set_by_admin OR u.roles = $3)
           AND u.last_active_at >= now() - interval '1 minute'"
    ))
    .bind(t.id)
    .bind(&t.email)
    .bind(&t.roles)
    .bind(t.claimed_tier)
    .fetch_optional(pool)
    .await?;
    if let Some(user) = fresh {
        return Ok(user);
    }
    record(pool, t).await
}

/// `seen`'s write: the upsert (and an invited e-mail's memberships) in one transaction.
async fn record(pool: &sqlx::PgPool, t: &TokenUser) -> sqlx::Result<User> {
    let changed = "(users.email, users.plan_tier) IS DISTINCT FROM (EXCLUDED.email, EXCLUDED.plan_tier)
                   OR (NOT users.roles_set_by_admin AND users.roles IS DISTINCT FROM EXCLUDED.roles)";
    let mut tx = pool.begin().await?;
    let inserted: Option<bool> = sqlx::query_scalar(&format!(
        "INSERT INTO users (id, email, roles, plan_tier, display_name, last_active_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, plan_tier = EXCLUDED.plan_tier,
             roles = CASE WHEN users.roles_set_by_admin THEN users.roles ELSE EXCLUDED.roles END,
             updated_at = CASE WHEN {changed} THEN now() ELSE users.updated_at END,
             last_active_at = CASE WHEN users.last_active_at IS NULL OR users.last_active_at < now() - interval '1 minute'
                                   THEN now() ELSE users.last_active_at END
         WHERE {changed} OR users.last_active_at IS NULL OR users.last_active_at < now() - interval '1 minute'
         RETURNING (xmax = 0)"
    ))
    .bind(t.id)
    .bind(&t.email)
    .bind(&t.roles)
    .bind(t.claimed_tier)
    .bind(display_name(t))
    .fetch_optional(&mut *tx)
    .await?;
    if let (Some(true), Some(email)) = (inserted, &t.email) {
        // the first sign-in of an invited e-mail: its invites become memberships
        sqlx::query(
            "WITH taken AS (DELETE FROM cohort_invites WHERE email = lower($2) RETURNING cohort_id)
             INSERT INTO cohort_members (cohort_id, user_id) SELECT cohort_id, $1 FROM taken ON CONFLICT DO NOTHING",
        )
        .bind(t.id)
        .bind(email)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    get(pool, t.id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Sets a user's roles (an admin): kept over what later tokens claim, recorded in the audit trail.
pub async fn set_roles(pool: &sqlx::PgPool, supabase: &crate::services::supabase::Supabase, admin: &User, id: Uuid, roles: &[Role]) -> ApiResult<User> {
    admin.require(Role::Admin)?;
    if roles.is_empty() {
        return Err(ApiError::invalid("roles", "roles must name at least one of builder, educator, admin"));
    }
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    let mut tx = pool.begin().await?;
    let before: Option<Vec<Role>> = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1 FOR UPDATE").bind(id).fetch_optional(&mut *tx).await?;
    let before = before.ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))?;
    // Supabase first: the local row changes only when it accepted (the roles ride in the next token too)
    if supabase.configured() {
        supabase.set_roles(id, &roles).await?;
    }
    sqlx::query("UPDATE users SET roles = $2, roles_set_by_admin = true, updated_at = now() WHERE id = $1").bind(id).bind(&roles).execute(&mut *tx).await?;
    crate::services::audit::append(
        &mut tx,
        crate::services::audit::Change {
            actor: Some(admin.id),
            action: "user.roles_changed",
            entity_type: "user",
            entity_id: id.to_string(),
            before: Some(serde_json::json!({"roles": before})),
            after: Some(serde_json::json!({"roles": roles})),
        },
    )
    .await?;
    tx.commit().await?;
    get(pool, id).await?.ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))
}

/// Provisions an account in Supabase for `email` with `roles` and its row here; audited. Needs
/// Supabase's admin API (503 without it); an address that has an account is a 409.
pub async fn invite(pool: &sqlx::PgPool, supabase: &crate::services::supabase::Supabase, admin: &User, email: &str, roles: &[Role]) -> ApiResult<User> {
    admin.require(Role::Admin)?;
    let email = email.trim().to_lowercase();
    let (local, domain) = email.split_once('@').unwrap_or(("", ""));
    if local.is_empty() || !domain.contains('.') || email.contains(char::is_whitespace) {
        return Err(ApiError::invalid("email", format!("'{email}' is not an e-mail address")));
    }
    if roles.is_empty() {
        return Err(ApiError::invalid("roles", "roles must name at least one of builder, educator, admin"));
    }
    if !supabase.configured() {
        return Err(ApiError::NotConfigured("inviting users needs Supabase's admin API (BB_SUPABASE_URL, BB_SUPABASE_SERVICE_ROLE_KEY)".into()));
    }
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = $1)").bind(&email).fetch_one(pool).await?;
    if taken {
        return Err(ApiError::Conflict(format!("{email} has an account already")));
    }
    let id = supabase.create_user(&email, &roles).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO users (id, email, roles, roles_set_by_admin, display_name) VALUES ($1, $2, $3, true, $4)")
        .bind(id)
        .bind(&email)
        .bind(&roles)
        .bind(local.chars().take(100).collect::<String>())
        .execute(&mut *tx)
        .await?;
    crate::services::audit::append(
        &mut tx,
        crate::services::audit::Change {
            actor: Some(admin.id),
            action: "user.invited",
            entity_type: "user",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({"email": email, "roles": roles})),
        },
    )
    .await?;
    tx.commit().await?;
    get(pool, id).await?.ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))
}

impl User {
    /// Who a `bb` command acts as when it holds the database itself (`bb paper`, `bb export`): an
    /// admin that is no row of `users`.
    pub fn operator(name: &str) -> User {
        User { id: Uuid::nil(), email: None, display_name: name.into(), roles: vec![Role::Admin], plan_tier: PlanTier::Educator, created_at: chrono::Utc::now(), last_active_at: None }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// Fails with 403 unless the user holds `role` (admins hold every role).
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.has(role) || self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this needs the {role} role")))
        }
    }

    /// Whether the user may read a resource owned by `owner` with `visibility`.
    pub fn can_read(&self, owner: Uuid, visibility: Visibility) -> bool {
        owner == self.id || visibility == Visibility::Public || self.is_admin()
    }

    /// Whether the user may change a resource owned by `owner`.
    pub fn can_write(&self, owner: Uuid) -> bool {
        owner == self.id || self.is_admin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(email: Option<&str>, name: Option<&str>) -> TokenUser {
        TokenUser { id: Uuid::nil(), email: email.map(String::from), name: name.map(String::from), roles: vec![], claimed_tier: PlanTier::Free }
    }

    #[test]
    fn the_display_name_is_the_given_name_else_the_local_part() {
        assert_eq!(display_name(&token(Some("ana.lima@example.com"), None)), "ana.lima");
        assert_eq!(display_name(&token(Some("ana@example.com"), Some(" Ana Lima "))), "Ana Lima");
        assert_eq!(display_name(&token(None, None)), "user");
        assert_eq!(display_name(&token(Some("@example.com"), Some(""))), "user");
    }
}
