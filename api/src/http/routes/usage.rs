//! `GET /plan-usage`: the caller's plan tier and quota use per metric.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::error::ApiResult;
use crate::http::extract::AuthUser;
use crate::model::PlanTier;
use crate::services::quotas::{self, Usage};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/plan-usage", get(plan_usage))
}

/// The caller's plan and usage.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanUsage {
    pub plan: PlanTier,
    pub metrics: Vec<Usage>,
}

/// Used and limit per metric: `backtests` and `template_publishes` in today's window (UTC),
/// `paper_trades` as the active and scheduled paper-trading runs now.
#[utoipa::path(get, path = "/api/v1/plan-usage", tag = "plans", security(("bearer" = [])), responses((status = 200, body = PlanUsage)))]
pub async fn plan_usage(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<PlanUsage>> {
    let metrics = quotas::usage(&state.pool, user.id).await?;
    Ok(Json(PlanUsage { plan: user.plan_tier, metrics }))
}
