//! Verifying bearer JWTs as Supabase issues them: HS256 with the project secret, and ES256/RS256
//! with keys from a JWKS URL (cached, refreshed when a token names an unknown `kid`).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

/// The audience Supabase puts in user tokens.
pub const AUDIENCE: &str = "authenticated";

/// Supabase's `app_metadata` claim, as far as the platform reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct AppMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_tier: Option<String>,
}

/// Supabase's `user_metadata` claim, as far as the platform reads it (a display name).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UserMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The claims the platform reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub aud: String,
    pub exp: i64,
    #[serde(default)]
    pub iat: i64,
    #[serde(default)]
    pub app_metadata: AppMetadata,
    #[serde(default, skip_serializing_if = "is_default")]
    pub user_metadata: UserMetadata,
}

fn is_default(m: &UserMetadata) -> bool {
    *m == UserMetadata::default()
}

/// Why a token was refused (always a 401 to the client).
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("token algorithm {0:?} is not accepted")]
    Algorithm(Algorithm),
    #[error("no key for this token (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("cannot fetch the JWKS: {0}")]
    Jwks(String),
}

struct JwksCache {
    keys: JwkSet,
    fetched: Option<Instant>,
}

/// Verifies tokens with the configured HS256 secret and/or JWKS URL.
pub struct Verifier {
    secret: Option<SecretString>,
    jwks_url: Option<url::Url>,
    jwks: RwLock<JwksCache>,
    http: reqwest::Client,
    /// Unknown `kid`s refetch the JWKS at most this often (a flood of made-up kids cannot hammer the provider).
    min_refresh: Duration,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("hs256", &self.secret.is_some()).field("jwks_url", &self.jwks_url).finish()
    }
}

/// A JWKS is refetched at most this often for unknown `kid`s (and kept at most this long).
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);

impl Verifier {
    pub fn new(secret: Option<SecretString>, jwks_url: Option<url::Url>) -> Self {
        Self {
            secret,
            jwks_url,
            jwks: RwLock::new(JwksCache { keys: JwkSet { keys: vec![] }, fetched: None }),
            http: reqwest::Client::new(),
            min_refresh: JWKS_MIN_REFRESH,
        }
    }

    /// Sets how often an unknown `kid` may refetch the JWKS (default 30 s).
    pub fn with_min_refresh(mut self, every: Duration) -> Self {
        self.min_refresh = every;
        self
    }

    /// Whether any way of verifying tokens is configured.
    pub fn configured(&self) -> bool {
        self.secret.is_some() || self.jwks_url.is_some()
    }

    fn validation(alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "sub", "aud"]);
        v.leeway = 0;
        v
    }

    /// Checks signature, audience and expiry; returns the claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        let key = match header.alg {
            Algorithm::HS256 => {
                let secret = self.secret.as_ref().ok_or(TokenError::Algorithm(Algorithm::HS256))?;
                DecodingKey::from_secret(secret.expose_secret().as_bytes())
            }
            Algorithm::ES256 | Algorithm::RS256 if self.jwks_url.is_some() => self.jwk_key(header.kid.clone()).await?,
            other => return Err(TokenError::Algorithm(other)),
        };
        decode::<Claims>(token, &key, &Self::validation(header.alg)).map(|d| d.claims).map_err(|e| TokenError::Invalid(e.to_string()))
    }

    async fn jwk_key(&self, kid: Option<String>) -> Result<DecodingKey, TokenError> {
        let find = |set: &JwkSet| match &kid {
            Some(k) => set.find(k).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        {
            let cache = self.jwks.read().await;
            let fresh = cache.fetched.is_some_and(|t| t.elapsed() < JWKS_MAX_AGE);
            if let (true, Some(jwk)) = (fresh, find(&cache.keys)) {
                return DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::Malformed(e.to_string()));
            }
        }
        let mut cache = self.jwks.write().await;
        let may_refresh = cache.fetched.is_none_or(|t| t.elapsed() >= self.min_refresh);
        if find(&cache.keys).is_none() && may_refresh || cache.fetched.is_none_or(|t| t.elapsed() >= JWKS_MAX_AGE) {
            let url = self.jwks_url.clone().expect("checked by caller");
            let body = self.http.get(url).send().await.map_err(|e| TokenError::Jwks(e.to_string()))?;
            let bytes = body.error_for_status().map_err(|e| TokenError::Jwks(e.to_string()))?.bytes().await.map_err(|e| TokenError::Jwks(e.to_string()))?;
            cache.keys = serde_json::from_slice(&bytes).map_err(|e| TokenError::Jwks(e.to_string()))?;
            cache.fetched = Some(Instant::now());
        }
        let jwk = find(&cache.keys).ok_or(TokenError::UnknownKey(kid))?;
        DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::Malformed(e.to_string()))
    }
}

/// Signs HS256 claims with `secret` (the secret's bytes as given, as Supabase uses it).
pub fn sign_hs256(secret: &SecretString, claims: &Claims) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret.expose_secret().as_bytes()))?)
}

/// The user id `bb token` gives an email: a UUID (version 8) from the SHA-256 of the lower-cased
/// email, so the same email is always the same user.
pub fn user_id_for_email(email: &str) -> uuid::Uuid {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("blockbuilders:{}", email.trim().to_lowercase()).as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    // version 8 (custom) and the RFC 4122 variant
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes)
}

/// Used by tests and `bb token`: claims for a user.
pub fn claims_for(sub: &str, email: Option<&str>, roles: &[&str], plan: Option<&str>, ttl: Duration) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.to_string(),
        email: email.map(str::to_string),
        aud: AUDIENCE.into(),
        exp: now + ttl.as_secs() as i64,
        iat: now,
        app_metadata: AppMetadata { roles: Some(roles.iter().map(|r| r.to_string()).collect()), plan_tier: plan.map(str::to_string) },
        user_metadata: UserMetadata::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_email_is_the_same_user() {
        assert_eq!(user_id_for_email("Ada@Example.com"), user_id_for_email("ada@example.com "));
        assert_ne!(user_id_for_email("ada@example.com"), user_id_for_email("bob@example.com"));
        assert_eq!(user_id_for_email("ada@example.com").get_version_num(), 8);
    }

    #[tokio::test]
    async fn hs256_round_trip_and_refusals() {
        let secret = SecretString::from("super-secret-jwt-token-with-at-least-32-characters-long");
        let v = Verifier::new(Some(secret.clone()), None);
        let claims = claims_for("7d1f0a4e-2c3b-4d5e-8f90-123456789abc", Some("a@b.c"), &["builder"], Some("premium"), Duration::from_secs(60));
        let token = sign_hs256(&secret, &claims).unwrap();
        assert_eq!(v.verify(&token).await.unwrap(), claims);
        // expired
        let mut old = claims.clone();
        old.exp = chrono::Utc::now().timestamp() - 1;
        assert!(v.verify(&sign_hs256(&secret, &old).unwrap()).await.is_err());
        // wrong audience
        let mut aud = claims.clone();
        aud.aud = "anon".into();
        assert!(v.verify(&sign_hs256(&secret, &aud).unwrap()).await.is_err());
        // another key
        let other = SecretString::from("another-secret-another-secret-another-secret");
        assert!(v.verify(&sign_hs256(&other, &claims).unwrap()).await.is_err());
        // alg none: header {"alg":"none"}
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!("{}.{}.", b64.encode(br#"{"alg":"none","typ":"JWT"}"#), b64.encode(serde_json::to_vec(&claims).unwrap()));
        assert!(v.verify(&none).await.is_err());
        // HS256 when only JWKS is configured
        let jwks_only = Verifier::new(None, Some("http://127.0.0.1:9/jwks.json".parse().unwrap()));
        assert!(matches!(jwks_only.verify(&token).await, Err(TokenError::Algorithm(Algorithm::HS256))));
    }
}
