//! Users API handlers against the in-memory fakes: CRUD and events, the admin list, exports
//! (direct and job) with their audit, consent filtering, GDPR erase, tenant isolation.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shared_testkit::harness::TestApp;

use shared::bookings::ports::NewBooking;
use shared::bookings::{Booking, ExamInput};
use shared::outbox::OutboxRecord;
use shared::queue::QueueName;
use shared::App;
use shared_testkit::fixtures::{booking, new_booking};
use shared_testkit::harness::{call, call_bytes, workspace, RawReply};

struct Env {
    t: TestApp,
}

shared_testkit::deref_test_app!(Env);

async fn env() -> Env {
    Env {
        t: TestApp::new().await.serve(users_api::router),
    }
}

impl Env {
    async fn create(&self, body: Value) -> Value {
        let r = self.post("/api/users", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["user"].clone()
    }

    /// A GET with the key whose body is kept as bytes (the exports).
    async fn raw(&self, path: &str) -> RawReply {
        let auth = format!("Bearer {}", self.key);
        call_bytes(
            &self.router,
            "GET",
            path,
            &[("authorization", &auth)],
            Vec::new(),
        )
        .await
    }

    /// Event types handed to the delivery queue since the last call (via the outbox).
    async fn event_types(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (body, _) in self.queue.drain(QueueName::Delivery) {
            let v: Value = serde_json::from_str(&body).unwrap();
            let id = v["outboxId"].as_str().unwrap_or_default().to_owned();
            if let Some(rec) = self.app.outbox.get_outbox(&id).await.unwrap() {
                out.extend(rec.events.into_iter().map(|e| e.event_type));
            }
        }
        out
    }

    async fn book(&self, exam: &str, contact: &str) -> Booking {
        let now = shared::time::now_string();
        self.app
            .bookings
            .put_exam(
                &self.ws,
                exam,
                &ExamInput {
                    name: "Exam".into(),
                    capacity: 10,
                    exam_date: None,
                },
                &now,
            )
            .await
            .unwrap();
        let mut b = booking(exam, contact, &now);
        b.qr_code.code = "CODE".into();
        self.app
            .bookings
            .create_booking(&NewBooking {
                outbox: OutboxRecord::new(&self.ws, &now),
                ..new_booking(&self.ws, b.clone())
            })
            .await
            .unwrap();
        b
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn create_answers_201_with_the_seed_user_object_and_emits_user_created() {
    let e = env().await;
    let u = e
        .create(json!({
            "firstName": "John", "lastName": "Doe", "email": "John@Example.com",
            "phone": "+1234567890", "instagramUsername": "johndoe", "manychatId": "123",
            "optIns": {"messenger": true}, "exportConsent": {"given": true},
            "tags": ["vip"], "customFields": {"favorite_drink": "Cappuccino", "visit_count": "5"}
        }))
        .await;
    for k in [
        "id",
        "manychatId",
        "instagramUsername",
        "instagramId",
        "firstName",
        "lastName",
        "fullName",
        "email",
        "phone",
        "whatsappPhone",
        "gender",
        "locale",
        "timezone",
        "profilePic",
        "optIns",
        "exportConsent",
        "tags",
        "customFields",
        "interactions",
        "stats",
        "timestamps",
    ] {
        assert!(u.get(k).is_some(), "missing {k}: {u}");
    }
    assert_eq!(u["fullName"], "John Doe");
    assert_eq!(u["optIns"]["messenger"], true);
    assert_eq!(u["exportConsent"]["given"], true);
    assert!(u["exportConsent"]["at"].is_string());
    assert_eq!(u["tags"][0]["name"], "vip");
    assert!(u["tags"][0]["appliedAt"].is_string());
    assert_eq!(u["stats"]["bookingsCount"], 0);
    assert!(u["timestamps"]["createdAt"].is_string());
    assert_eq!(e.event_types().await, ["user.created"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn emails_are_unique_per_workspace_case_insensitively() {
    let e = env().await;
    e.create(json!({"email": "ann@example.com"})).await;
    let r = e
        .post("/api/users", json!({"email": "ANN@example.COM"}))
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.error_code(), "email_taken");
    // Another workspace may use it.
    let (_, key2) = workspace(&e.app, "other").await;
    let r = e
        .with_key(&key2)
        .post("/api/users", json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(r.status, 201);
    // A PATCH onto a taken address is refused too.
    let b = e.create(json!({"email": "bob@example.com"})).await;
    let r = e
        .patch(
            &format!("/api/users/{}", b["id"].as_str().unwrap()),
            json!({"email": "Ann@Example.com"}),
        )
        .await;
    assert_eq!(r.status, 409);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_a_400_naming_the_field() {
    let e = env().await;
    for (body, field) in [
        (json!({"email": "not-an-email"}), "email"),
        (json!({"email": "a@b.co", "tags": "vip"}), "tags"),
        (
            json!({"email": "a@b.co", "optIns": {"messenger": "yes"}}),
            "optIns",
        ),
        (
            json!({"email": "a@b.co", "customFields": {"x": [1]}}),
            "customFields.x",
        ),
        (
            json!({"email": "a@b.co", "profilePic": "ftp://x/y.png"}),
            "profilePic",
        ),
    ] {
        let r = e.post("/api/users", body.clone()).await;
        assert_eq!(r.status, 400, "{body}");
        let msg = r.error_message();
        assert!(msg.contains(field), "{body}: {msg}");
    }
    assert_eq!(e.store.outbox_len(), 0, "no partial write");
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_emits_updated_with_changes_and_tag_and_field_events() {
    let e = env().await;
    let u = e
        .create(json!({"email": "a@b.co", "firstName": "Ann", "tags": ["vip", "old"], "customFields": {"drink": "latte"}}))
        .await;
    e.event_types().await;
    let path = format!("/api/users/{}", u["id"].as_str().unwrap());
    let r = e
        .patch(
            &path,
            json!({"firstName": "Anne", "tags": ["VIP", "new"], "customFields": {"drink": "tea"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["firstName"], "Anne");
    assert_eq!(
        e.event_types().await,
        [
            "user.updated",
            "tag.added",
            "tag.removed",
            "customfield.updated"
        ]
    );
    let id = u["id"].as_str().unwrap();
    // A PATCH that changes nothing writes nothing.
    let r = e.patch(&path, json!({"firstName": "Anne"})).await;
    assert_eq!(r.status, 200);
    assert!(e.event_types().await.is_empty());
    let r = e.get(&format!("/api/users/{id}")).await;
    assert_eq!(r.body["user"]["tags"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_and_unknown_users_are_404() {
    let e = env().await;
    let u = e.create(json!({"email": "a@b.co"})).await;
    let path = format!("/api/users/{}", u["id"].as_str().unwrap());
    let (_, key2) = workspace(&e.app, "other").await;
    let other = e.with_key(&key2);
    for method in ["GET", "PATCH", "DELETE"] {
        let body = (method == "PATCH").then(|| json!({"firstName": "x"}));
        let r = other.call(method, &path, body).await;
        assert_eq!(r.status, 404, "{method}");
    }
    assert_eq!(e.get("/api/users/usr_nope").await.status, 404);
    let r = other.get("/api/admin/users").await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), 0);
    let r = call(&e.router, "GET", "/api/users/x", None, None).await;
    assert_eq!(r.status, 401);
}

async fn seed_list(e: &Env) -> Vec<String> {
    let mut ids = Vec::new();
    for body in shared_testkit::fixtures::listed_users() {
        let u = e.create(body).await;
        ids.push(u["id"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    ids
}

async fn names(e: &Env, query: &str) -> Vec<String> {
    let r = e.get(&format!("/api/admin/users?{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["firstName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_and_sorts_table() {
    let e = env().await;
    seed_list(&e).await;
    for (q, want) in [
        ("", vec!["Eve", "dora", "Bob", "alice", "Carl"]),
        ("sortOrder=asc", vec!["Carl", "alice", "Bob", "dora", "Eve"]),
        ("hasTag=vip", vec!["Eve", "Bob", "Carl"]),
        ("hasTag=new&sortOrder=asc", vec!["Bob", "dora"]),
        ("exportConsentOnly=true", vec!["Eve", "Bob", "Carl"]),
        ("optedIn=messenger", vec!["dora", "Carl"]),
        ("search=AL", vec!["alice"]),
        (
            "search=x.io&customField%5Blevel%5D=gold",
            vec!["Eve", "Bob", "Carl"],
        ),
        (
            "hasTag=vip&exportConsentOnly=true&optedIn=telegram",
            vec!["Bob"],
        ),
        (
            "sortBy=firstName&sortOrder=asc",
            vec!["alice", "Bob", "Carl", "dora", "Eve"],
        ),
        (
            "sortBy=lastName&sortOrder=desc",
            vec!["Eve", "dora", "Bob", "alice", "Carl"],
        ),
        (
            "sortBy=updatedAt&sortOrder=asc",
            vec!["Carl", "alice", "Bob", "dora", "Eve"],
        ),
        ("createdAfter=2999-01-01", vec![]),
        ("createdBefore=2000-01-01", vec![]),
        ("updatedAfter=2000-01-01&limit=2", vec!["Eve", "dora"]),
    ] {
        assert_eq!(names(&e, q).await, want, "{q}");
    }
    let r = e.get("/api/admin/users?limit=2&fields=email").await;
    let first = &r.body["users"][0];
    assert_eq!(first.as_object().unwrap().len(), 2, "{first}");
    assert_eq!(r.body["pagination"]["total"], 5);
    assert_eq!(r.body["pagination"]["hasMore"], true);
    let r = e.get("/api/admin/users?hasTag=vip").await;
    assert!(
        r.body["pagination"]["total"].is_null(),
        "total only without a scan"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cursor_and_offset_pagination_walk_every_user_once() {
    let e = env().await;
    let ids = seed_list(&e).await;
    for q in [
        "",
        "sortBy=firstName",
        "hasTag=vip&sortOrder=asc",
        "search=x.io",
        "sortBy=updatedAt",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/admin/users?limit=2&{q}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let r = e.get(&path).await;
            assert_eq!(r.status, 200, "{}", r.body);
            for u in r.body["users"].as_array().unwrap() {
                seen.push(u["id"].as_str().unwrap().to_owned());
            }
            match r.body["pagination"]["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let all = names(&e, q).await.len();
        assert_eq!(seen.len(), all, "{q}");
        let mut dedup = seen.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), seen.len(), "{q}: duplicates");
    }
    // Offset, and a user id as cursor (seed 001).
    assert_eq!(names(&e, "offset=3").await, ["alice", "Carl"]);
    let after_eve = names(&e, &format!("cursor={}", ids[4])).await;
    assert_eq!(after_eve, ["dora", "Bob", "alice", "Carl"]);
    // A cursor of another query is refused.
    let r = e.get("/api/admin/users?limit=1").await;
    let c = r.body["pagination"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = e
        .get(&format!("/api/admin/users?hasTag=vip&cursor={c}"))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_list_parameters_are_400_naming_them() {
    let e = env().await;
    for (q, p) in [
        ("limit=5000", "limit"),
        ("createdAfter=tomorrow", "createdAfter"),
        ("optedIn=email", "optedIn"),
        ("sortBy=age", "sortBy"),
        ("cursor=%%%", "cursor"),
    ] {
        let r = e.get(&format!("/api/admin/users?{q}")).await;
        assert_eq!(r.status, 400, "{q}");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(p),
            "{q}: {}",
            r.body
        );
    }
    let r = e
        .get("/api/admin/export/users/csv?exportConsentOnly=perhaps")
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_export_honours_consent_and_is_audited_with_the_hash_of_its_bytes() {
    let e = env().await;
    seed_list(&e).await;
    let RawReply {
        status,
        headers,
        bytes: body,
    } = e
        .raw("/api/admin/export/users/csv?exportConsentOnly=true")
        .await;
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(body.clone()).unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter().all(|r| &r[15] == "true"),
        "only consenting users"
    );
    let hash = sha(&body);
    assert_eq!(headers["x-export-sha256"].to_str().unwrap(), hash);
    let r = e.get("/api/admin/exports").await;
    let ex = &r.body["exports"][0];
    assert_eq!(ex["sha256"], hash);
    assert_eq!(ex["rowCount"], 3);
    assert_eq!(ex["format"], "csv");
    assert_eq!(ex["filters"]["exportConsentOnly"], true);
    assert!(ex["apiKeyId"].as_str().unwrap().starts_with("key_"));
    assert_eq!(ex["fields"][0], "id");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_export_includes_bookings_and_qr_codes_on_request() {
    let e = env().await;
    let u = e
        .create(json!({"email": "a@b.co", "exportConsent": {"given": true}}))
        .await;
    let id = u["id"].as_str().unwrap();
    e.book("exam1", id).await;
    let RawReply {
        status,
        headers,
        bytes: body,
    } = e
        .raw("/api/admin/export/users/json?includeBookings=true&includeQRCodes=true&limit=10")
        .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["count"], 1);
    assert!(v["exportedAt"].is_string());
    assert_eq!(v["users"][0]["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(v["users"][0]["qrCodes"][0]["qrCode"]["code"], "CODE");
    assert_eq!(v["users"][0]["stats"]["bookingsCount"], 1);
    assert_eq!(headers["x-export-sha256"].to_str().unwrap(), sha(&body));
}

#[tokio::test(flavor = "multi_thread")]
async fn async_export_becomes_a_job_whose_file_hash_is_audited() {
    let e = env().await;
    seed_list(&e).await;
    let r = e
        .get("/api/admin/export/users/csv?async=true&hasTag=vip")
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["export"]["status"], "pending");
    let id = r.body["export"]["id"].as_str().unwrap().to_owned();
    let msgs = e.queue.drain(QueueName::Export);
    assert_eq!(msgs.len(), 1);
    assert!(run_export(&e.app, &msgs[0].0).await, "job ran");
    let r = e.get(&format!("/api/admin/exports/{id}")).await;
    let ex = &r.body["export"];
    assert_eq!(ex["status"], "done", "{ex}");
    assert_eq!(ex["rowCount"], 3);
    assert!(ex["downloadUrl"].as_str().unwrap().starts_with("memory://"));
    let key = format!("exports/{}/{id}.csv", e.ws);
    let bytes = e.app.blobs.read_all(&key).await.unwrap();
    assert_eq!(ex["sha256"], sha(&bytes));
    // The same export served directly has the same bytes.
    let direct = e.raw("/api/admin/export/users/csv?hasTag=vip").await.bytes;
    let strip = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    assert_eq!(strip(&direct), strip(&bytes));
    // Redelivery of a finished job does nothing.
    assert!(run_export(&e.app, &msgs[0].0).await);
}

/// GDPR right of access (seed 001): `userId` exports exactly that user, with bookings on
/// request and an audit record naming it; an unknown or erased user is a 404; a malformed id
/// a 400 naming `userId`; an async job exports the same one user.
#[tokio::test(flavor = "multi_thread")]
async fn json_export_of_one_user_by_user_id() {
    let e = env().await;
    seed_list(&e).await;
    let u = e
        .create(json!({"email": "subject@example.com", "firstName": "Ada"}))
        .await;
    let id = u["id"].as_str().unwrap().to_owned();
    e.book("exam1", &id).await;
    let RawReply {
        status,
        headers,
        bytes,
    } = e
        .raw(&format!(
            "/api/admin/export/users/json?userId={id}&includeBookings=true"
        ))
        .await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["count"], 1, "{v}");
    assert_eq!(v["users"][0]["id"], id);
    assert_eq!(v["users"][0]["email"], "subject@example.com");
    assert_eq!(v["users"][0]["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(headers["x-export-sha256"].to_str().unwrap(), sha(&bytes));
    let audit = e.get("/api/admin/exports").await;
    assert_eq!(
        audit.body["exports"][0]["filters"]["userId"], id,
        "{}",
        audit.body
    );
    assert_eq!(audit.body["exports"][0]["rowCount"], 1);
    // Filters still apply: this user gave no export consent.
    let r = e
        .raw(&format!(
            "/api/admin/export/users/json?userId={id}&exportConsentOnly=true"
        ))
        .await;
    let v: Value = serde_json::from_slice(&r.bytes).unwrap();
    assert_eq!(v["count"], 0);
    // A job exports the same single user.
    let r = e
        .get(&format!(
            "/api/admin/export/users/json?userId={id}&async=true"
        ))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job = r.body["export"]["id"].as_str().unwrap().to_owned();
    let msgs = e.queue.drain(QueueName::Export);
    assert!(run_export(&e.app, &msgs[0].0).await);
    let ex = e.get(&format!("/api/admin/exports/{job}")).await.body;
    assert_eq!(ex["export"]["rowCount"], 1, "{ex}");
    // Bad and unknown ids.
    let r = e.get("/api/admin/export/users/json?userId=nope").await;
    assert_eq!((r.status, r.error_code()), (400, "validation_error"));
    assert!(r.error_message().contains("userId"));
    let r = e
        .get("/api/admin/export/users/json?userId=usr_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await;
    assert_eq!((r.status, r.error_code()), (404, "not_found"));
    e.delete(&format!("/api/users/{id}")).await;
    let r = e
        .get(&format!("/api/admin/export/users/json?userId={id}"))
        .await;
    assert_eq!(r.status, 404, "an erased user has nothing left to access");
}

/// Runs one export message through the worker's code path (shared::users::export).
async fn run_export(app: &App, body: &str) -> bool {
    let msg: shared::users::ExportMessage = serde_json::from_str(body).unwrap();
    shared::users::export::run_job(app, &msg).await.is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn erase_removes_personal_data_unlinks_bookings_and_emits_user_deleted() {
    let e = env().await;
    let u = e
        .create(json!({"email": "secret.person@example.com", "firstName": "Secretia", "phone": "+44 1234 5678", "tags": ["vip"], "exportConsent": {"given": true}}))
        .await;
    let id = u["id"].as_str().unwrap().to_owned();
    let path = format!("/api/users/{id}");
    e.patch(&path, json!({"lastName": "Hidden"})).await;
    let booking = e.book("exam1", &id).await;
    e.event_types().await;
    let r = e.delete(&path).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"], json!({"id": id, "deleted": true}));
    assert_eq!(e.event_types().await, ["user.deleted"]);
    assert_eq!(e.get(&path).await.status, 404);
    assert_eq!(e.delete(&path).await.status, 404);
    assert!(e.store.user_tombstone(&e.ws, &id).is_some());
    // Bookings keep existing (counts stay right) without the link to the person.
    let b = e
        .app
        .bookings
        .get_booking(&e.ws, &booking.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.contact_id, None);
    assert_eq!(
        e.app
            .bookings
            .get_exam(&e.ws, "exam1")
            .await
            .unwrap()
            .unwrap()
            .total_bookings,
        1
    );
    // No outbox record (pending outbound payloads) still carries the personal data.
    let mut leaked = 0;
    e.store.redact_outbox(|r| {
        let s = serde_json::to_string(r).unwrap();
        if ["secret.person", "Secretia", "Hidden", "1234 5678"]
            .iter()
            .any(|p| s.contains(p))
        {
            leaked += 1;
        }
        false
    });
    assert_eq!(leaked, 0);
    // Lists, exports and the email index forget the user; the address is free again.
    assert!(names(&e, "").await.is_empty());
    let csv = e.raw("/api/admin/export/users/csv").await.bytes;
    assert!(!String::from_utf8(csv).unwrap().contains("secret.person"));
    e.create(json!({"email": "secret.person@example.com"}))
        .await;
}

/// Seed 001 names the consent fields flat (`exportConsentGiven`, `exportConsentAt`): they are
/// accepted beside `exportConsent {given}`; the time is always the server's; a contradiction
/// or a malformed time is a 400 naming the field.
#[tokio::test]
async fn the_seeds_flat_export_consent_fields_are_accepted() {
    let e = env().await;
    let u = e
        .create(
            json!({ "email": "flat@example.com", "exportConsentGiven": true,
                        "exportConsentAt": "2024-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(u["exportConsent"]["given"], true, "{u}");
    let at = u["exportConsent"]["at"].as_str().unwrap();
    assert_ne!(at, "2024-01-01T00:00:00Z", "the time is the server's");
    let id = u["id"].as_str().unwrap();
    let patch = |body: Value| {
        let e = &e;
        async move {
            call(
                &e.router,
                "PATCH",
                &format!("/api/users/{id}"),
                Some(&e.key),
                Some(body),
            )
            .await
        }
    };
    let r = patch(json!({ "exportConsentGiven": false })).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["user"]["exportConsent"]["given"], false);
    assert_eq!(r.body["user"]["exportConsent"]["at"], Value::Null);
    for (body, named) in [
        (
            json!({ "exportConsent": {"given": true}, "exportConsentGiven": false }),
            "exportConsentGiven",
        ),
        (
            json!({ "exportConsentGiven": true, "exportConsentAt": "yesterday" }),
            "exportConsentAt",
        ),
    ] {
        let r = patch(body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(named), "{body}: {msg}");
    }
    // Nothing was written by the refused patches.
    let r = e.get(&format!("/api/users/{id}")).await;
    assert_eq!(r.body["user"]["exportConsent"]["given"], false);
}
