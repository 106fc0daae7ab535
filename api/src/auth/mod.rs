//! Authentication and roles: the `AuthUser` extractor (bearer JWT → user row, created on first
//! sight) and the one place where role checks live.

pub mod jwt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use uuid::Uuid;

use crate::db::users::{self, User};
use crate::error::ApiError;
use crate::http::AppState;

/// Roles a user may hold (from `app_metadata.roles`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Builder,
    Educator,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "builder" => Some(Role::Builder),
            "educator" => Some(Role::Educator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Builder => "builder",
            Role::Educator => "educator",
            Role::Admin => "admin",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: User,
}

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.user.id
    }

    pub fn has(&self, role: Role) -> bool {
        self.user.roles.iter().any(|r| r == role.as_str())
    }

    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// Fails with 403 unless the caller holds `role` (admins hold every role).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.has(role) || self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this needs the {} role", role.as_str())))
        }
    }

    /// Whether the caller may read a resource owned by `owner` with `visibility`.
    pub fn can_read(&self, owner: Uuid, visibility: &str) -> bool {
        owner == self.id() || visibility == "public" || self.is_admin()
    }

    /// Whether the caller may change a resource owned by `owner`.
    pub fn can_write(&self, owner: Uuid) -> bool {
        owner == self.id() || self.is_admin()
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be 'Bearer <token>'".into()))?;
        authenticate(&state.pool, &state.verifier, token.trim()).await
    }
}

/// Verifies an API token and returns its user, created or updated from the token's claims
/// (roles from `app_metadata.roles`, builder when absent; plan from `app_metadata.plan_tier`).
/// The REST API and the SQL endpoint both authenticate this way.
pub async fn authenticate(pool: &sqlx::PgPool, verifier: &jwt::Verifier, token: &str) -> Result<AuthUser, ApiError> {
    let claims = verifier.verify(token).await.map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let id = Uuid::parse_str(&claims.sub).map_err(|_| ApiError::Unauthorized("token subject is not a user id".into()))?;
    let roles: Vec<String> = match &claims.app_metadata.roles {
        Some(r) if !r.is_empty() => r.iter().filter(|r| Role::parse(r).is_some()).cloned().collect(),
        _ => vec!["builder".into()],
    };
    let plan = claims.app_metadata.plan_tier.as_deref().filter(|p| matches!(*p, "free" | "premium" | "educator")).unwrap_or("free");
    let user = users::upsert(pool, id, claims.email.as_deref(), &roles, plan).await?;
    Ok(AuthUser { user })
}
