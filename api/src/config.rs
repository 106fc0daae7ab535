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
    /// Send `Strict-Transport-Security` (the app is reached over https).
    pub hsts: bool,
    /// Rate limits of mutating requests (none by default; `bb serve` sets its flags').
    pub rate_limits: crate::rate_limit::Limits,
    /// Serve `GET /metrics` (Prometheus) at the root path.
    pub metrics: bool,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<SecretString>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8000".parse().expect("valid address"),
            cors_origins: vec!["http://localhost:3000".into()],
            body_limit: 1024 * 1024,
            jwt_secret: None,
            jwks_url: None,
            hsts: false,
            rate_limits: crate::rate_limit::Limits::off(),
            metrics: true,
            metrics_token: None,
        }
    }
}

/// How notifications leave the platform: e-mail over SMTP, webhooks, their retries. Filled by the
/// binary from flags and `BB_*` variables; the API uses it to check webhook URLs and show whether
/// e-mail is on, the worker to deliver.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// `smtp://[user:pass@]host[:port]` (STARTTLS when the server offers it) or `smtps://…`
    /// (TLS from the start); none turns e-mail off.
    pub smtp_url: Option<url::Url>,
    /// PEM certificates trusted for the SMTP server's TLS besides the system's (a private CA).
    pub smtp_ca_file: Option<std::path::PathBuf>,
    /// The From of every e-mail, e.g. `Blockbuilders <notifications@example.com>`.
    pub mail_from: String,
    /// Where users reach the app: the base of the links in e-mails (the app and unsubscribe links).
    pub public_url: url::Url,
    /// Accept webhook endpoints on loopback and private addresses (tests, local stacks).
    pub allow_private: bool,
    /// How long one webhook POST may take.
    pub webhook_timeout: std::time::Duration,
    /// Attempts per delivery before it is marked failed.
    pub max_attempts: i32,
    /// The first retry's delay (then doubling, with ±20 % jitter, at most an hour).
    pub retry_base: std::time::Duration,
    /// Failed deliveries in a row after which a webhook endpoint is disabled.
    pub disable_after: i32,
    /// Deliveries one worker makes at once.
    pub concurrency: usize,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            smtp_ca_file: None,
            mail_from: "Blockbuilders <notifications@localhost>".into(),
            public_url: url::Url::parse("http://127.0.0.1:8000/").expect("valid URL"),
            allow_private: false,
            webhook_timeout: std::time::Duration::from_secs(10),
            max_attempts: 8,
            retry_base: std::time::Duration::from_secs(5),
            disable_after: 5,
            concurrency: 16,
        }
    }
}

/// Billing through Stripe: the API key, the webhook signing secret, the price of each paid plan,
/// and where Stripe sends the user back. Unset keys turn the billing routes off (503).
#[derive(Clone)]
pub struct BillingConfig {
    /// `sk_live_…` / `sk_test_…` (`BB_STRIPE_SECRET_KEY`, or a file named by `BB_STRIPE_SECRET_KEY_FILE`).
    pub stripe_secret_key: Option<SecretString>,
    /// `https://api.stripe.com` unless pointed elsewhere (`BB_STRIPE_API_BASE`).
    pub stripe_api_base: url::Url,
    /// `whsec_…`: the endpoint's signing secret (`BB_STRIPE_WEBHOOK_SECRET` or `…_FILE`).
    pub stripe_webhook_secret: Option<SecretString>,
    /// Stripe price ids of the paid plans (`price_…`).
    pub price_premium: Option<String>,
    pub price_educator: Option<String>,
    /// The app's address: checkout and the portal send the user back under it.
    pub public_url: url::Url,
}

impl std::fmt::Debug for BillingConfig {
    /// Never the secrets themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingConfig")
            .field("stripe_secret_key", &self.stripe_secret_key.as_ref().map(|_| "[set]"))
            .field("stripe_api_base", &self.stripe_api_base.as_str())
            .field("stripe_webhook_secret", &self.stripe_webhook_secret.as_ref().map(|_| "[set]"))
            .field("price_premium", &self.price_premium)
            .field("price_educator", &self.price_educator)
            .field("public_url", &self.public_url.as_str())
            .finish()
    }
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            stripe_secret_key: None,
            stripe_api_base: url::Url::parse("https://api.stripe.com/").expect("valid URL"),
            stripe_webhook_secret: None,
            price_premium: None,
            price_educator: None,
            public_url: url::Url::parse("http://127.0.0.1:8000/").expect("valid URL"),
        }
    }
}
