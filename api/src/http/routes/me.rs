//! `GET /me`: the caller's user record.

use axum::routing::get;
use axum::{Json, Router};

use crate::http::extract::AuthUser;
use crate::services::users::User;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

/// The authenticated user (created on the first request of a new token subject), with the
/// effective plan tier (the subscription's, else the token's claim).
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, description = "missing or invalid token")))]
pub async fn me(user: AuthUser) -> Json<User> {
    Json(user.0)
}
