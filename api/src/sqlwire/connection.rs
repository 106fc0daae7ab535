//! Serving connections: each one authenticates with its start-up handler ([`super::auth`]), which
//! fills in the session its query handlers then use.

use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::portal::Portal;
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::{DfSessionService, Parser};
use tokio::net::TcpListener;
use tracing::Instrument;

use super::auth::TokenStartup;
use super::server::SqlServer;

impl SqlServer {
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
    startup: Arc<TokenStartup>,
    queries: Arc<Queries>,
}

impl Connection {
    fn new(server: Arc<SqlServer>) -> Self {
        let service = Arc::new(OnceLock::new());
        let idle = server.idle.clone();
        Connection { startup: Arc::new(TokenStartup { server, service: service.clone() }), queries: Arc::new(Queries { service, idle }) }
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
        let text: String = query.chars().take(200).collect();
        SimpleQueryHandler::do_query(self.inner().as_ref(), client, query).instrument(tracing::info_span!("sql.query", protocol = "simple", query = %text)).await
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
        ExtendedQueryHandler::do_query(self.inner().as_ref(), client, portal, max_rows).instrument(tracing::info_span!("sql.query", protocol = "extended", statement = %portal.statement.id)).await
    }
}
