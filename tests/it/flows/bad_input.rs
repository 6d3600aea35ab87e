//! Bad input over moto: every rejected request answers the status and code of DESIGN §3 and
//! leaves the table exactly as it was (item count and the exam's counter).

use serde_json::json;
use shared_testkit::harness::{call, call_raw, Reply};
use shared_testkit::moto::{moto_app, workspace};

async fn item_count(m: &shared_testkit::moto::MotoApp) -> i32 {
    m.store
        .client()
        .scan()
        .table_name(m.store.table())
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap()
        .count()
}

fn code(r: &Reply) -> &str {
    r.body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_write_nothing() {
    let m = moto_app().await;
    let bookings = bookings_api::router(m.app.clone());
    let admin = workspaces_api::router(m.app.clone());
    let (ws, key) = workspace(&m.app, "acme").await;
    let (_other_ws, other_key) = workspace(&m.app, "other").await;
    let r = call(
        &bookings,
        "PUT",
        "/api/mock-exams/e1",
        Some(&key),
        Some(json!({ "name": "M", "capacity": 5 })),
    )
    .await;
    assert_eq!(r.status, 200);
    // A revoked key.
    let created = call(
        &admin,
        "POST",
        &format!("/api/workspaces/{ws}/api-keys"),
        Some(&key),
        None,
    )
    .await;
    let revoked_key = created.body["apiKey"].as_str().unwrap().to_owned();
    let revoked_id = created.body["key"]["id"].as_str().unwrap().to_owned();
    let r = call(
        &admin,
        "DELETE",
        &format!("/api/workspaces/{ws}/api-keys/{revoked_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(r.status, 200);

    let before = item_count(&m).await;
    let auth = format!("Bearer {key}");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let good = json!({ "mockExamId": "e1", "contactId": "c1" });
    let cases: Vec<(Reply, u16, &str)> = vec![
        (
            call_raw(
                &bookings,
                "POST",
                "/api/bookings",
                &h,
                b"{\"mockExamId\":".to_vec(),
            )
            .await,
            400,
            "invalid_json",
        ),
        (
            call_raw(&bookings, "POST", "/api/bookings", &h, Vec::new()).await,
            400,
            "invalid_json",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some(&key),
                Some(json!({ "mockExamId": "e1" })),
            )
            .await,
            400,
            "validation_error",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some(&key),
                Some(json!({ "mockExamId": ["e1"], "contactId": "c" })),
            )
            .await,
            400,
            "validation_error",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some(&key),
                Some(json!({ "mockExamId": "e1", "contactId": true })),
            )
            .await,
            400,
            "validation_error",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some(&key),
                Some(json!({ "mockExamId": "unknown", "contactId": "c" })),
            )
            .await,
            404,
            "not_found",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some(&other_key),
                Some(good.clone()),
            )
            .await,
            404,
            "not_found",
        ),
        (
            call(&bookings, "POST", "/api/bookings", None, Some(good.clone())).await,
            401,
            "unauthorized",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some("bsk_invalid"),
                Some(good.clone()),
            )
            .await,
            401,
            "unauthorized",
        ),
        (
            call(
                &bookings,
                "POST",
                "/api/bookings",
                Some(&revoked_key),
                Some(good.clone()),
            )
            .await,
            401,
            "unauthorized",
        ),
        (
            call_raw(
                &bookings,
                "POST",
                "/api/bookings",
                &h,
                vec![b' '; 300 * 1024],
            )
            .await,
            413,
            "payload_too_large",
        ),
        (
            call(
                &bookings,
                "PUT",
                "/api/mock-exams/e2",
                Some(&key),
                Some(json!({ "name": "M", "capacity": "ten" })),
            )
            .await,
            400,
            "validation_error",
        ),
        (
            call(
                &bookings,
                "PUT",
                "/api/mock-exams/e2",
                Some(&key),
                Some(json!({ "capacity": 3 })),
            )
            .await,
            400,
            "validation_error",
        ),
        (
            call(
                &admin,
                "PUT",
                "/api/integrations/hubspot",
                Some(&key),
                Some(json!({ "webhookUrl": "ftp://x" })),
            )
            .await,
            400,
            "validation_error",
        ),
        (
            call(
                &admin,
                "POST",
                "/api/workspaces",
                Some(&key),
                Some(json!({ "name": "x" })),
            )
            .await,
            401,
            "unauthorized",
        ),
    ];
    for (i, (reply, status, expected)) in cases.iter().enumerate() {
        assert_eq!(reply.status, *status, "case {i}: {}", reply.body);
        assert_eq!(code(reply), *expected, "case {i}: {}", reply.body);
        assert_eq!(reply.body["success"], false);
        assert!(reply.body["error"]["message"].is_string());
    }
    assert_eq!(
        item_count(&m).await,
        before,
        "no rejected request wrote anything"
    );
    let exam = call(&bookings, "GET", "/api/mock-exams/e1", Some(&key), None).await;
    assert_eq!(exam.body["mockExam"]["totalBookings"], 0);
    assert_eq!(exam.body["mockExam"]["version"], 0);
}
