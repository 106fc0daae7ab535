//! Where the API's Postgres is (`DATABASE_URL`, or a private cluster in `<data dir>/pg`), and the
//! database and token options the services share.

use std::path::Path;

use crate::pg::PrivateCluster;

/// The database to use and, when it is the private one, the cluster (stopped when dropped).
pub fn database(data_dir: &Path, url: Option<&str>) -> anyhow::Result<(String, Option<PrivateCluster>)> {
    if let Some(url) = url {
        return Ok((url.to_string(), None));
    }
    let dir = data_dir.join("pg");
    let cluster = PrivateCluster::start(&dir)?;
    cluster.ensure_database("blockbuilders")?;
    eprintln!("no DATABASE_URL: using the private PostgreSQL cluster in {} (port {})", dir.display(), cluster.port());
    Ok((cluster.url("blockbuilders"), Some(cluster)))
}

/// The database options of the services (`serve`, `worker`, `sql-server`).
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// Postgres URL (a private cluster in <data dir>/pg when unset).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Do not apply pending migrations on start.
    #[arg(long)]
    pub no_migrate: bool,
}

impl DatabaseArgs {
    /// Connects (starting the private cluster if need be) and applies pending migrations unless
    /// told not to. Keep the cluster handle as long as the pool: dropping it stops the cluster.
    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<(sqlx::PgPool, Option<PrivateCluster>)> {
        let (url, cluster) = database(data_dir, self.database_url.as_deref())?;
        let pool = crate::db::connect(&url).await?;
        if !self.no_migrate {
            let n = crate::db::migrate(&pool).await?;
            if n > 0 {
                eprintln!("applied {n} migration(s)");
            }
        }
        Ok((pool, cluster))
    }
}

/// How API tokens are verified (the REST API and the SQL endpoint alike).
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// HS256 secret of the auth provider (Supabase's JWT secret).
    #[arg(long, env = "BB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// JWKS URL for ES256/RS256 tokens (default with --supabase-url: the project's
    /// /auth/v1/.well-known/jwks.json).
    #[arg(long, env = "BB_JWKS_URL")]
    pub jwks_url: Option<url::Url>,
    /// The Supabase project (https://<ref>.supabase.co): its JWKS verifies tokens, and with
    /// BB_SUPABASE_SERVICE_ROLE_KEY (or its _FILE) role changes and invitations go to its admin API.
    #[arg(long, env = "BB_SUPABASE_URL")]
    pub supabase_url: Option<url::Url>,
}

impl TokenArgs {
    /// The verifier; warns when nothing is configured (every token would be refused).
    pub fn verifier(&self) -> crate::auth::jwt::Verifier {
        let jwks = self.jwks_url.clone().or_else(|| self.supabase_url.as_ref().map(crate::services::supabase::Supabase::jwks_url));
        let v = crate::auth::jwt::Verifier::new(self.jwt_secret.clone().map(secrecy::SecretString::from), jwks);
        if !v.configured() {
            eprintln!("warning: neither BB_JWT_SECRET nor BB_JWKS_URL is set: every token will be refused");
        }
        v
    }
}
