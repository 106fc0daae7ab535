//! The `/api/v1` resources, one module each (`fn router() -> Router<AppState>`): handlers parse
//! the request, authorize, call one service function and respond.

pub mod admin;
pub mod backtests;
pub mod billing;
pub mod cohorts;
pub mod health;
pub mod me;
pub mod notifications;
pub mod paper_trades;
pub mod strategies;
pub mod templates;
pub mod usage;
pub mod webhooks;
pub mod ws;
