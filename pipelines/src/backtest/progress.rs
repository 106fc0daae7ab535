//! Progress of a running backtest: bars read into `backtest_run` and combinations simulated,
//! counted by the aggregate and read by whoever started the run (the job worker reports it).
//!
//! The plan only carries a key (in the config literal), so it stays serialisable; the aggregate
//! finds the counters by that key in a process-wide registry while the run's [`ProgressHandle`] lives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Counters of one run.
#[derive(Debug, Default)]
pub struct Progress {
    bars_read: AtomicU64,
    bars_total: AtomicU64,
    combos_done: AtomicU64,
    combos_total: AtomicU64,
}

/// A snapshot of [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgressSnapshot {
    pub bars_read: u64,
    /// Bars the run will read, when known beforehand (0 otherwise).
    pub bars_total: u64,
    pub combos_done: u64,
    pub combos_total: u64,
}

impl ProgressSnapshot {
    /// Overall fraction done in [0, 1]: reading the bars is the first half, simulating the second.
    pub fn fraction(&self) -> f64 {
        let read = if self.bars_total > 0 { (self.bars_read as f64 / self.bars_total as f64).min(1.0) } else { 0.0 };
        let sim = if self.combos_total > 0 { self.combos_done as f64 / self.combos_total as f64 } else { 0.0 };
        0.5 * read + 0.5 * sim
    }
}

impl Progress {
    pub fn add_bars(&self, n: u64) {
        self.bars_read.fetch_add(n, Ordering::Relaxed);
    }
    pub fn set_bars_total(&self, n: u64) {
        self.bars_total.store(n, Ordering::Relaxed);
    }
    pub fn set_combos_total(&self, n: u64) {
        self.combos_total.store(n, Ordering::Relaxed);
    }
    pub fn combo_done(&self) {
        self.combos_done.fetch_add(1, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            bars_read: self.bars_read.load(Ordering::Relaxed),
            bars_total: self.bars_total.load(Ordering::Relaxed),
            combos_done: self.combos_done.load(Ordering::Relaxed),
            combos_total: self.combos_total.load(Ordering::Relaxed),
        }
    }
}

fn registry() -> &'static Mutex<HashMap<String, Arc<Progress>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Progress>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The counters registered under `key`, if a handle for it is alive.
pub fn lookup(key: &str) -> Option<Arc<Progress>> {
    registry().lock().ok()?.get(key).cloned()
}

/// Registers counters under a key for as long as it lives.
#[derive(Debug)]
pub struct ProgressHandle {
    key: String,
    progress: Arc<Progress>,
}

impl ProgressHandle {
    /// Registers fresh counters under `key` (e.g. a run id).
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        let progress = Arc::new(Progress::default());
        if let Ok(mut r) = registry().lock() {
            r.insert(key.clone(), progress.clone());
        }
        Self { key, progress }
    }
    pub fn key(&self) -> &str {
        &self.key
    }
    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }
}

impl Drop for ProgressHandle {
    fn drop(&mut self) {
        if let Ok(mut r) = registry().lock() {
            r.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_registers_its_counters_until_dropped() {
        let h = ProgressHandle::new("run-a");
        h.progress().set_bars_total(10);
        lookup("run-a").expect("registered").add_bars(5);
        h.progress().set_combos_total(4);
        h.progress().combo_done();
        let s = h.progress().snapshot();
        assert_eq!((s.bars_read, s.combos_done), (5, 1));
        assert!((s.fraction() - (0.25 + 0.125)).abs() < 1e-12);
        drop(h);
        assert!(lookup("run-a").is_none());
    }
}
