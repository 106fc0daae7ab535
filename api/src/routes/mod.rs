//! The `/api/v1` resources, one module each (`fn router() -> Router<AppState>`).

pub mod health;
pub mod me;
pub mod strategies;
