//! Plan quotas: limits per plan tier and metric over daily (UTC) windows, consumed race-free.

use serde::Serialize;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// The metrics a plan limits.
pub const METRICS: [&str; 3] = ["backtests", "paper_trades", "template_publishes"];

/// One metric's usage in the current window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub metric: String,
    pub used: i32,
    /// `None`: unlimited on this plan.
    pub limit: Option<i32>,
    pub remaining: Option<i32>,
    pub window_start: chrono::DateTime<chrono::Utc>,
    pub window_end: chrono::DateTime<chrono::Utc>,
}

/// Why a unit could not be consumed.
#[derive(Debug, Clone)]
pub struct OverQuota {
    pub metric: String,
    pub plan: String,
    pub limit: i32,
    pub window_end: chrono::DateTime<chrono::Utc>,
}

/// The start of today's window (UTC midnight) as Postgres computes it.
const WINDOW_START: &str = "date_trunc('day', now(), 'UTC')";

/// The user's plan tier and its limit for `metric` (`None`: unlimited).
pub async fn limit(db: impl PgExecutor<'_>, user: Uuid, metric: &str) -> sqlx::Result<(String, Option<i32>)> {
    sqlx::query_as("SELECT u.plan_tier, (p.quotas ->> $2)::int FROM users u JOIN subscription_plans p ON p.tier = u.plan_tier WHERE u.id = $1")
        .bind(user)
        .bind(metric)
        .fetch_one(db)
        .await
}

/// Consumes one unit of `metric` for `user` inside the caller's transaction (rolled back with it).
/// The row lock of the upsert serialises concurrent requests of one user, so exactly `limit` succeed.
pub async fn consume(tx: &mut PgConnection, user: Uuid, metric: &str) -> sqlx::Result<Result<i32, OverQuota>> {
    let (plan, limit) = limit(&mut *tx, user, metric).await?;
    let window_end: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(&format!("SELECT {WINDOW_START} + interval '1 day'")).fetch_one(&mut *tx).await?;
    let over = |limit: i32| Ok(Err(OverQuota { metric: metric.to_string(), plan: plan.clone(), limit, window_end }));
    let Some(limit) = limit else {
        let used: i32 = sqlx::query_scalar(&format!(
            "INSERT INTO plan_usage (user_id, metric, window_start, used) VALUES ($1, $2, {WINDOW_START}, 1)
             ON CONFLICT (user_id, metric, window_start) DO UPDATE SET used = plan_usage.used + 1 RETURNING used"
        ))
        .bind(user)
        .bind(metric)
        .fetch_one(&mut *tx)
        .await?;
        return Ok(Ok(used));
    };
    if limit <= 0 {
        return over(limit);
    }
    let used: Option<i32> = sqlx::query_scalar(&format!(
        "INSERT INTO plan_usage (user_id, metric, window_start, used) VALUES ($1, $2, {WINDOW_START}, 1)
         ON CONFLICT (user_id, metric, window_start) DO UPDATE SET used = plan_usage.used + 1 WHERE plan_usage.used < $3
         RETURNING used"
    ))
    .bind(user)
    .bind(metric)
    .bind(limit)
    .fetch_optional(&mut *tx)
    .await?;
    match used {
        Some(u) => Ok(Ok(u)),
        None => over(limit),
    }
}

/// Usage of every metric in the current window.
pub async fn usage(db: &mut PgConnection, user: Uuid) -> sqlx::Result<Vec<Usage>> {
    let rows: Vec<(String, i32, Option<i32>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(&format!(
        "SELECT m.metric, coalesce(u.used, 0), (p.quotas ->> m.metric)::int, {WINDOW_START}
         FROM unnest($2::text[]) AS m(metric)
         JOIN users us ON us.id = $1
         JOIN subscription_plans p ON p.tier = us.plan_tier
         LEFT JOIN plan_usage u ON u.user_id = $1 AND u.metric = m.metric AND u.window_start = {WINDOW_START}
         ORDER BY m.metric"
    ))
    .bind(user)
    .bind(METRICS.map(String::from).to_vec())
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(metric, used, limit, start)| Usage {
            metric,
            used,
            limit,
            remaining: limit.map(|l| (l - used).max(0)),
            window_start: start,
            window_end: start + chrono::Duration::days(1),
        })
        .collect())
}
