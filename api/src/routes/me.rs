//! `GET /me`: the caller's user record.

use axum::routing::get;
use axum::{Json, Router};

use crate::auth::AuthUser;
use crate::db::users::User;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me))
}

/// The authenticated user (created on the first request of a new token subject).
#[utoipa::path(get, path = "/api/v1/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, description = "missing or invalid token")))]
pub async fn me(user: AuthUser) -> Json<User> {
    Json(user.user)
}
