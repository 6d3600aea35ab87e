//! Booking events carry the user whose id is the booking's contactId (DESIGN §4 events table).

use serde_json::json;
use shared::queue::QueueName;
use shared::queue::{QueueEnvelope, QueueMessage};
use shared::App;
use shared_testkit::harness::TestApp;

async fn outbox_events(
    app: &App,
    queue: &shared_testkit::memory::MemoryQueue,
) -> Vec<shared::outbox::DomainEvent> {
    let mut events = Vec::new();
    for (body, _) in queue.drain(QueueName::Delivery) {
        let env: QueueEnvelope = serde_json::from_str(&body).unwrap();
        if let QueueMessage::FanOut { outbox_id, .. } = env.message {
            events.extend(
                app.outbox
                    .get_outbox(&outbox_id)
                    .await
                    .unwrap()
                    .unwrap()
                    .events,
            );
        }
    }
    events
}

#[tokio::test]
async fn booking_created_carries_the_user_when_the_contact_is_a_user() {
    let bookings = TestApp::new().await.serve(bookings_api::router);
    let users = bookings.api(users_api::router);
    let (app, queue) = (&bookings.app, &bookings.queue);
    let user = users
        .post(
            "/api/users",
            json!({ "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com" }),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.body);
    let user_id = user.str_at("/user/id");
    bookings.put_exam("e1", 5).await;
    queue.drain(QueueName::Delivery);

    let r = bookings
        .post(
            "/api/bookings",
            json!({ "mockExamId": "e1", "contactId": user_id }),
        )
        .await;
    assert_eq!(r.status, 201);
    let booking_id = r.str_at("/booking/id");
    let events = outbox_events(app, queue).await;
    let created = events
        .iter()
        .find(|e| e.event_type == "booking.created")
        .unwrap();
    assert_eq!(created.data["user"]["id"], user_id.as_str());
    assert_eq!(created.data["user"]["email"], "ada@example.com");
    assert_eq!(created.data["booking"]["id"], booking_id.as_str());
    let changed = events
        .iter()
        .find(|e| e.event_type == "mock_exam.bookings_changed")
        .unwrap();
    assert_eq!(changed.data["mockExam"]["totalBookings"], 1);

    let r = bookings
        .post(
            &format!("/api/bookings/{booking_id}/qr/scan"),
            json!({ "scannedBy": "door" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let events = outbox_events(app, queue).await;
    assert_eq!(events[0].event_type, "qr.scanned");
    assert_eq!(events[0].data["user"]["id"], user_id.as_str());
    assert_eq!(events[0].data["scannedBy"], "door");

    // A contact that is not a user id gives user: null.
    let r = bookings
        .post(
            "/api/bookings",
            json!({ "mockExamId": "e1", "contactId": "hubspot-123" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let events = outbox_events(app, queue).await;
    let created = events
        .iter()
        .find(|e| e.event_type == "booking.created")
        .unwrap();
    assert!(created.data["user"].is_null());
}
