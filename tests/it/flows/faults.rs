//! Faults on the wire between a function and DynamoDB (issue 16 item 7): a table that stalls,
//! refuses connections or throttles answers `503 busy` in the JSON error shape within the
//! configured call timeouts — never a hang, never `internal`, nothing written. The DynamoDB
//! "service" here is a loopback server that answers every call the same scripted way; the
//! production client settings (`shared_aws::wiring::call_timeouts`) are used as built.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use serde_json::json;
use shared::config::Config;
use shared::queue::QueueName;
use shared::App;
use shared_aws::table::DynamoStore;
use shared_testkit::harness::call_raw;
use shared_testkit::moto::dynamo_client_at;
use shared_testkit::sqs::MemoryQueue;

/// A config with short call timeouts (the production defaults are 3 s and 10 s).
fn config() -> Config {
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("TABLE_NAME".into(), "faults".into());
    vars.insert("DELIVERY_QUEUE_URL".into(), "memory://delivery".into());
    vars.insert("AWS_ATTEMPT_TIMEOUT_MS".into(), "300".into());
    vars.insert("AWS_OPERATION_TIMEOUT_MS".into(), "900".into());
    Config::from_map(&vars).expect("config")
}

async fn app_against(endpoint: &str) -> (App, Arc<MemoryQueue>) {
    let cfg = config();
    let client = dynamo_client_at(endpoint, shared_aws::wiring::call_timeouts(&cfg)).await;
    let store = Arc::new(DynamoStore::new(client, cfg.table_name.clone()));
    let queue = Arc::new(MemoryQueue::new());
    (App::new(cfg, store, queue.clone()), queue)
}

/// Serves `router` on a loopback port; returns its URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// Books through the bookings API; returns status, error code and how long it took.
async fn book(app: &App) -> (u16, String, Duration, Option<String>) {
    let router = bookings_api::router(app.clone());
    let t0 = Instant::now();
    let r = call_raw(
        &router,
        "POST",
        "/api/bookings",
        &[
            ("authorization", "Bearer bsk_test_anything"),
            ("content-type", "application/json"),
        ],
        json!({"mockExamId": "e1", "contactId": "c1"})
            .to_string()
            .into_bytes(),
    )
    .await;
    let retry_after = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(r.body["success"], false, "{}", r.body);
    assert!(r.error_message().len() > 5, "{}", r.body);
    (
        r.status,
        r.error_code().to_owned(),
        t0.elapsed(),
        retry_after,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_table_answers_busy_within_the_call_timeout() {
    // Accepts connections and reads requests, never answers (a frozen emulator, SIGSTOP).
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let url = serve(Router::new().fallback(move || {
        seen.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK
        }
    }))
    .await;
    let (app, queue) = app_against(&url).await;
    let (status, code, took, retry_after) = book(&app).await;
    assert_eq!((status, code.as_str()), (503, "busy"));
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Bounded by the operation timeout (0.9 s) plus scheduling slack, never the hour.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(calls.load(Ordering::SeqCst) >= 1);
    assert_eq!(queue.len(QueueName::Delivery), 0, "nothing handed off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_table_answers_busy() {
    // A port nobody listens on: connection refused.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (app, _) = app_against(&format!("http://127.0.0.1:{port}")).await;
    let (status, code, took, _) = book(&app).await;
    assert_eq!((status, code.as_str()), (503, "busy"));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// DynamoDB's own error body for `code` (awsJson1_0).
fn dynamo_error(status: u16, code: &'static str) -> impl Fn() -> axum::response::Response + Clone {
    move || {
        (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/x-amz-json-1.0")],
            json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": "injected"})
                .to_string(),
        )
            .into_response()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_service_errors_answer_busy_other_errors_internal() {
    for (status, code, expect) in [
        (400, "ProvisionedThroughputExceededException", "busy"),
        (400, "ThrottlingException", "busy"),
        (500, "InternalServerError", "busy"),
        (400, "ValidationException", "internal"),
    ] {
        let answer = dynamo_error(status, code);
        let url = serve(Router::new().fallback(move || {
            let a = answer.clone();
            async move { a() }
        }))
        .await;
        let (app, _) = app_against(&url).await;
        let (got_status, got, took, _) = book(&app).await;
        assert_eq!(got, expect, "{code}");
        assert_eq!(
            got_status,
            if expect == "busy" { 503 } else { 500 },
            "{code}"
        );
        assert!(took < Duration::from_secs(5), "{code} took {took:?}");
    }
}
