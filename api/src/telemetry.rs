//! Logs and traces of the `bb` process: log lines on stderr (text, or JSON with
//! `BB_LOG_FORMAT=json`; `BB_LOG` filters), and `tracing` spans exported over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; plus the W3C
//! `traceparent` that carries a request's trace into the jobs it enqueues.

use std::collections::HashMap;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes the exported spans when dropped (at the end of `main`).
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("warning: flushing traces to the OTLP endpoint failed: {e}");
            }
        }
    }
}

fn otlp_configured() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].iter().any(|v| std::env::var(v).is_ok_and(|v| !v.trim().is_empty()))
}

/// Starts logging (and trace export when configured). `default_filter` applies when `BB_LOG` is unset.
pub fn init(default_filter: &str) -> anyhow::Result<Guard> {
    let filter = EnvFilter::try_from_env("BB_LOG").unwrap_or_else(|_| default_filter.into());
    let format = std::env::var("BB_LOG_FORMAT").unwrap_or_default();
    let logs = match format.as_str() {
        "" | "text" => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).boxed(),
        "json" => tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false).with_writer(std::io::stderr).boxed(),
        other => anyhow::bail!("BB_LOG_FORMAT must be text or json, got '{other}'"),
    };
    let (provider, traces) = if otlp_configured() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| anyhow::anyhow!("OTEL_EXPORTER_OTLP_ENDPOINT: cannot export traces: {e}"))?;
        let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "blockbuilders".into());
        let resource = opentelemetry_sdk::Resource::builder().with_service_name(service).build();
        let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
        let tracer = provider.tracer("bb");
        // only our spans travel (the dependencies' debug spans stay local)
        let only_ours = tracing_subscriber::filter::Targets::new().with_target("api", tracing::Level::INFO);
        (Some(provider), Some(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(only_ours)))
    } else {
        (None, None)
    };
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    tracing_subscriber::registry().with(logs.with_filter(filter)).with(traces).init();
    Ok(Guard(provider))
}

/// The current span's trace as a W3C `traceparent` header value (none when traces are off).
pub fn traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove("traceparent")
}

/// Makes `span` a child of the trace `traceparent` names (a job's span under the request that
/// enqueued it). An absent or malformed value leaves the span a root.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(tp) = traceparent else { return };
    let carrier = HashMap::from([("traceparent".to_string(), tp.to_string())]);
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
    let _ = span.set_parent(cx);
}
