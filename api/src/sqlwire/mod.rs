//! `bb sql-server`: the `query` crate's DataFusion context over the PostgreSQL wire protocol
//! (datafusion-postgres / pgwire), for psql, psycopg, pandas and BI tools.
//!
//! Each connection authenticates with an API token as its password ([`auth`]) and gets a context
//! of its own ([`session`]): `candles` for everyone, the backtest tables narrowed to the caller's
//! runs (admins see all), `backtest_runs` from Postgres, and every indicator function. Statements
//! that write are refused and queries are bounded in rows and time ([`guard`]).

pub mod auth;
pub mod guard;
pub mod session;

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::hooks::QueryHook;
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use sqlx::PgPool;
use tokio::net::TcpListener;

pub use guard::Limits;

use crate::auth::jwt::Verifier;

/// The statement hooks of every session: the read-only guard first, then datafusion-postgres's
/// cursors, `SET`/`SHOW` and transaction statements.
pub fn hooks() -> Vec<Arc<dyn QueryHook>> {
    vec![Arc::new(guard::ReadOnlyHook), Arc::new(CursorStatementHook), Arc::new(SetShowHook), Arc::new(TransactionStatementHook)]
}

/// What every connection shares.
pub struct SqlServer {
    pub pool: PgPool,
    pub lake: Arc<lake::Lake>,
    pub verifier: Arc<Verifier>,
    pub limits: Limits,
    /// Answers before a connection is authenticated (pgwire asks for the parser up front).
    idle: Arc<DfSessionService>,
}

impl SqlServer {
    pub fn new(pool: PgPool, lake: Arc<lake::Lake>, verifier: Arc<Verifier>, limits: Limits) -> Arc<Self> {
        let idle = Arc::new(DfSessionService::new_with_hooks(Arc::new(SessionContext::new()), hooks()));
        Arc::new(SqlServer { pool, lake, verifier, limits, idle })
    }

    /// Accepts connections on `listener` until `shutdown` resolves.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => {
                    let (socket, addr) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            continue;
                        }
                    };
                    let connection = Connection::new(self.clone());
                    tokio::spawn(async move {
                        if let Err(e) = datafusion_postgres::pgwire::tokio::process_socket(socket, None, connection).await {
                            tracing::debug!(%addr, error = %e, "SQL connection ended with an error");
                        }
                    });
                }
            }
        }
    }
}

/// One connection's handlers: the start-up handler fills in the session that the query handlers use.
struct Connection {
    startup: Arc<auth::TokenStartup>,
    queries: Arc<Queries>,
}

impl Connection {
    fn new(server: Arc<SqlServer>) -> Self {
        let service = Arc::new(OnceLock::new());
        let idle = server.idle.clone();
        Connection { startup: Arc::new(auth::TokenStartup { server, service: service.clone() }), queries: Arc::new(Queries { service, idle }) }
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }
    fn startup_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::auth::StartupHandler> {
        self.startup.clone()
    }
}

/// The authenticated session's query handling.
struct Queries {
    service: Arc<OnceLock<Arc<DfSessionService>>>,
    idle: Arc<DfSessionService>,
}

impl Queries {
    fn inner(&self) -> &Arc<DfSessionService> {
        self.service.get().unwrap_or(&self.idle)
    }
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        SimpleQueryHandler::do_query(self.inner().as_ref(), client, query).await
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = <DfSessionService as ExtendedQueryHandler>::Statement;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.inner().query_parser()
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Self::Statement>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        ExtendedQueryHandler::do_query(self.inner().as_ref(), client, portal, max_rows).await
    }
}
