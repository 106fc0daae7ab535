//! What the platform signs: webhook deliveries (the Standard Webhooks scheme: `whsec_` secrets,
//! `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`) and its own links (e-mail unsubscribe tokens,
//! HMAC under a key kept in `app_secrets`, made on first use).

use aws_lc_rs::{hmac, rand};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::model::NotificationType;

const SECRET_PREFIX: &str = "whsec_";

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::fill(&mut b).expect("the system's random source works");
    b
}

/// A new webhook secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(random::<32>()))
}

/// The HMAC key of a `whsec_` secret: its base64 part decoded.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).ok_or_else(|| "a webhook secret starts with 'whsec_'".to_string())?;
    STANDARD.decode(b64).map_err(|e| format!("a webhook secret's key is base64: {e}"))
}

/// The `Webhook-Signature` header of a delivery: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret_key(secret)?);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    Ok(format!("v1,{}", STANDARD.encode(ctx.sign().as_ref())))
}

/// Whether `header` (space-separated `v1,<sig>` values) holds a valid signature of the delivery,
/// compared in constant time: what a receiver checks.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = secret_key(secret) else { return false };
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let mut msg = Vec::with_capacity(body.len() + 40);
    msg.extend_from_slice(format!("{id}.{timestamp}.").as_bytes());
    msg.extend_from_slice(body);
    header.split_whitespace().filter_map(|s| s.strip_prefix("v1,")).filter_map(|s| STANDARD.decode(s).ok()).any(|sig| hmac::verify(&key, &msg, &sig).is_ok())
}

/// The platform's key named `name` (made on first use, the same for every process).
pub async fn app_key(db: &mut PgConnection, name: &str) -> sqlx::Result<Vec<u8>> {
    sqlx::query("INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING").bind(name).bind(random::<32>().to_vec()).execute(&mut *db).await?;
    sqlx::query_scalar("SELECT value FROM app_secrets WHERE name = $1").bind(name).fetch_one(&mut *db).await
}

/// The key unsubscribe links are signed with.
pub const UNSUBSCRIBE_KEY: &str = "unsubscribe";

/// What an unsubscribe link stops: e-mail of one type, or all e-mail, for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe {
    pub user: Uuid,
    pub kind: Option<NotificationType>,
}

fn mac(key: &[u8], payload: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), payload.as_bytes()).as_ref().to_vec()
}

/// The token of an unsubscribe link: `user.type-or-all.signature`, URL-safe.
pub fn unsubscribe_token(key: &[u8], u: Unsubscribe) -> String {
    let payload = format!("{}.{}", u.user.simple(), u.kind.map(|k| k.as_str()).unwrap_or("all"));
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac(key, &payload)))
}

/// Reads an unsubscribe token back; `None` when it is malformed or its signature is not ours.
pub fn read_unsubscribe_token(key: &[u8], token: &str) -> Option<Unsubscribe> {
    let (payload, sig) = token.rsplit_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), payload.as_bytes(), &sig).ok()?;
    let (user, kind) = payload.split_once('.')?;
    let user = Uuid::parse_str(user).ok()?;
    let kind = if kind == "all" { None } else { Some(kind.parse().ok()?) };
    Some(Unsubscribe { user, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and Svix's libraries' test vector).
    #[test]
    fn signs_the_standard_webhooks_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &format!("v1,bm90IGl0 {sig}")));
        assert!(!verify(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, &sig));
    }

    #[test]
    fn new_secrets_decode_to_32_bytes() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_key(&s).unwrap().len(), 32);
        assert_ne!(s, new_secret());
    }

    #[test]
    fn unsubscribe_tokens_round_trip_and_reject_tampering() {
        let key = [7u8; 32];
        let u = Unsubscribe { user: Uuid::new_v4(), kind: Some(NotificationType::PaperTradeAlert) };
        let t = unsubscribe_token(&key, u);
        assert_eq!(read_unsubscribe_token(&key, &t), Some(u));
        let all = Unsubscribe { kind: None, ..u };
        assert_eq!(read_unsubscribe_token(&key, &unsubscribe_token(&key, all)), Some(all));
        let forged = t.replacen("paper_trade_alert", "system", 1);
        assert_eq!(read_unsubscribe_token(&key, &forged), None);
        assert_eq!(read_unsubscribe_token(&[8u8; 32], &t), None);
    }
}
