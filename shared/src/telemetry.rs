//! Structured JSON logs via tracing. One span per request/record is opened by the HTTP layer
//! and the SQS runner; secrets are never logged (they are `Secret`/`WebhookSecret` types whose
//! Debug and Display print `[redacted]`).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The log filter from `RUST_LOG`: a level (`info`) and/or `target=level` pairs
/// (`warn,shared::subscriptions=debug`); unset, empty or unreadable → `info`.
///
/// `Targets`, not `EnvFilter`: the same syntax minus span and field filters, which no function
/// uses, and without the regex engine `EnvFilter` links into every bootstrap.
pub fn log_filter(rust_log: Option<&str>) -> Targets {
    let info = || Targets::new().with_default(LevelFilter::INFO);
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v.parse::<Targets>().unwrap_or_else(|_| info()),
        None => info(),
    }
}

/// Installs the JSON subscriber once. Safe to call more than once (later calls are no-ops).
pub fn init() {
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    let _ = fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .flatten_event(true)
        .with_ansi(false)
        .with_max_level(LevelFilter::TRACE)
        .finish()
        .with(filter)
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

#[cfg(test)]
mod filter_tests {
    use super::log_filter;
    use tracing::Level;

    #[test]
    fn rust_log_levels_and_targets_are_honoured() {
        let unset = log_filter(None);
        assert!(unset.would_enable("shared::http", &Level::INFO));
        assert!(!unset.would_enable("shared::http", &Level::DEBUG));

        let debug = log_filter(Some(" debug "));
        assert!(debug.would_enable("anything", &Level::DEBUG));
        assert!(!debug.would_enable("anything", &Level::TRACE));

        let mixed = log_filter(Some("warn,shared::subscriptions=debug"));
        assert!(mixed.would_enable("shared::subscriptions::fanout", &Level::DEBUG));
        assert!(mixed.would_enable("aws_smithy_runtime", &Level::WARN));
        assert!(!mixed.would_enable("aws_smithy_runtime", &Level::INFO));
    }

    #[test]
    fn an_empty_or_unreadable_rust_log_means_info() {
        for v in ["", "   ", "shared=loud", "=debug=", "info,,x=verbose"] {
            let f = log_filter(Some(v));
            assert!(f.would_enable("shared::http", &Level::INFO), "{v:?}");
            assert!(!f.would_enable("shared::http", &Level::DEBUG), "{v:?}");
        }
    }
}
