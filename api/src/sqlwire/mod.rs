//! `bb sql-server`: the `query` crate's DataFusion context over the PostgreSQL wire protocol
//! (datafusion-postgres / pgwire), for psql, psycopg, pandas and BI tools.
//!
//! Each connection authenticates with an API token as its password ([`auth`]) and gets a context
//! of its own ([`session`]): `candles` for everyone, the backtest and paper-trading tables narrowed
//! to the caller's runs (admins see all), `backtest_runs` and `paper_trades` from Postgres
//! ([`paper`]), and every indicator function. Statements
//! that write are refused and queries are bounded in rows and time ([`guard`]).

pub mod auth;
pub mod connection;
pub mod guard;
pub mod paper;
pub mod server;
pub mod session;

pub use guard::Limits;
pub use server::SqlServer;
