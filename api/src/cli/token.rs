//! `bb token`: signs an API token with `BB_JWT_SECRET` (no database needed); prints only the token.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;

use crate::auth::jwt::{claims_for, sign_hs256, user_id_for_email};

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The user's email; the user id is derived from it (same email, same user).
    #[arg(long)]
    pub email: String,
    /// builder, educator or admin.
    #[arg(long, default_value = "builder", value_parser = ["builder", "educator", "admin"])]
    pub role: String,
    /// free, premium or educator.
    #[arg(long, default_value = "free", value_parser = ["free", "premium", "educator"])]
    pub plan: String,
    /// Lifetime: 30s, 15m, 1h, 7d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// The HS256 secret the API verifies with.
    #[arg(long, env = "BB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

fn parse_ttl(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("'{s}' is not a duration like 30s, 15m, 1h, 7d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("'{s}': unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(secs))
}

pub async fn run(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let secret = SecretString::from(args.jwt_secret.context("set BB_JWT_SECRET (or --jwt-secret) to the secret the API verifies with")?);
    let sub = user_id_for_email(&args.email).to_string();
    let claims = claims_for(&sub, Some(args.email.trim()), &[args.role.as_str()], Some(args.plan.as_str()), args.ttl);
    println!("{}", sign_hs256(&secret, &claims)?);
    Ok(ExitCode::SUCCESS)
}
