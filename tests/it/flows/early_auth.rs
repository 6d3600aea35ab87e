//! The key check that runs beside a request's first reads (`shared::http::EarlyAuth`, booking
//! create and single cancel): once this process has seen a key, a revoked key is still refused
//! at once — 401 before anything about the body or the path, nothing written — on the fakes
//! and on moto; a key seen for the first time is checked first; its use is still recorded.

use serde_json::json;
use shared::config::Config;
use shared::http::sha256_hex;
use shared::App;
use shared_testkit::harness::{workspace, Api};
use shared_testkit::moto::moto_app;

async fn revoked_key_is_refused_while_remembered(app: &App) {
    let (ws, first) = workspace(app, "early").await;
    let bookings = Api::new(bookings_api::router(app.clone()), &first);
    let cancels = Api::new(cancellations_api::router(app.clone()), &first);
    let keys = Api::new(workspaces_api::router(app.clone()), &first);
    bookings.put_exam("e1", 10).await;

    // A second key, used once: this process now remembers it.
    let created = keys
        .post(&format!("/api/workspaces/{ws}/api-keys"), None)
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let second = created.str_at("/apiKey");
    let second_id = created.str_at("/key/id");
    let hash = sha256_hex(second.as_bytes());
    assert!(app.seen_keys.get(&hash).is_none());
    let r = bookings
        .with_key(&second)
        .post(
            "/api/bookings",
            Some(json!({"mockExamId": "e1", "contactId": "c1"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let booked = r.str_at("/booking/id");
    assert_eq!(
        app.seen_keys.get(&hash).map(|(w, _)| w),
        Some(ws.clone()),
        "remembered after its first check"
    );
    // Its use was recorded even though the touch ran beside the booking.
    let listed = keys.get(&format!("/api/workspaces/{ws}/api-keys")).await;
    let used = listed.body["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == second_id.as_str())
        .expect("the second key is listed")["lastUsedAt"]
        .clone();
    assert!(used.is_string(), "lastUsedAt: {used}");

    // Revoked with the first key (another instance could have done it: nothing is told).
    let r = keys
        .delete(&format!("/api/workspaces/{ws}/api-keys/{second_id}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(app.seen_keys.get(&hash).is_some(), "still remembered here");

    let revoked = bookings.with_key(&second);
    let r = revoked
        .post(
            "/api/bookings",
            Some(json!({"mockExamId": "e1", "contactId": "c2"})),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unauthorized");
    assert!(app.seen_keys.get(&hash).is_none(), "forgotten once refused");
    // Refused keys are not remembered; put it back before each other kind of request so that
    // each one takes the path where the check runs beside the reads.
    let cancel_revoked = cancels.with_key(&second);
    let remember = || app.seen_keys.remember(&hash, &ws, &second_id);
    let mut replies = Vec::new();
    remember();
    replies.push((
        "a body that is not JSON",
        revoked
            .send("POST", "/api/bookings", &[], b"{not json".to_vec())
            .await,
    ));
    remember();
    replies.push((
        "an unknown exam",
        revoked
            .post(
                "/api/bookings",
                Some(json!({"mockExamId": "nope", "contactId": "c3"})),
            )
            .await,
    ));
    remember();
    replies.push((
        "an Idempotency-Key",
        revoked
            .send(
                "POST",
                "/api/bookings",
                &[("idempotency-key", "k-1")],
                json!({"mockExamId": "e1", "contactId": "c4"})
                    .to_string()
                    .into_bytes(),
            )
            .await,
    ));
    remember();
    replies.push((
        "a cancel",
        cancel_revoked
            .delete(&format!("/api/bookings/{booked}"))
            .await,
    ));
    remember();
    replies.push((
        "a cancel of an id that is no booking id",
        cancel_revoked.delete("/api/bookings/%FF%FE").await,
    ));
    for (what, reply) in replies {
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert_eq!(reply.body["error"]["code"], "unauthorized", "{what}");
    }
    // Nothing was written by the refused requests: one booking, still active.
    let exam = bookings.get("/api/mock-exams/e1").await;
    assert_eq!(exam.body["mockExam"]["totalBookings"], 1, "{}", exam.body);
    let b = bookings.get(&format!("/api/bookings/{booked}")).await;
    assert_eq!(b.body["booking"]["status"], "active", "{}", b.body);
    let listed = bookings.get("/api/mock-exams/e1/bookings").await;
    assert_eq!(
        listed.body["bookings"].as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );

    // The good key, remembered, still gets the body's own errors and its bookings.
    let r = bookings
        .send("POST", "/api/bookings", &[], b"{not json".to_vec())
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "invalid_json");
    let r = cancels.delete(&format!("/api/bookings/{booked}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalBookings"], 0);
}

#[tokio::test]
async fn a_revoked_key_is_refused_while_remembered() {
    let (app, _store, _queue) = shared_testkit::in_memory_app(Config::for_tests("t", "q"));
    revoked_key_is_refused_while_remembered(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_while_remembered_on_moto() {
    let m = moto_app().await;
    revoked_key_is_refused_while_remembered(&m.app).await;
}
