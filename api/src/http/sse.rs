//! Server-Sent Events of one changing row (a backtest run, a paper-trading run): its current state
//! first, then a new event whenever it changes, woken by the change events of its kind
//! (`crate::events`) and re-read every two seconds in case one was missed. An event is named
//! `status` when the row's status changed and after the caller's name otherwise; the stream ends
//! after the row reaches a final state.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde_json::Value;
use uuid::Uuid;

use crate::events::Kind;
use crate::state::AppState;

/// What a watched row looks like now.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub status: String,
    /// Everything whose change is worth an event (the status included).
    pub key: Value,
    /// The event's data.
    pub data: Value,
    /// Whether the row reached a final state (the stream ends after this event).
    pub done: bool,
}

struct Watch<F> {
    id: Uuid,
    kind: Kind,
    other: &'static str,
    fetch: F,
    rx: tokio::sync::broadcast::Receiver<crate::events::Event>,
    tick: tokio::time::Interval,
    last: Option<(String, Value)>,
    first: bool,
    done: bool,
}

async fn next<F, Fut>(mut w: Watch<F>) -> Option<(Result<Event, Infallible>, Watch<F>)>
where
    F: Fn(Uuid) -> Fut,
    Fut: Future<Output = Option<Snapshot>>,
{
    use tokio::sync::broadcast::error::RecvError;
    if w.done {
        return None;
    }
    loop {
        if w.first {
            w.first = false;
        } else {
            tokio::select! {
                r = w.rx.recv() => match r {
                    Ok(e) if e.kind == w.kind && e.id == w.id => {}
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                },
                _ = w.tick.tick() => {}
            }
        }
        let s = (w.fetch)(w.id).await?;
        if w.last.as_ref().is_some_and(|l| l.1 == s.key) {
            continue;
        }
        let status_changed = w.last.as_ref().is_none_or(|l| l.0 != s.status);
        w.last = Some((s.status, s.key));
        w.done = s.done;
        let event = Event::default().event(if status_changed { "status" } else { w.other }).json_data(s.data).ok()?;
        return Some((Ok(event), w));
    }
}

/// The event stream of row `id` of `kind`; `fetch` reads its snapshot (None ends the stream),
/// `other` names the events that are not status changes.
pub fn watch<F, Fut>(state: &AppState, kind: Kind, id: Uuid, other: &'static str, fetch: F) -> Sse<impl Stream<Item = Result<Event, Infallible>>>
where
    F: Fn(Uuid) -> Fut + Send + 'static,
    Fut: Future<Output = Option<Snapshot>> + Send + 'static,
{
    let rx = state.events.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    let w = Watch { id, kind, other, fetch, rx, tick, last: None, first: true, done: false };
    Sse::new(futures::stream::unfold(w, next)).keep_alive(KeepAlive::default())
}
