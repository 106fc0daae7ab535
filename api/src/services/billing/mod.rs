//! Billing: plan upgrades through Stripe (`stripe`: checkout and portal sessions, webhook
//! signatures), Stripe's events moving the subscription and the tier (`events`), and the billing
//! summary a user sees (`summary`).

pub mod events;
pub mod stripe;
pub mod summary;

pub use stripe::Stripe;
