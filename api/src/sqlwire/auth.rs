//! Connection start-up: a cleartext password exchange whose password is an API token (the REST
//! API's JWT; it cannot be checked through MD5 or SCRAM). The user name must be the token's email
//! and the database `blockbuilders`. On success the connection's DataFusion context is built.
//! Logins are rate limited per client address (`SqlServer::logins_per_minute`).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::{finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, DefaultServerParameterProvider, ServerParameterProvider, StartupHandler};
use datafusion_postgres::pgwire::api::{ClientInfo, PgWireConnectionState, METADATA_DATABASE, METADATA_USER};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::DfSessionService;
use futures::{Sink, SinkExt};

use super::session::{self, Caller, DATABASE};
use super::guard::hooks;
use super::server::SqlServer;

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message)))
}

/// Server parameters: read-only sessions, not superuser.
struct Parameters(DefaultServerParameterProvider);

impl ServerParameterProvider for Parameters {
    fn server_parameters<C: ClientInfo>(&self, client: &C) -> Option<HashMap<String, String>> {
        self.0.server_parameters(client)
    }
}

/// Authenticates a connection with an API token as its password.
pub struct TokenStartup {
    pub(super) server: Arc<SqlServer>,
    pub(super) service: Arc<OnceLock<Arc<DfSessionService>>>,
}

impl TokenStartup {
    async fn login(&self, user: String, database: String, token: &str) -> PgWireResult<Caller> {
        if database != DATABASE {
            return Err(fatal("3D000", format!("database \"{database}\" does not exist: connect to database {DATABASE}")));
        }
        let auth = crate::auth::authenticate(&self.server.pool, &self.server.verifier, token.trim())
            .await
            .map_err(|e| fatal("28P01", format!("password authentication failed for user \"{user}\": the password must be a valid API token ({e})")))?;
        let email = auth.email.clone().unwrap_or_default();
        if !email.eq_ignore_ascii_case(&user) {
            return Err(fatal("28000", format!("user \"{user}\" does not match the token, whose email is \"{email}\"")));
        }
        Ok(Caller { id: auth.id, email, admin: auth.is_admin() })
    }
}

#[async_trait]
impl StartupHandler for TokenStartup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client.send(PgWireBackendMessage::Authentication(Authentication::CleartextPassword)).await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(pwd) => {
                let per_minute = self.server.logins_per_minute;
                if let Err(wait) = self.server.logins.take(crate::rate_limit::Key::Ip(client.socket_addr().ip()), per_minute) {
                    let secs = wait.as_secs_f64().ceil().max(1.0);
                    return Err(fatal("08004", format!("too many login attempts from your address: at most {per_minute} a minute; try again in {secs} s")));
                }
                let pwd = pwd.into_password()?;
                let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
                let database = client.metadata().get(METADATA_DATABASE).cloned().unwrap_or_else(|| user.clone());
                let caller = self.login(user, database, &pwd.password).await?;
                let ctx = session::context(&self.server.pool, &self.server.lake, &caller, self.server.limits)
                    .await
                    .map_err(|e| fatal("XX000", format!("could not open the session: {e}")))?;
                let service = DfSessionService::new_with_hooks(Arc::new(ctx), hooks());
                let _ = self.service.set(Arc::new(service));
                tracing::info!(user = %caller.email, admin = caller.admin, "SQL session opened");
                let mut params = DefaultServerParameterProvider::default();
                params.is_superuser = false;
                params.default_transaction_read_only = true;
                finish_authentication(client, &Parameters(params)).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
