//! `AppState`: what every HTTP handler can reach (the pool, the token verifier, the lake, the
//! change events, the notifier, the Stripe and Supabase clients, the rate limits and their buckets).

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::jwt::Verifier;
use crate::events::Events;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: Arc<Verifier>,
    /// Where candles are read and backtest results stored.
    pub lake: Arc<lake::Lake>,
    /// Run and notification changes, for Server-Sent Events.
    pub events: Events,
    /// Attempts a backtest job gets before it is dead-lettered.
    pub job_attempts: i32,
    /// Paper-trading runs kept warm between ticks (shared with the embedded worker).
    pub paper: Arc<crate::services::paper_trades::RunnerCache>,
    /// How notifications leave by e-mail and webhook (shared with the embedded worker).
    pub notifier: Arc<crate::services::notifications::Notifier>,
    /// Stripe: checkout, the portal, webhook signatures (off unless configured).
    pub stripe: Arc<crate::services::billing::Stripe>,
    /// Supabase Auth's admin API: roles and invitations (off unless configured).
    pub supabase: Arc<crate::services::supabase::Supabase>,
    /// Rate limits of mutating requests, and this process's buckets.
    pub rate_limits: crate::rate_limit::Limits,
    pub buckets: Arc<crate::rate_limit::Buckets>,
}

impl AppState {
    /// State over `pool` and `lake`, listening for change events until the pool is closed.
    pub async fn new(pool: PgPool, verifier: Verifier, lake: lake::Lake) -> anyhow::Result<Self> {
        let events = Events::start(&pool).await?;
        Ok(AppState { pool, verifier: Arc::new(verifier), lake: Arc::new(lake), events, job_attempts: 3, paper: Arc::default(), notifier: Arc::default(), stripe: Arc::default(), supabase: Arc::default(), rate_limits: crate::rate_limit::Limits::off(), buckets: Arc::default() })
    }
}
