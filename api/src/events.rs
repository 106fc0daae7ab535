//! Change events for Server-Sent Events and the WebSocket: Postgres triggers `pg_notify('bb_events',
//! …)` when a run changes, a notification is created or notifications are read (by this process or
//! a separate `bb worker`); one listener per process fans them out to the connected streams, which
//! filter by run and user.

use serde::Deserialize;
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The Postgres channel the triggers of migration 0002 notify.
pub const CHANNEL: &str = "bb_events";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Run,
    Notification,
    /// A paper-trading run changed (a tick, a status change).
    Paper,
    /// Some of a user's notifications were marked read (`id` is the user's): the unread count changed.
    Unread,
}

/// One change: which row, whose.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub kind: Kind,
    pub id: Uuid,
    pub user_id: Uuid,
}

/// The process's event fan-out.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self { tx: broadcast::channel(1024).0 }
    }
}

impl Events {
    /// Listens on [`CHANNEL`] until the pool is closed. A lost connection is re-established (events
    /// in between are missed, so streams also re-read their state now and then).
    pub async fn start(pool: &PgPool) -> anyhow::Result<Self> {
        let events = Events::default();
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        let tx = events.tx.clone();
        let closed = pool.close_event();
        let pool = pool.clone();
        tokio::spawn(async move {
            tokio::pin!(closed);
            loop {
                tokio::select! {
                    _ = &mut closed => break,
                    n = listener.recv() => match n {
                        Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                            Ok(e) => {
                                let _ = tx.send(e);
                            }
                            Err(e) => tracing::warn!(payload = n.payload(), error = %e, "unreadable event"),
                        },
                        // the pool closing can end `recv` before the close event is seen
                        Err(_) if pool.is_closed() => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        });
        Ok(events)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
