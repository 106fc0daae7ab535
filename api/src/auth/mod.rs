//! Authentication: a bearer JWT (the REST API's and the SQL endpoint's password) verified and
//! turned into the user it names, created or refreshed from its claims.

pub mod jwt;

use crate::error::ApiError;
use crate::model::{PlanTier, Role};
use crate::services::users::{self, TokenUser, User};

/// Verifies an API token and returns its user, created or updated from the token's claims
/// (roles from `app_metadata.roles`, builder when absent; the claimed tier from
/// `app_metadata.plan_tier`, free when absent, which a subscription overrides). The REST API and
/// the SQL endpoint both authenticate this way.
pub async fn authenticate(pool: &sqlx::PgPool, verifier: &jwt::Verifier, token: &str) -> Result<User, ApiError> {
    let claims = verifier.verify(token).await.map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let id = uuid::Uuid::parse_str(&claims.sub).map_err(|_| ApiError::Unauthorized("token subject is not a user id".into()))?;
    let roles: Vec<Role> = match &claims.app_metadata.roles {
        Some(r) if !r.is_empty() => r.iter().filter_map(|r| r.parse().ok()).collect(),
        _ => vec![Role::Builder],
    };
    let claimed_tier = claims.app_metadata.plan_tier.as_deref().and_then(|p| p.parse().ok()).unwrap_or(PlanTier::Free);
    let name = claims.user_metadata.full_name.clone().or_else(|| claims.user_metadata.name.clone());
    let token_user = TokenUser { id, email: claims.email.clone(), name, roles, claimed_tier };
    Ok(users::seen(pool, &token_user).await?)
}
