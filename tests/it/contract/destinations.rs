//! Contract of `DestinationTableStore` (a sync job's own DynamoDB table, DESIGN §8): every
//! behaviour runs against the in-memory fake (`fake::…`) and the DynamoDB adapter on moto
//! (`dynamo::…`, with a real `sync-dest-…` table created per test).

use serde_json::{json, Value};
use shared::inbound::destination::{TableTarget, TableWrite};
use shared::inbound::domain::{Record, Source, SyncMetadata};
use shared::inbound::ports::{DestinationTableStore, RecordStore};
use shared_aws::table::DynamoStore;
use shared_testkit::MemoryStore;

shared_testkit::contract!(
    an_upsert_writes_the_item_with_its_fields_and_metadata,
    an_older_event_never_overwrites_the_item,
    a_delete_deletes_and_a_late_older_upsert_does_not_resurrect,
    equal_times_later_arrival_wins,
    a_missing_table_is_refused_and_nothing_is_written,
    another_key_schema_is_refused_and_nothing_is_written,
    items_are_keyed_by_type_and_id_in_the_key_attribute,
);

const WS: &str = "ws_01hcontractdest000000000000";
const JOB: &str = "job_01hcontractdest00000000000";

/// A subject that can create destination tables.
trait Tables: DestinationTableStore + RecordStore {
    async fn table(&self, key_attribute: &str) -> TableTarget;
}

impl Tables for MemoryStore {
    async fn table(&self, key_attribute: &str) -> TableTarget {
        let name = shared_testkit::moto::unique("sync-dest-c");
        self.create_destination_table(&name, key_attribute);
        TableTarget {
            table_name: name,
            key_attribute: key_attribute.into(),
        }
    }
}

impl Tables for DynamoStore {
    async fn table(&self, key_attribute: &str) -> TableTarget {
        let name = shared_testkit::moto::unique("sync-dest-c");
        shared_testkit::moto::create_destination_table(self.client(), &name, key_attribute).await;
        TableTarget {
            table_name: name,
            key_attribute: key_attribute.into(),
        }
    }
}

fn rec(id: &str, ec_second: u32, seq: &str, deleted: bool, email: &str) -> Record {
    Record {
        object_type: "customer".into(),
        object_id: id.into(),
        data: (!deleted).then(|| json!({"id": id, "email": email, "balance": 10, "tags": ["a"]})),
        meta: SyncMetadata {
            source: Source::Stripe,
            event_id: format!("evt_{seq}"),
            inbound_event_id: format!("iev_{seq}"),
            event_type: if deleted {
                "customer.deleted"
            } else {
                "customer.updated"
            }
            .into(),
            event_created: format!("2024-01-01T00:00:{ec_second:02}.000000Z"),
            synced_at: "2024-01-01T00:01:00.000000Z".into(),
            deleted,
        },
    }
}

async fn item<S: Tables>(store: &S, t: &TableTarget, id: &str) -> Option<Value> {
    store.get_table_item(t, "customer", id).await.unwrap()
}

async fn an_upsert_writes_the_item_with_its_fields_and_metadata<S: Tables>(store: &S) {
    let t = store.table("id").await;
    let w = store
        .apply_to_table(WS, JOB, &t, &rec("cus_1", 1, "a", false, "a@example.com"))
        .await
        .unwrap();
    assert_eq!(w, TableWrite::Applied);
    let got = item(store, &t, "cus_1").await.expect("item written");
    assert_eq!(got["email"], "a@example.com");
    assert_eq!(got["balance"], 10);
    assert_eq!(got["tags"], json!(["a"]));
    assert_eq!(got["_sync_metadata"]["event_id"], "evt_a");
    assert_eq!(got["_sync_metadata"]["deleted"], false);
    // The ledger keeps the ordering state, not the fields.
    let ledger = store
        .get_record(WS, JOB, "customer", "cus_1")
        .await
        .unwrap()
        .expect("ledger");
    assert_eq!(ledger.meta.inbound_event_id, "iev_a");
    assert_eq!(ledger.data, None);
}

async fn an_older_event_never_overwrites_the_item<S: Tables>(store: &S) {
    let t = store.table("id").await;
    let newer = rec("cus_1", 5, "b", false, "new@example.com");
    let older = rec("cus_1", 3, "c", false, "old@example.com");
    assert_eq!(
        store.apply_to_table(WS, JOB, &t, &newer).await.unwrap(),
        TableWrite::Applied
    );
    assert_eq!(
        store.apply_to_table(WS, JOB, &t, &older).await.unwrap(),
        TableWrite::Unchanged
    );
    assert_eq!(
        item(store, &t, "cus_1").await.unwrap()["email"],
        "new@example.com"
    );
}

async fn a_delete_deletes_and_a_late_older_upsert_does_not_resurrect<S: Tables>(store: &S) {
    let t = store.table("id").await;
    store
        .apply_to_table(WS, JOB, &t, &rec("cus_1", 1, "a", false, "a@example.com"))
        .await
        .unwrap();
    let delete = rec("cus_1", 5, "b", true, "");
    assert_eq!(
        store.apply_to_table(WS, JOB, &t, &delete).await.unwrap(),
        TableWrite::Applied
    );
    assert_eq!(item(store, &t, "cus_1").await, None, "deletes delete");
    // An update created before the delete, arriving after it: the tombstone wins.
    let late = rec("cus_1", 4, "c", false, "late@example.com");
    assert_eq!(
        store.apply_to_table(WS, JOB, &t, &late).await.unwrap(),
        TableWrite::Unchanged
    );
    assert_eq!(item(store, &t, "cus_1").await, None);
    let tomb = store
        .get_record(WS, JOB, "customer", "cus_1")
        .await
        .unwrap()
        .unwrap();
    assert!(tomb.meta.deleted, "the ledger keeps the tombstone");
}

async fn equal_times_later_arrival_wins<S: Tables>(store: &S) {
    let t = store.table("id").await;
    store
        .apply_to_table(
            WS,
            JOB,
            &t,
            &rec("cus_1", 2, "b", false, "first@example.com"),
        )
        .await
        .unwrap();
    let later = rec("cus_1", 2, "c", false, "second@example.com");
    assert_eq!(
        store.apply_to_table(WS, JOB, &t, &later).await.unwrap(),
        TableWrite::Applied
    );
    let earlier = rec("cus_1", 2, "a", false, "zeroth@example.com");
    assert_eq!(
        store.apply_to_table(WS, JOB, &t, &earlier).await.unwrap(),
        TableWrite::Unchanged
    );
    assert_eq!(
        item(store, &t, "cus_1").await.unwrap()["email"],
        "second@example.com"
    );
}

async fn a_missing_table_is_refused_and_nothing_is_written<S: Tables>(store: &S) {
    let t = TableTarget {
        table_name: shared_testkit::moto::unique("sync-dest-missing"),
        key_attribute: "id".into(),
    };
    let w = store
        .apply_to_table(WS, JOB, &t, &rec("cus_9", 1, "a", false, "a@example.com"))
        .await
        .unwrap();
    match w {
        TableWrite::Refused(why) => {
            assert!(
                why.contains(&t.table_name) && why.contains("does not exist"),
                "{why}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        store
            .get_record(WS, JOB, "customer", "cus_9")
            .await
            .unwrap()
            .is_none(),
        "the ledger is written only with the item"
    );
}

async fn another_key_schema_is_refused_and_nothing_is_written<S: Tables>(store: &S) {
    let mut t = store.table("pk").await;
    t.key_attribute = "id".into();
    let w = store
        .apply_to_table(WS, JOB, &t, &rec("cus_8", 1, "a", false, "a@example.com"))
        .await
        .unwrap();
    assert!(
        matches!(w, TableWrite::Refused(ref why) if why.contains("refused the item")),
        "{w:?}"
    );
    assert!(store
        .get_record(WS, JOB, "customer", "cus_8")
        .await
        .unwrap()
        .is_none());
}

async fn items_are_keyed_by_type_and_id_in_the_key_attribute<S: Tables>(store: &S) {
    let t = store.table("recordKey").await;
    store
        .apply_to_table(WS, JOB, &t, &rec("cus_7", 1, "a", false, "a@example.com"))
        .await
        .unwrap();
    let got = item(store, &t, "cus_7").await.unwrap();
    assert_eq!(got["recordKey"], "customer#cus_7");
    assert_eq!(got["id"], "cus_7", "the object's own id stays a field");
}
