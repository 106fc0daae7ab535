//! Supabase Auth's admin API, as the platform uses it: writing a user's roles into their
//! `app_metadata` (`PATCH /auth/v1/admin/users/{id}`) and provisioning an account
//! (`POST /auth/v1/admin/users`), both with the service-role key as `apikey` and as the bearer
//! token, retried on 5xx (`services::vendor`). Supabase's error bodies (`{"code", "error_code", "msg"}`) are read back.
//! Off unless `BB_SUPABASE_URL` and `BB_SUPABASE_SERVICE_ROLE_KEY` are set.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::model::Role;

/// A Supabase Auth admin client.
#[derive(Clone)]
pub struct Supabase {
    url: Option<url::Url>,
    key: Option<SecretString>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Supabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supabase").field("url", &self.url.as_ref().map(|u| u.as_str())).field("key", &self.key.as_ref().map(|_| "[set]")).finish()
    }
}

impl Default for Supabase {
    fn default() -> Self {
        Supabase::new(None, None)
    }
}

impl Supabase {
    pub fn new(url: Option<url::Url>, key: Option<SecretString>) -> Supabase {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("the HTTP client builds");
        Supabase { url, key, http }
    }

    /// Whether the admin API is in use (both the project URL and the service-role key are set).
    pub fn configured(&self) -> bool {
        self.url.is_some() && self.key.is_some()
    }

    /// The project's JWKS (`/auth/v1/.well-known/jwks.json`) for a project URL.
    pub fn jwks_url(project: &url::Url) -> url::Url {
        let base = project.as_str().trim_end_matches('/');
        url::Url::parse(&format!("{base}/auth/v1/.well-known/jwks.json")).expect("a project URL joins")
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Result<Value, ApiError> {
        let (Some(url), Some(key)) = (&self.url, &self.key) else {
            return Err(ApiError::NotConfigured("Supabase's admin API is not configured (BB_SUPABASE_URL, BB_SUPABASE_SERVICE_ROLE_KEY)".into()));
        };
        let target = format!("{}/{}", url.as_str().trim_end_matches('/'), path.trim_start_matches('/'));
        let sent = crate::services::vendor::send(3, Duration::from_millis(200), |s| s.is_server_error(), || {
            self.http
                .request(method.clone(), &target)
                .header("apikey", key.expose_secret())
                .bearer_auth(key.expose_secret())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
        })
        .await;
        let last = match sent {
            Ok(r) if r.status.is_success() => return Ok(r.json),
            Ok(r) => {
                let json = &r.json;
                let message = ["msg", "message", "error_description", "error"].iter().find_map(|k| json[*k].as_str()).unwrap_or("no message").to_string();
                let code = json["error_code"].as_str().unwrap_or_default().to_string();
                let last = format!("Supabase answered {}{}: {message}", r.status, if code.is_empty() { String::new() } else { format!(" ({code})") });
                if code == "email_exists" || r.status.as_u16() == 409 {
                    return Err(ApiError::Conflict(last));
                }
                last
            }
            Err(e) => format!("Supabase could not be reached: {e}"),
        };
        tracing::warn!(path, error = %last, "Supabase admin call failed");
        Err(ApiError::Upstream(last))
    }

    /// Writes the user's roles into their `app_metadata.roles`.
    pub async fn set_roles(&self, user: Uuid, roles: &[Role]) -> Result<(), ApiError> {
        self.call(reqwest::Method::PUT, &format!("/auth/v1/admin/users/{user}"), json!({"app_metadata": {"roles": roles}})).await.map(|_| ())
    }

    /// Provisions an account for `email` with `roles`; returns its id.
    pub async fn create_user(&self, email: &str, roles: &[Role]) -> Result<Uuid, ApiError> {
        let u = self.call(reqwest::Method::POST, "/auth/v1/admin/users", json!({"email": email, "email_confirm": true, "app_metadata": {"roles": roles}})).await?;
        u["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or_else(|| ApiError::Upstream("Supabase's new user has no id".into()))
    }
}
