//! `ApiConfig`: how `bb serve` serves (address, CORS, body limit, token verification).

use std::net::SocketAddr;

use secrecy::SecretString;

/// Settings of the HTTP API, filled by the binary from flags and `BB_*` variables.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub addr: SocketAddr,
    /// Origins allowed by CORS (exact matches, e.g. `https://app.blockbuilders.io`).
    pub cors_origins: Vec<String>,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// HS256 secret (Supabase's JWT secret, its bytes as given).
    pub jwt_secret: Option<SecretString>,
    /// JWKS URL for ES256/RS256 tokens.
    pub jwks_url: Option<url::Url>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8000".parse().expect("valid address"),
            cors_origins: vec!["http://localhost:3000".into()],
            body_limit: 1024 * 1024,
            jwt_secret: None,
            jwks_url: None,
        }
    }
}
