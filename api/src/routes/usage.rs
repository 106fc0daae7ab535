//! `GET /plan-usage`: the caller's quota use per metric in the current daily window.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::auth::AuthUser;
use crate::db::quotas::{self, Usage};
use crate::error::ApiResult;
use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/plan-usage", get(plan_usage))
}

/// The caller's plan and usage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanUsage {
    pub plan: String,
    pub metrics: Vec<Usage>,
}

/// Used and limit per metric (`backtests`, `paper_trades`, `template_publishes`) in today's window (UTC).
#[utoipa::path(get, path = "/api/v1/plan-usage", tag = "plans", security(("bearer" = [])), responses((status = 200, body = PlanUsage)))]
pub async fn plan_usage(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<PlanUsage>> {
    let mut conn = state.pool.acquire().await?;
    let metrics = quotas::usage(&mut conn, user.id()).await?;
    Ok(Json(PlanUsage { plan: user.user.plan_tier.clone(), metrics }))
}
