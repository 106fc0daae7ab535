//! The service layer: one module per concept, holding its rules and its SQL. Each function takes
//! typed inputs, a pool (or the caller's transaction) and, where it matters, the acting user, and
//! returns a typed result or the crate's `ApiError`. HTTP routes, `bb` subcommands and the job
//! workers all call these same functions; nothing above this layer writes SQL.

pub mod analytics;
pub mod audit;
pub mod backtests;
pub mod billing;
pub mod cohorts;
pub mod compliance;
pub mod jobs;
pub mod kaiko;
pub mod notifications;
pub mod paper_trades;
pub mod quotas;
pub mod strategies;
pub mod subscriptions;
pub mod supabase;
pub mod templates;
pub mod users;
pub mod vendor;
