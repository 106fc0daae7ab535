//! `SqlServer`: what every connection of the SQL endpoint shares (the pool, the lake, the token
//! verifier, the limits, the session that answers before authentication).

use std::sync::Arc;

use datafusion_postgres::DfSessionService;
use sqlx::PgPool;

use super::guard::{hooks, Limits};
use crate::auth::jwt::Verifier;

/// What every connection shares.
pub struct SqlServer {
    pub pool: PgPool,
    pub lake: Arc<lake::Lake>,
    pub verifier: Arc<Verifier>,
    pub limits: Limits,
    /// Logins (password messages) one client address may send a minute (0: no limit).
    pub logins_per_minute: u32,
    pub(crate) logins: crate::rate_limit::Buckets,
    /// Answers before a connection is authenticated (pgwire asks for the parser up front).
    pub(crate) idle: Arc<DfSessionService>,
}

impl SqlServer {
    pub fn new(pool: PgPool, lake: Arc<lake::Lake>, verifier: Arc<Verifier>, limits: Limits, logins_per_minute: u32) -> Arc<Self> {
        let idle = Arc::new(DfSessionService::new_with_hooks(Arc::new(query::context()), hooks()));
        Arc::new(SqlServer { pool, lake, verifier, limits, logins_per_minute, logins: Default::default(), idle })
    }
}
