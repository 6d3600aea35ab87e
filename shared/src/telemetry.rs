//! Structured JSON logs via tracing. One span per request/record is opened by the HTTP layer
//! and the SQS runner; secrets are never logged (they are `Secret`/`WebhookSecret` types whose
//! Debug and Display print `[redacted]`).

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the JSON subscriber once. Safe to call more than once (later calls are no-ops).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .flatten_event(true)
        .with_ansi(false)
        .try_init();
}

/// A CloudWatch Embedded Metric Format line: CloudWatch turns it into metrics without API
/// calls. `metrics` are (name, value, unit).
pub fn emit_metrics(namespace: &str, dimensions: &[(&str, &str)], metrics: &[(&str, f64, &str)]) {
    let mut root = serde_json::Map::new();
    let dim_names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let metric_defs: Vec<serde_json::Value> = metrics
        .iter()
        .map(|(n, _, u)| serde_json::json!({ "Name": n, "Unit": u }))
        .collect();
    root.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": chrono::Utc::now().timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dim_names],
                "Metrics": metric_defs,
            }]
        }),
    );
    for (k, v) in dimensions {
        root.insert((*k).into(), serde_json::Value::String((*v).into()));
    }
    for (n, v, _) in metrics {
        root.insert((*n).into(), serde_json::json!(v));
    }
    // EMF must be a raw JSON line on stdout, not wrapped in a tracing event.
    #[allow(clippy::print_stdout)]
    {
        println!("{}", serde_json::Value::Object(root));
    }
}
