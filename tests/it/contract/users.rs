//! Contract of `UserStore`, `ExportStore` and `BlobStore`: every behaviour is written once
//! and runs against the in-memory fakes (`fake::…`) and DynamoDB / S3 on moto (`dynamo::…`).
//! The list table runs the shared paging engine over both stores.

use serde_json::json;
use shared::bookings::ports::{BookingStore, NewBooking};
use shared::bookings::{Booking, ExamInput};
use shared::error::AppError;
use shared::outbox::ports::OutboxStore;
use shared::outbox::OutboxRecord;
use shared::patch::Patch;
use shared::time::now_string;
use shared::users::export::new_record;
use shared::users::query::{list_page, parse_list_params, query_pairs, IndexScan, UserIndex};
use shared::users::{
    created_event, outbox_with, update_events, BlobStore, ExportFormat, ExportMode, ExportStatus,
    ExportStore, User, UserInput, UserStore,
};
use shared_testkit::fixtures::{booking, new_booking};

shared_testkit::contract!(
    a_created_user_reads_back_and_is_counted,
    emails_are_unique_case_insensitively_on_create_and_update,
    an_update_from_a_stale_version_conflicts,
    the_created_index_pages_in_both_directions_within_a_range,
    tag_consent_and_optin_indexes_follow_updates,
    list_filter_sort_cursor_table,
    erase_removes_the_user_unlinks_bookings_and_redacts_outbox_records,
    another_workspace_sees_nothing,
    exports_are_listed_newest_first_and_claimed_once,
);

const WS: &str = "ws_users_contract";

trait Store: UserStore + ExportStore + BookingStore + OutboxStore {}
impl<T: UserStore + ExportStore + BookingStore + OutboxStore + ?Sized> Store for T {}

async fn create<S: Store + ?Sized>(s: &S, ws: &str, body: serde_json::Value) -> User {
    let now = now_string();
    let input: UserInput = serde_json::from_value(body).unwrap();
    let u = input.create(&now).unwrap();
    let outbox = outbox_with(ws, vec![created_event(&u, &now)], &now);
    s.create_user(ws, &u, &outbox).await.unwrap();
    // Distinct creation times keep the order assertions meaningful.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    u
}

async fn patch<S: Store + ?Sized>(s: &S, ws: &str, old: &User, body: serde_json::Value) -> User {
    let now = now_string();
    let mut new = old.clone();
    serde_json::from_value::<UserInput>(body)
        .unwrap()
        .apply(&mut new, &now)
        .unwrap();
    new.version += 1;
    new.updated_at = now.clone();
    let outbox = outbox_with(ws, update_events(old, &new, &now), &now);
    s.update_user(ws, old, &new, &outbox).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    new
}

async fn a_created_user_reads_back_and_is_counted<S: Store + ?Sized>(s: &S) {
    let u = create(
        s,
        WS,
        json!({"email": "a@b.co", "tags": ["vip"], "customFields": {"n": 3, "s": "x", "b": true}}),
    )
    .await;
    let back = s.get_user(WS, &u.id).await.unwrap().unwrap();
    assert_eq!(back, u);
    assert_eq!(s.count_users(WS).await.unwrap(), 1);
    assert!(s.get_user(WS, "usr_missing").await.unwrap().is_none());
}

async fn emails_are_unique_case_insensitively_on_create_and_update<S: Store + ?Sized>(s: &S) {
    create(s, WS, json!({"email": "Ann@Example.com"})).await;
    let dup = UserInput {
        email: Patch::Value("ann@EXAMPLE.com".into()),
        ..UserInput::default()
    }
    .create(&now_string())
    .unwrap();
    let err = s
        .create_user(WS, &dup, &OutboxRecord::new(WS, &now_string()))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::EmailTaken), "{err:?}");
    let bob = create(s, WS, json!({"email": "bob@example.com"})).await;
    let mut moved = bob.clone();
    moved.email = Some("ANN@example.com".into());
    moved.version += 1;
    let err = s
        .update_user(WS, &bob, &moved, &OutboxRecord::new(WS, &now_string()))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::EmailTaken), "{err:?}");
    // Changing the address frees the old one.
    let bob2 = patch(s, WS, &bob, json!({"email": "robert@example.com"})).await;
    assert_eq!(bob2.email.as_deref(), Some("robert@example.com"));
    create(s, WS, json!({"email": "BOB@example.com"})).await;
}

async fn an_update_from_a_stale_version_conflicts<S: Store + ?Sized>(s: &S) {
    let u = create(s, WS, json!({"email": "a@b.co"})).await;
    patch(s, WS, &u, json!({"firstName": "New"})).await;
    let mut stale = u.clone();
    stale.first_name = Some("Other".into());
    stale.version += 1;
    let err = s
        .update_user(WS, &u, &stale, &OutboxRecord::new(WS, &now_string()))
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::TransactionConflict), "{err:?}");
}

fn scan(index: UserIndex, descending: bool, after: Option<String>, max: u32) -> IndexScan {
    IndexScan {
        index,
        from: None,
        to: None,
        descending,
        after,
        max,
    }
}

async fn all_ids<S: Store + ?Sized>(s: &S, ws: &str, mut sc: IndexScan) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let page = s.scan_users(ws, &sc).await.unwrap();
        out.extend(page.users.into_iter().map(|(_, u)| u.id));
        match page.last {
            Some(l) => sc.after = Some(l),
            None => return out,
        }
    }
}

async fn the_created_index_pages_in_both_directions_within_a_range<S: Store + ?Sized>(s: &S) {
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(s, WS, json!({"email": format!("u{i}@x.io")})).await);
    }
    let asc: Vec<String> = ids.iter().map(|u| u.id.clone()).collect();
    assert_eq!(
        all_ids(s, WS, scan(UserIndex::Created, false, None, 2)).await,
        asc
    );
    let mut desc = asc.clone();
    desc.reverse();
    assert_eq!(
        all_ids(s, WS, scan(UserIndex::Created, true, None, 2)).await,
        desc
    );
    let mut ranged = scan(UserIndex::Created, false, None, 10);
    ranged.from = Some(ids[1].created_at.clone());
    ranged.to = Some(ids[4].created_at.clone());
    assert_eq!(all_ids(s, WS, ranged).await, asc[1..4]);
}

async fn tag_consent_and_optin_indexes_follow_updates<S: Store + ?Sized>(s: &S) {
    let a = create(s, WS, json!({"email": "a@x.io", "tags": ["VIP"], "exportConsent": {"given": true}, "optIns": {"telegram": true}})).await;
    let b = create(s, WS, json!({"email": "b@x.io"})).await;
    let tag = || scan(UserIndex::Tag("vip".into()), false, None, 10);
    assert_eq!(all_ids(s, WS, tag()).await, vec![a.id.clone()]);
    patch(
        s,
        WS,
        &b,
        json!({"tags": ["vip"], "optIns": {"telegram": true}}),
    )
    .await;
    let a2 = patch(
        s,
        WS,
        &a,
        json!({"tags": [], "exportConsent": {"given": false}}),
    )
    .await;
    assert_eq!(all_ids(s, WS, tag()).await, vec![b.id.clone()]);
    assert!(all_ids(s, WS, scan(UserIndex::Consent, false, None, 10))
        .await
        .is_empty());
    assert_eq!(
        all_ids(
            s,
            WS,
            scan(UserIndex::OptIn("telegram".into()), false, None, 10)
        )
        .await,
        [a2.id.clone(), b.id.clone()]
    );
    // The by-updated index moves with every update.
    assert_eq!(
        all_ids(s, WS, scan(UserIndex::Updated, true, None, 10)).await,
        [a2.id.clone(), b.id.clone()]
    );
}

async fn list_filter_sort_cursor_table<S: Store>(s: &S) {
    for body in shared_testkit::fixtures::listed_users() {
        create(s, WS, body).await;
    }
    for (q, want) in [
        ("", vec!["Eve", "dora", "Bob", "alice", "Carl"]),
        ("sortOrder=asc", vec!["Carl", "alice", "Bob", "dora", "Eve"]),
        ("hasTag=vip", vec!["Eve", "Bob", "Carl"]),
        (
            "exportConsentOnly=true&sortOrder=asc",
            vec!["Carl", "Bob", "Eve"],
        ),
        ("optedIn=messenger", vec!["dora", "Carl"]),
        ("search=AL", vec!["alice"]),
        ("customField%5Blevel%5D=silver", vec!["dora", "alice"]),
        ("hasTag=vip&optedIn=telegram", vec!["Bob"]),
        (
            "sortBy=firstName&sortOrder=asc",
            vec!["alice", "Bob", "Carl", "dora", "Eve"],
        ),
        (
            "sortBy=updatedAt",
            vec!["Eve", "dora", "Bob", "alice", "Carl"],
        ),
        ("createdAfter=2999-01-01", vec![]),
        ("offset=3", vec!["alice", "Carl"]),
    ] {
        // Walk every page of 2 and compare the concatenation.
        let mut params = parse_list_params(&query_pairs(Some(&format!("limit=2&{q}")))).unwrap();
        let mut got = Vec::new();
        loop {
            let page = list_page(s, WS, &params).await.unwrap();
            got.extend(
                page.users
                    .into_iter()
                    .map(|u| u.first_name.unwrap_or_default()),
            );
            match page.next_cursor {
                Some(c) => {
                    params.cursor = Some(c);
                    params.offset = 0;
                }
                None => break,
            }
        }
        assert_eq!(got, want, "{q}");
    }
    let params = parse_list_params(&query_pairs(Some(""))).unwrap();
    assert_eq!(list_page(s, WS, &params).await.unwrap().total, Some(5));
}

async fn book<S: Store + ?Sized>(s: &S, contact: &str) -> Booking {
    let now = now_string();
    s.put_exam(
        WS,
        "exam1",
        &ExamInput {
            name: "E".into(),
            capacity: 5,
            exam_date: None,
        },
        &now,
    )
    .await
    .unwrap();
    let b = booking("exam1", contact, &now);
    s.create_booking(&NewBooking {
        outbox: OutboxRecord::new(WS, &now),
        ..new_booking(WS, b.clone())
    })
    .await
    .unwrap();
    b
}

async fn erase_removes_the_user_unlinks_bookings_and_redacts_outbox_records<S: Store + ?Sized>(
    s: &S,
) {
    let now = now_string();
    let input: UserInput = serde_json::from_value(
        json!({"email": "secret@x.io", "firstName": "Secretia", "tags": ["vip"]}),
    )
    .unwrap();
    let u = input.create(&now).unwrap();
    let first = outbox_with(WS, vec![created_event(&u, &now)], &now);
    s.create_user(WS, &u, &first).await.unwrap();
    let b = book(s, &u.id).await;
    assert_eq!(s.bookings_of(WS, &u.id).await.unwrap().len(), 1);
    let report = s
        .erase_user(WS, &u.id, &OutboxRecord::new(WS, &now), &now)
        .await
        .unwrap();
    assert_eq!(report.bookings_unlinked, 1);
    assert_eq!(report.outbox_records_redacted, 1);
    assert!(s.get_user(WS, &u.id).await.unwrap().is_none());
    assert!(s.bookings_of(WS, &u.id).await.unwrap().is_empty());
    assert_eq!(
        s.get_booking(WS, &b.id).await.unwrap().unwrap().contact_id,
        None
    );
    let rec = s.get_outbox(&first.id).await.unwrap().unwrap();
    assert_eq!(rec.events[0].data, json!({"user": {"id": u.id}}));
    assert_eq!(s.count_users(WS).await.unwrap(), 0);
    assert!(
        all_ids(s, WS, scan(UserIndex::Tag("vip".into()), false, None, 10))
            .await
            .is_empty()
    );
    // The booking still counts, and can still be cancelled (its marker was re-keyed).
    assert_eq!(s.list_active_bookings(WS, "exam1").await.unwrap().len(), 1);
    let seen = s.get_booking(WS, &b.id).await.unwrap().unwrap();
    s.cancel_booking(WS, &seen, &OutboxRecord::new(WS, &now), &now)
        .await
        .unwrap();
    assert_eq!(
        s.get_exam(WS, "exam1")
            .await
            .unwrap()
            .unwrap()
            .total_bookings,
        0
    );
    assert!(s
        .list_active_bookings(WS, "exam1")
        .await
        .unwrap()
        .is_empty());
    let again = s
        .erase_user(WS, &u.id, &OutboxRecord::new(WS, &now), &now)
        .await;
    assert!(matches!(again, Err(AppError::NotFound(_))));
    // The address is free again.
    create(s, WS, json!({"email": "SECRET@x.io"})).await;
}

async fn another_workspace_sees_nothing<S: Store + ?Sized>(s: &S) {
    let u = create(s, WS, json!({"email": "a@x.io", "tags": ["vip"]})).await;
    let other = "ws_other";
    assert!(s.get_user(other, &u.id).await.unwrap().is_none());
    assert_eq!(s.count_users(other).await.unwrap(), 0);
    assert!(all_ids(s, other, scan(UserIndex::Created, true, None, 10))
        .await
        .is_empty());
    assert!(
        all_ids(s, other, scan(UserIndex::Tag("vip".into()), true, None, 10))
            .await
            .is_empty()
    );
    // The same address is free in another workspace.
    create(s, other, json!({"email": "a@x.io"})).await;
    let r = s
        .erase_user(
            other,
            &u.id,
            &OutboxRecord::new(other, &now_string()),
            &now_string(),
        )
        .await;
    assert!(matches!(r, Err(AppError::NotFound(_))));
    assert!(s.get_user(WS, &u.id).await.unwrap().is_some());
}

async fn exports_are_listed_newest_first_and_claimed_once<S: Store + ?Sized>(s: &S) {
    let q = shared::users::query::ExportQuery::default();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = new_record(
            WS,
            "key_1",
            ExportFormat::Csv,
            ExportMode::Job,
            &q,
            &now_string(),
        );
        s.create_export(&r).await.unwrap();
        ids.push(r.id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let p1 = s.list_exports(WS, None, 2).await.unwrap();
    assert_eq!(
        p1.items.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        [ids[2].clone(), ids[1].clone()]
    );
    let p2 = s
        .list_exports(WS, p1.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(p2.items[0].id, ids[0]);
    assert!(s
        .list_exports("ws_other", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
    let now = now_string();
    let claimed = s
        .claim_export(WS, &ids[0], &now, 1_000, 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.status, ExportStatus::Running);
    // A running job shows the rows written so far; a pending one records nothing.
    s.record_export_progress(WS, &ids[0], 1_234).await.unwrap();
    s.record_export_progress(WS, &ids[1], 99).await.unwrap();
    let row_count = |id: &str| {
        let id = id.to_owned();
        async move { s.get_export(WS, &id).await.unwrap().unwrap().row_count }
    };
    assert_eq!(row_count(&ids[0]).await, Some(1_234));
    assert_eq!(row_count(&ids[1]).await, None);
    assert!(
        s.claim_export(WS, &ids[0], &now, 1_500, 3_000)
            .await
            .unwrap()
            .is_none(),
        "claim held"
    );
    let mut re = s
        .claim_export(WS, &ids[0], &now, 2_500, 3_000)
        .await
        .unwrap()
        .expect("claim expired");
    re.status = ExportStatus::Done;
    re.sha256 = Some("ab".into());
    re.row_count = Some(2_000);
    s.finish_export(&re).await.unwrap();
    // A finished job keeps its final count.
    s.record_export_progress(WS, &ids[0], 5).await.unwrap();
    assert_eq!(row_count(&ids[0]).await, Some(2_000));
    assert!(s
        .claim_export(WS, &ids[0], &now, 9_000, 10_000)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.get_export(WS, &ids[0])
            .await
            .unwrap()
            .unwrap()
            .sha256
            .as_deref(),
        Some("ab")
    );
    assert!(s.get_export("ws_other", &ids[0]).await.unwrap().is_none());
}

// --- BlobStore: the fake and S3 on moto -------------------------------------------------------

async fn multipart_roundtrip(b: &dyn BlobStore) {
    let key = "exports/ws/exp_1.csv";
    let id = b.start_upload(key, "text/csv").await.unwrap();
    let part1 = vec![b'a'; 5 * 1024 * 1024];
    let e1 = b.upload_part(key, &id, 1, part1.clone()).await.unwrap();
    let e2 = b.upload_part(key, &id, 2, b"tail".to_vec()).await.unwrap();
    b.complete_upload(key, &id, &[(1, e1), (2, e2)])
        .await
        .unwrap();
    let all = b.read_all(key).await.unwrap();
    assert_eq!(all.len(), part1.len() + 4);
    assert!(all.ends_with(b"tail"));
    assert!(!b
        .presign_get(key, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .is_empty());
    // An aborted upload leaves no object.
    let id = b
        .start_upload("exports/ws/x.csv", "text/csv")
        .await
        .unwrap();
    b.upload_part("exports/ws/x.csv", &id, 1, b"x".to_vec())
        .await
        .unwrap();
    b.abort_upload("exports/ws/x.csv", &id).await.unwrap();
    assert!(b.read_all("exports/ws/x.csv").await.is_err());
}

#[tokio::test]
async fn fake_blob_store_multipart_roundtrip() {
    multipart_roundtrip(&shared_testkit::users::MemoryBlobStore::default()).await;
}

#[tokio::test]
async fn s3_blob_store_multipart_roundtrip_and_presigned_download() {
    let client = shared_testkit::moto::s3_client().await;
    let bucket = shared_testkit::moto::fresh_bucket(&client).await;
    let b = shared_testkit::moto::s3_blob_store(client, &bucket);
    multipart_roundtrip(&b).await;
    let url = b
        .presign_get("exports/ws/exp_1.csv", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(body.len(), 5 * 1024 * 1024 + 4);
}

/// Every item of the table after an erase, scanned for the user's personal data: the user,
/// its email and index items, its booking and active marker, the outbox records of its events
/// and a delivery made from one of them.
#[tokio::test]
async fn dynamo_erase_leaves_no_personal_data_in_any_item() {
    let store = shared_testkit::moto::fresh_store().await;
    let s = &store;
    let now = now_string();
    let input: UserInput = serde_json::from_value(json!({
        "email": "gdpr.sentinel@example.com", "firstName": "Sentinelia", "lastName": "Privatova",
        "phone": "+44 7700 900123", "instagramUsername": "sentinel_ig",
        "tags": ["vip"], "exportConsent": {"given": true}, "optIns": {"whatsapp": true},
        "customFields": {"secret_note": "Sentinel note"}
    }))
    .unwrap();
    let u = input.create(&now).unwrap();
    let created = created_event(&u, &now);
    s.create_user(WS, &u, &outbox_with(WS, vec![created.clone()], &now))
        .await
        .unwrap();
    let u2 = patch(
        s,
        WS,
        &u,
        json!({"lastName": "Privatova-Smith", "tags": ["vip", "gold"]}),
    )
    .await;
    book(s, &u.id).await;
    // A subscription and the delivery fan-out would have made from the create event.
    let sub_key = shared_aws::keys::subscription(WS, "wh_gdpr");
    let mut sub = shared_aws::table::key_attrs(&sub_key);
    sub.insert("id".into(), shared_aws::table::s("wh_gdpr"));
    let dkey = shared_aws::keys::delivery(
        WS,
        &shared::subscriptions::delivery_id_for(&created.id, "wh_gdpr"),
    );
    let mut delivery = shared_aws::table::key_attrs(&dkey);
    delivery.insert(
        "payload".into(),
        shared_aws::table::s(shared::subscriptions::payload_body(WS, &created, "api").unwrap()),
    );
    for item in [sub, delivery] {
        s.client()
            .put_item()
            .table_name(s.table())
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
    let report = s
        .erase_user(
            WS,
            &u2.id,
            &outbox_with(WS, vec![shared::users::deleted_event(&u.id, &now)], &now),
            &now,
        )
        .await
        .unwrap();
    assert_eq!(report.bookings_unlinked, 1);
    assert_eq!(
        report.outbox_records_redacted, 2,
        "create and patch records"
    );
    assert_eq!(report.deliveries_redacted, 1);
    let items = s
        .client()
        .scan()
        .table_name(s.table())
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(items.len() > 5, "the scan sees the table");
    let sentinels = [
        "gdpr.sentinel",
        "Sentinelia",
        "Privatova",
        "7700 900123",
        "sentinel_ig",
        "Sentinel note",
        &shared::users::email_key("gdpr.sentinel@example.com"),
    ];
    for item in &items {
        let text = format!("{item:?}");
        for p in sentinels {
            assert!(!text.contains(p), "{p:?} left in {text}");
        }
        // Nothing links to the person any more, except the tombstone's own key and id.
        let pk = shared_aws::table::str_attr(item, "pk").unwrap_or_default();
        if !pk.contains(&format!("USER#{}", u.id)) && !pk.starts_with("OUTBOX#") {
            assert!(!text.contains(&format!("ACTIVE#{}", u.id)), "{text}");
            assert!(
                !text.contains(&format!("contactId\": S(\"{}", u.id)),
                "booking link left in {text}"
            );
        }
    }
}
