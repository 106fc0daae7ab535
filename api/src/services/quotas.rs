//! Plan quotas: each plan tier's limit per metric (`subscription_plans.quotas`), applied to the
//! user's effective tier. `backtests` and `template_publishes` are daily (UTC) counters consumed
//! race-free inside the caller's transaction (rolled back with it); `paper_trades` is a gauge: the
//! user's active and scheduled paper-trading runs.

use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::ApiError;
use crate::model::{PlanTier, QuotaMetric};

/// One metric's usage in the current window.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub metric: QuotaMetric,
    pub used: i32,
    /// `None`: unlimited on this plan.
    pub limit: Option<i32>,
    pub remaining: Option<i32>,
    /// The daily window (for `paper_trades`, a gauge, the day it is read in).
    pub window_start: chrono::DateTime<chrono::Utc>,
    pub window_end: chrono::DateTime<chrono::Utc>,
}

/// Why a unit could not be consumed.
#[derive(Debug, Clone)]
pub struct OverQuota {
    pub metric: QuotaMetric,
    pub plan: PlanTier,
    pub limit: i32,
    pub window_end: chrono::DateTime<chrono::Utc>,
}

impl From<OverQuota> for ApiError {
    /// 403 `quota_exceeded` with the metric, plan, limit, window end and an upgrade hint.
    fn from(o: OverQuota) -> Self {
        let what = match o.metric {
            QuotaMetric::Backtests => "backtest(s) a day",
            QuotaMetric::TemplatePublishes => "template publish(es) a day",
            QuotaMetric::PaperTrades => "active or scheduled paper trade(s)",
        };
        let when = match o.metric {
            QuotaMetric::PaperTrades => "stop a paper trade to start another".to_string(),
            _ => format!("the quota resets at {}", o.window_end.to_rfc3339()),
        };
        let upgrade = match (o.plan, o.metric) {
            (PlanTier::Free, QuotaMetric::Backtests) => "upgrade to premium for 200 backtests a day".to_string(),
            (PlanTier::Free, _) => "upgrade to premium for more".to_string(),
            _ => "contact us for a larger plan".to_string(),
        };
        ApiError::QuotaExceeded {
            message: format!("your {} plan allows {} {what}; {when}. Upgrade your plan for more.", o.plan, o.limit),
            details: json!({"metric": o.metric, "plan": o.plan, "limit": o.limit, "windowEnd": o.window_end, "upgrade": upgrade}),
        }
    }
}

/// The start of today's window (UTC midnight) as Postgres computes it.
const WINDOW_START: &str = "date_trunc('day', now(), 'UTC')";

/// The user's effective tier and its limit for `metric` (`None`: unlimited).
pub async fn limit(db: impl PgExecutor<'_>, user: Uuid, metric: QuotaMetric) -> sqlx::Result<(PlanTier, Option<i32>)> {
    sqlx::query_as("SELECT up.tier, (p.quotas ->> $2)::int FROM user_plans up JOIN subscription_plans p ON p.tier = up.tier WHERE up.user_id = $1")
        .bind(user)
        .bind(metric)
        .fetch_one(db)
        .await
}

/// Consumes one unit of a daily `metric` for `user` inside the caller's transaction. The row lock
/// of the upsert serialises concurrent requests of one user, so exactly `limit` succeed; the
/// window's row records its end and the cap it opened with.
pub async fn consume(tx: &mut PgConnection, user: Uuid, metric: QuotaMetric) -> sqlx::Result<Result<i32, OverQuota>> {
    debug_assert!(metric != QuotaMetric::PaperTrades, "paper_trades is a gauge (paper_trades_in_use), not a daily counter");
    let (plan, limit) = limit(&mut *tx, user, metric).await?;
    let window_end: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(&format!("SELECT {WINDOW_START} + interval '1 day'")).fetch_one(&mut *tx).await?;
    if limit.is_some_and(|l| l <= 0) {
        return Ok(Err(OverQuota { metric, plan, limit: limit.unwrap_or(0), window_end }));
    }
    let used: Option<i32> = sqlx::query_scalar(&format!(
        "INSERT INTO plan_usage (user_id, metric, window_start, window_end, plan_limit, used)
         VALUES ($1, $2, {WINDOW_START}, {WINDOW_START} + interval '1 day', $3, 1)
         ON CONFLICT (user_id, metric, window_start) DO UPDATE SET used = plan_usage.used + 1
         WHERE $3::int IS NULL OR plan_usage.used < $3
         RETURNING used"
    ))
    .bind(user)
    .bind(metric)
    .bind(limit)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match (used, limit) {
        (Some(u), _) => Ok(u),
        (None, limit) => Err(OverQuota { metric, plan, limit: limit.unwrap_or(0), window_end }),
    })
}

/// How many paper-trading runs of `user` count against `paper_trades` (active and scheduled).
pub async fn paper_trades_in_use(db: impl PgExecutor<'_>, user: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT count(*)::int FROM paper_trade_runs WHERE user_id = $1 AND status IN ('scheduled', 'active')").bind(user).fetch_one(db).await
}

/// Usage of every metric: today's window of the daily ones, the current count of the gauge.
pub async fn usage(pool: &sqlx::PgPool, user: Uuid) -> sqlx::Result<Vec<Usage>> {
    let mut db = pool.acquire().await?;
    let daily = [QuotaMetric::Backtests, QuotaMetric::TemplatePublishes];
    let rows: Vec<(QuotaMetric, i32, Option<i32>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(&format!(
        "SELECT m.metric, coalesce(u.used, 0), (p.quotas ->> m.metric)::int, {WINDOW_START}
         FROM unnest($2::text[]) AS m(metric)
         JOIN user_plans up ON up.user_id = $1
         JOIN subscription_plans p ON p.tier = up.tier
         LEFT JOIN plan_usage u ON u.user_id = $1 AND u.metric = m.metric AND u.window_start = {WINDOW_START}
         ORDER BY m.metric"
    ))
    .bind(user)
    .bind(daily.to_vec())
    .fetch_all(&mut *db)
    .await?;
    let (_, paper_limit) = limit(&mut *db, user, QuotaMetric::PaperTrades).await?;
    let paper_used = paper_trades_in_use(&mut *db, user).await?;
    let start = rows.first().map(|r| r.3).unwrap_or_else(chrono::Utc::now);
    let mut out: Vec<Usage> = rows
        .into_iter()
        .map(|(metric, used, limit, start)| Usage { metric, used, limit, remaining: limit.map(|l| (l - used).max(0)), window_start: start, window_end: start + chrono::Duration::days(1) })
        .collect();
    out.push(Usage {
        metric: QuotaMetric::PaperTrades,
        used: paper_used,
        limit: paper_limit,
        remaining: paper_limit.map(|l| (l - paper_used).max(0)),
        window_start: start,
        window_end: start + chrono::Duration::days(1),
    });
    out.sort_by_key(|u| u.metric.as_str());
    Ok(out)
}
