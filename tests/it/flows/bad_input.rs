//! Bad input over moto: every rejected request answers the status and code of DESIGN §3 and
//! leaves the table exactly as it was (item count and the exam's counter).

use serde_json::json;
use shared_testkit::harness::{call_raw, Api, Reply};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_write_nothing() {
    let m = moto_app().await;
    let (ws, key) = workspace(&m.app, "acme").await;
    let bookings = Api::new(bookings_api::router(m.app.clone()), &key);
    let admin = Api::new(workspaces_api::router(m.app.clone()), &key);
    let (_other_ws, other_key) = workspace(&m.app, "other").await;
    bookings.put_exam("e1", 5).await;
    // A revoked key.
    let created = admin
        .post(&format!("/api/workspaces/{ws}/api-keys"), None)
        .await;
    let revoked_key = created.str_at("/apiKey");
    let revoked_id = created.str_at("/key/id");
    let r = admin
        .delete(&format!("/api/workspaces/{ws}/api-keys/{revoked_id}"))
        .await;
    assert_eq!(r.status, 200);

    let before = item_count(&m).await;
    let good = json!({ "mockExamId": "e1", "contactId": "c1" }).to_string();
    let mut cases: Vec<(Reply, u16, &str)> = Vec::new();
    // POST /api/bookings: (key, body, status, code)
    let (key, other_key, revoked_key) = (key.as_str(), other_key.as_str(), revoked_key.as_str());
    for (key, body, status, code) in [
        (
            Some(key),
            "{\"mockExamId\":".to_owned(),
            400,
            "invalid_json",
        ),
        (Some(key), String::new(), 400, "invalid_json"),
        (
            Some(key),
            json!({ "mockExamId": "e1" }).to_string(),
            400,
            "validation_error",
        ),
        (
            Some(key),
            json!({ "mockExamId": ["e1"], "contactId": "c" }).to_string(),
            400,
            "validation_error",
        ),
        (
            Some(key),
            json!({ "mockExamId": "e1", "contactId": true }).to_string(),
            400,
            "validation_error",
        ),
        (
            Some(key),
            json!({ "mockExamId": "unknown", "contactId": "c" }).to_string(),
            404,
            "not_found",
        ),
        (Some(other_key), good.clone(), 404, "not_found"),
        (None, good.clone(), 401, "unauthorized"),
        (Some("bsk_invalid"), good.clone(), 401, "unauthorized"),
        (Some(revoked_key), good.clone(), 401, "unauthorized"),
        (Some(key), " ".repeat(300 * 1024), 413, "payload_too_large"),
    ] {
        let auth = key.map(|k| format!("Bearer {k}"));
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(auth.as_deref().map(|a| ("authorization", a)));
        let reply = call_raw(
            &bookings.router,
            "POST",
            "/api/bookings",
            &headers,
            body.into_bytes(),
        )
        .await;
        cases.push((reply, status, code));
    }
    for (api, path, body, status, code) in [
        (
            &bookings,
            "/api/mock-exams/e2",
            json!({ "name": "M", "capacity": "ten" }),
            400,
            "validation_error",
        ),
        (
            &bookings,
            "/api/mock-exams/e2",
            json!({ "capacity": 3 }),
            400,
            "validation_error",
        ),
        (
            &admin,
            "/api/integrations/hubspot",
            json!({ "webhookUrl": "ftp://x" }),
            400,
            "validation_error",
        ),
    ] {
        cases.push((api.put(path, body).await, status, code));
    }
    let r = admin.post("/api/workspaces", json!({ "name": "x" })).await;
    cases.push((r, 401, "unauthorized"));
    for (i, (reply, status, expected)) in cases.iter().enumerate() {
        assert_eq!(reply.status, *status, "case {i}: {}", reply.body);
        assert_eq!(reply.error_code(), *expected, "case {i}: {}", reply.body);
        assert_eq!(reply.body["success"], false);
        assert!(reply.body["error"]["message"].is_string());
    }
    assert_eq!(
        item_count(&m).await,
        before,
        "no rejected request wrote anything"
    );
    let exam = bookings.get("/api/mock-exams/e1").await;
    assert_eq!(exam.body["mockExam"]["totalBookings"], 0);
    assert_eq!(exam.body["mockExam"]["version"], 0);
}
