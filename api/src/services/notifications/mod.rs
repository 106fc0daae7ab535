//! Notifications: the in-app inbox (`inbox`), and how each one also reaches its user by e-mail and
//! webhook: preferences per type and channel, webhook endpoints, signing, the SSRF guard, the
//! e-mail templates and SMTP client, the `notify` job's delivery with its log, and the daily digest.

pub mod deliver;
pub mod deliveries;
pub mod digest;
pub mod email;
pub mod inbox;
pub mod job;
pub mod preferences;
pub mod signing;
pub mod ssrf;
pub mod webhooks;

pub use deliver::Notifier;
pub use inbox::{cursor_of, get, get_any, insert, list, mark_all_read, mark_read, unread_count, Cursor, Notification};
