//! The `/api/v1` resources, one module each (`fn router() -> Router<AppState>`).

pub mod backtests;
pub mod health;
pub mod me;
pub mod notifications;
pub mod strategies;
pub mod usage;
