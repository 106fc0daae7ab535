//! This process's Prometheus metrics (`GET /metrics` on the API's port, or `bb worker
//! --metrics-addr`): what the code records as it works — requests, job durations, backtest bars,
//! notification deliveries — in one registry; what is read at scrape time (queue depth, pool use,
//! lake tables) is set by the `/metrics` route just before it encodes.

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The matched route (`/api/v1/strategies/{id}`), `unmatched` when none did.
    pub route: String,
    pub status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub kind: String,
    /// `succeeded`, `retry`, `dead` or `lease_lost`.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub kind: String,
    /// `queued` (waiting, including retries not yet due) or `running`.
    pub state: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `email` or `webhook`.
    pub channel: String,
    /// `delivered`, `retrying`, `failed` or `skipped`.
    pub outcome: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TableLabels {
    pub table: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `in_use` or `idle`.
    pub state: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 0.5 ms … about 16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

fn job_seconds() -> Histogram {
    // 5 ms … about 3 h
    Histogram::new(exponential_buckets(0.005, 2.5, 16))
}

fn bars_per_second() -> Histogram {
    // 10k … about 1.3 G bars/s
    Histogram::new(exponential_buckets(10_000.0, 2.0, 18))
}

/// Every metric of the process.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Histograms<RequestLabels>,
    pub job_seconds: Histograms<JobLabels>,
    pub jobs: Family<QueueLabels, Gauge>,
    pub oldest_queued_seconds: Family<KindLabels, Gauge<f64, AtomicU64>>,
    pub backtest_bars: Counter,
    pub backtest_bars_per_second: Histogram,
    pub deliveries: Family<DeliveryLabels, Counter>,
    pub lake_rows: Family<TableLabels, Gauge>,
    pub lake_version: Family<TableLabels, Gauge>,
    pub pool_connections: Family<PoolLabels, Gauge>,
    pub pool_max: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("bb");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by method, matched route and status", requests.clone());
        let request_seconds = Histograms::<RequestLabels>::new_with_constructor(latency as fn() -> Histogram);
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request, by method, matched route and status", request_seconds.clone());
        let job_seconds = Histograms::<JobLabels>::new_with_constructor(job_seconds as fn() -> Histogram);
        registry.register("job_duration_seconds", "Time a job attempt took in this process, by kind and outcome", job_seconds.clone());
        let jobs = Family::<QueueLabels, Gauge>::default();
        registry.register("jobs", "Jobs in the queue now (all workers), by kind and state", jobs.clone());
        let oldest_queued_seconds = Family::<KindLabels, Gauge<f64, AtomicU64>>::default();
        registry.register("jobs_oldest_queued_age_seconds", "Age of the oldest queued job that is due, by kind (0 when none waits)", oldest_queued_seconds.clone());
        let backtest_bars = Counter::default();
        registry.register("backtest_bars", "Bars run through backtests in this process (bars × combinations)", backtest_bars.clone());
        let backtest_bars_per_second = bars_per_second();
        registry.register("backtest_bars_per_second", "Speed of each backtest run in this process (bars × combinations a second)", backtest_bars_per_second.clone());
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register("notification_deliveries", "Notification delivery attempts made by this process, by channel and outcome", deliveries.clone());
        let lake_rows = Family::<TableLabels, Gauge>::default();
        registry.register("lake_rows", "Rows in each lake table at its latest version (ingests land here)", lake_rows.clone());
        let lake_version = Family::<TableLabels, Gauge>::default();
        registry.register("lake_version", "Latest Delta version of each lake table", lake_version.clone());
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register("db_pool_connections", "Postgres connections of this process's pool, in use or idle", pool_connections.clone());
        let pool_max = Gauge::default();
        registry.register("db_pool_max_connections", "The pool's largest size", pool_max.clone());
        Metrics {
            registry,
            requests,
            request_seconds,
            job_seconds,
            jobs,
            oldest_queued_seconds,
            backtest_bars,
            backtest_bars_per_second,
            deliveries,
            lake_rows,
            lake_version,
            pool_connections,
            pool_max,
        }
    }

    /// The registry in the OpenMetrics text format (which Prometheus reads), ending in `# EOF`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }

    /// Records an answered request.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = RequestLabels { method: method.to_string(), route: route.to_string(), status: status.to_string() };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Records a job attempt.
    pub fn job(&self, kind: &str, outcome: &str, took: Duration) {
        self.job_seconds.get_or_create(&JobLabels { kind: kind.to_string(), outcome: outcome.to_string() }).observe(took.as_secs_f64());
    }

    /// Records a finished backtest run: `bars` bars × combinations in `took`.
    pub fn backtest(&self, bars: u64, took: Duration) {
        self.backtest_bars.inc_by(bars);
        if bars > 0 && !took.is_zero() {
            self.backtest_bars_per_second.observe(bars as f64 / took.as_secs_f64());
        }
    }

    /// Records a notification delivery attempt.
    pub fn delivery(&self, channel: &str, outcome: &str) {
        self.deliveries.get_or_create(&DeliveryLabels { channel: channel.to_string(), outcome: outcome.to_string() }).inc();
    }
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
