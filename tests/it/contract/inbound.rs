//! Contract of the inbound ports (`SyncJobStore`, `InboundEventStore`, `RecordStore`,
//! `SyncExecutionStore`): every behaviour is written once and runs against the in-memory fake
//! (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use std::collections::BTreeMap;

use serde_json::json;
use shared::error::AppError;
use shared::inbound::domain::{
    ApplyOutcome, EventChange, EventError, EventStatus, Execution, InboundEvent, Record,
    SigningSecret, Source, SyncJob, SyncMetadata, WebhookConfig,
};
use shared::inbound::ports::{
    InboundEventStore, InsertOutcome, RecordStore, SyncExecutionStore, SyncJobStore,
};
use shared_testkit::contract::all_pages;
use shared_testkit::fixtures;

trait Store: SyncJobStore + InboundEventStore + RecordStore + SyncExecutionStore {}
impl<T: SyncJobStore + InboundEventStore + RecordStore + SyncExecutionStore> Store for T {}

shared_testkit::contract!(
    jobs_create_get_list_newest_first_and_page,
    job_update_is_conditional_on_the_version,
    job_delete_returns_the_job,
    event_insert_is_idempotent_on_the_provider_event_id,
    an_expired_event_is_absent_and_may_be_stored_again,
    a_large_raw_body_round_trips,
    events_list_newest_first_by_status_and_page,
    events_between_ids_oldest_first,
    find_event_by_our_id,
    update_event_changes_status_counts_attempts_keeps_errors,
    count_events_by_status_and_today,
    record_upsert_and_read_back,
    older_event_never_overwrites_a_record,
    equal_times_later_arrival_wins_except_over_a_tombstone,
    delete_leaves_a_tombstone_that_blocks_late_updates,
    concurrent_writes_end_on_the_newest,
    records_are_scoped_to_workspace_and_job,
    executions_list_newest_first_and_skip_expired,
    cursors_from_another_partition_are_refused,
    purging_a_job_removes_its_records_events_and_executions_only,
    an_automatic_retry_is_counted_and_its_time_cleared_by_the_next_change,
    a_job_keeps_its_previous_secret_and_jq_settings,
);

const WS: &str = "ws_01hcontract0000000000000000";
const JOB: &str = "job_01hcontract000000000000000";

fn now() -> i64 {
    shared::time::now().timestamp()
}

fn job(id: &str, version: i64) -> SyncJob {
    SyncJob {
        id: id.into(),
        workspace_id: WS.into(),
        name: format!("job {id}"),
        kind: "webhook".into(),
        source: Source::Stripe,
        enabled: true,
        webhook_config: WebhookConfig::default(),
        signing_secret: Some(SigningSecret::new("whsec_x")),
        previous_signing_secret: None,
        previous_secret_expires_at: None,
        destination: Default::default(),
        version,
        created_at: "2024-01-01T00:00:00.000Z".into(),
        updated_at: "2024-01-01T00:00:00.000Z".into(),
    }
}

fn event(iev: &str, provider: &str, status: EventStatus) -> InboundEvent {
    let raw_body = format!(r#"{{"id":"{provider}","type":"customer.updated"}}"#);
    InboundEvent {
        status,
        headers: BTreeMap::from([("stripe-signature".to_owned(), "t=1,v1=ab".to_owned())]),
        received_at: "2024-01-01T00:00:00.000Z".into(),
        updated_at: "2024-01-01T00:00:00.000Z".into(),
        expires_at: now() + 3600,
        ..fixtures::inbound_event(WS, JOB, iev, provider, raw_body)
    }
}

fn record(id: &str, ec: &str, seq: &str, deleted: bool, email: &str) -> Record {
    Record {
        object_type: "customer".into(),
        object_id: id.into(),
        data: (!deleted).then(
            || json!({ "id": id, "object": "customer", "email": email, "n": 12345678901234567u64 }),
        ),
        meta: SyncMetadata {
            source: Source::Stripe,
            event_id: format!("evt_{seq}"),
            inbound_event_id: seq.into(),
            event_type: if deleted {
                "customer.deleted"
            } else {
                "customer.updated"
            }
            .into(),
            event_created: ec.into(),
            synced_at: "2024-01-01T00:00:00.000Z".into(),
            deleted,
        },
    }
}

const T1: &str = "2024-01-01T00:00:01.000000Z";
const T2: &str = "2024-01-01T00:00:02.000000Z";

/// Inserts `n` processed events `iev_00`, `iev_01`, … (of `evt_0`, `evt_1`, …).
async fn insert_processed<S: Store + ?Sized>(s: &S, n: usize) {
    for i in 0..n {
        let ev = event(
            &format!("iev_0{i}"),
            &format!("evt_{i}"),
            EventStatus::Processed,
        );
        s.insert_event(&ev, now()).await.unwrap();
    }
}

/// Applies `r` in WS/JOB: its outcome.
async fn apply<S: Store + ?Sized>(s: &S, r: Record) -> ApplyOutcome {
    s.apply_record(WS, JOB, &r).await.unwrap()
}

/// The customer record `id` of WS/JOB, if any.
async fn stored<S: Store + ?Sized>(s: &S, id: &str) -> Option<Record> {
    s.get_record(WS, JOB, "customer", id).await.unwrap()
}

async fn email<S: Store + ?Sized>(s: &S, id: &str) -> Option<String> {
    stored(s, id)
        .await
        .and_then(|r| r.data)
        .map(|d| d["email"].as_str().unwrap().to_owned())
}

// --- jobs ------------------------------------------------------------------------------------

async fn jobs_create_get_list_newest_first_and_page<S: Store + ?Sized>(s: &S) {
    for i in 1..=3 {
        s.create_sync_job(&job(&format!("job_0{i}"), 1))
            .await
            .unwrap();
    }
    let got = s.get_sync_job(WS, "job_02").await.unwrap().unwrap();
    assert_eq!(got, job("job_02", 1));
    assert_eq!(got.signing_secret.unwrap().expose(), "whsec_x");
    assert!(s.get_sync_job(WS, "job_09").await.unwrap().is_none());
    let p1 = s.list_sync_jobs(WS, None, 2).await.unwrap();
    let ids: Vec<&str> = p1.items.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, vec!["job_03", "job_02"]);
    let p2 = s
        .list_sync_jobs(WS, p1.next_cursor.as_deref(), 2)
        .await
        .unwrap();
    let ids: Vec<&str> = p2.items.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, vec!["job_01"]);
    // (DynamoDB may answer one more, empty, page.)
    if let Some(c) = p2.next_cursor {
        assert!(s
            .list_sync_jobs(WS, Some(&c), 2)
            .await
            .unwrap()
            .items
            .is_empty());
    }
    assert!(s
        .list_sync_jobs("ws_other", None, 10)
        .await
        .unwrap()
        .items
        .is_empty());
}

async fn job_update_is_conditional_on_the_version<S: Store + ?Sized>(s: &S) {
    s.create_sync_job(&job("job_01", 1)).await.unwrap();
    let mut v2 = job("job_01", 2);
    v2.name = "renamed".into();
    s.update_sync_job(&v2).await.unwrap();
    let mut stale = job("job_01", 2);
    stale.name = "lost update".into();
    assert!(matches!(
        s.update_sync_job(&stale).await,
        Err(AppError::TransactionConflict)
    ));
    assert_eq!(
        s.get_sync_job(WS, "job_01").await.unwrap().unwrap().name,
        "renamed"
    );
    assert!(matches!(
        s.update_sync_job(&job("job_404", 2)).await,
        Err(AppError::NotFound(_))
    ));
}

async fn job_delete_returns_the_job<S: Store + ?Sized>(s: &S) {
    s.create_sync_job(&job("job_01", 1)).await.unwrap();
    assert_eq!(
        s.delete_sync_job(WS, "job_01").await.unwrap().unwrap().id,
        "job_01"
    );
    assert!(s.delete_sync_job(WS, "job_01").await.unwrap().is_none());
    assert!(s.get_sync_job(WS, "job_01").await.unwrap().is_none());
}

// --- events ----------------------------------------------------------------------------------

async fn event_insert_is_idempotent_on_the_provider_event_id<S: Store + ?Sized>(s: &S) {
    let first = event("iev_01", "evt_1", EventStatus::Pending);
    assert_eq!(
        s.insert_event(&first, now()).await.unwrap(),
        InsertOutcome::Inserted
    );
    let again = event("iev_02", "evt_1", EventStatus::Pending);
    match s.insert_event(&again, now()).await.unwrap() {
        InsertOutcome::Duplicate(existing) => assert_eq!(existing.id, "iev_01"),
        other => panic!("{other:?}"),
    }
    let got = s.get_event(WS, JOB, "evt_1", now()).await.unwrap().unwrap();
    assert_eq!(got, first, "round trip, raw body and headers included");
    // Concurrent copies: exactly one wins.
    let copies: Vec<InboundEvent> = (0..5)
        .map(|i| event(&format!("iev_1{i}"), "evt_race", EventStatus::Pending))
        .collect();
    let outcomes = futures::future::join_all(copies.iter().map(|c| s.insert_event(c, now()))).await;
    let inserted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(InsertOutcome::Inserted)))
        .count();
    assert_eq!(inserted, 1, "{outcomes:?}");
}

async fn an_expired_event_is_absent_and_may_be_stored_again<S: Store + ?Sized>(s: &S) {
    let mut old = event("iev_01", "evt_1", EventStatus::Processed);
    old.expires_at = now() - 10;
    s.insert_event(&old, now()).await.unwrap();
    assert!(s
        .get_event(WS, JOB, "evt_1", now())
        .await
        .unwrap()
        .is_none());
    assert!(s
        .find_event(WS, JOB, "iev_01", now())
        .await
        .unwrap()
        .is_none());
    assert!(s
        .list_events(WS, JOB, None, None, 10, now())
        .await
        .unwrap()
        .items
        .is_empty());
    let fresh = event("iev_02", "evt_1", EventStatus::Pending);
    assert_eq!(
        s.insert_event(&fresh, now()).await.unwrap(),
        InsertOutcome::Inserted
    );
    assert_eq!(
        s.get_event(WS, JOB, "evt_1", now())
            .await
            .unwrap()
            .unwrap()
            .id,
        "iev_02"
    );
}

async fn a_large_raw_body_round_trips<S: Store + ?Sized>(s: &S) {
    let mut big = event("iev_01", "evt_big", EventStatus::Pending);
    big.raw_body = format!(r#"{{"pad":"{}"}}"#, "é".repeat(450_000));
    assert!(big.raw_body.len() > 900_000);
    s.insert_event(&big, now()).await.unwrap();
    let got = s
        .get_event(WS, JOB, "evt_big", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.raw_body, big.raw_body);
    let found = s
        .find_event(WS, JOB, "iev_01", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.raw_body.len(), big.raw_body.len());
    let mut dup = event("iev_02", "evt_big", EventStatus::Pending);
    dup.raw_body = big.raw_body.clone();
    assert!(matches!(
        s.insert_event(&dup, now()).await.unwrap(),
        InsertOutcome::Duplicate(_)
    ));
}

async fn events_list_newest_first_by_status_and_page<S: Store + ?Sized>(s: &S) {
    for (i, st) in [
        EventStatus::Processed,
        EventStatus::Failed,
        EventStatus::Processed,
        EventStatus::Ignored,
        EventStatus::Processed,
    ]
    .into_iter()
    .enumerate()
    {
        s.insert_event(&event(&format!("iev_0{i}"), &format!("evt_{i}"), st), now())
            .await
            .unwrap();
    }
    let all = s.list_events(WS, JOB, None, None, 10, now()).await.unwrap();
    let ids: Vec<&str> = all.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["iev_04", "iev_03", "iev_02", "iev_01", "iev_00"]);
    assert!(
        all.items.iter().all(|e| e.raw_body.is_empty()),
        "lists carry no payload"
    );
    let processed = Some(EventStatus::Processed);
    let seen: Vec<String> = all_pages(
        2,
        async |c| {
            s.list_events(WS, JOB, processed, c.as_deref(), 2, now())
                .await
                .unwrap()
        },
        |e| e.id,
    )
    .await;
    assert_eq!(seen, vec!["iev_04", "iev_02", "iev_00"]);
}

async fn events_between_ids_oldest_first<S: Store + ?Sized>(s: &S) {
    insert_processed(s, 5).await;
    let p = s
        .list_events_between(WS, JOB, ("iev_01", "iev_03"), None, 10, now())
        .await
        .unwrap();
    let ids: Vec<&str> = p.items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["iev_01", "iev_02", "iev_03"]);
    let p1 = s
        .list_events_between(WS, JOB, ("iev_00", "iev_09"), None, 2, now())
        .await
        .unwrap();
    let p2 = s
        .list_events_between(
            WS,
            JOB,
            ("iev_00", "iev_09"),
            p1.next_cursor.as_deref(),
            2,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(p2.items[0].id, "iev_02");
}

async fn find_event_by_our_id<S: Store + ?Sized>(s: &S) {
    s.insert_event(&event("iev_01", "evt_1", EventStatus::Pending), now())
        .await
        .unwrap();
    let e = s
        .find_event(WS, JOB, "iev_01", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.provider_event_id, "evt_1");
    assert!(!e.raw_body.is_empty());
    assert!(s
        .find_event(WS, JOB, "iev_02", now())
        .await
        .unwrap()
        .is_none());
    assert!(s
        .find_event(WS, "job_other", "iev_01", now())
        .await
        .unwrap()
        .is_none());
}

async fn update_event_changes_status_counts_attempts_keeps_errors<S: Store + ?Sized>(s: &S) {
    s.insert_event(&event("iev_01", "evt_1", EventStatus::Pending), now())
        .await
        .unwrap();
    for i in 0..12 {
        let mut c = EventChange::status(EventStatus::Pending, "2024-01-02T00:00:00.000Z");
        c.count_attempt = true;
        c.error = Some(EventError {
            at: format!("t{i}"),
            error: format!("boom {i}"),
        });
        s.update_event(WS, JOB, "evt_1", &c).await.unwrap();
    }
    let mut done = EventChange::status(EventStatus::Processed, "2024-01-03T00:00:00.000Z");
    done.count_attempt = true;
    done.object_type = Some("customer".into());
    done.object_id = Some("cus_1".into());
    done.event_created = Some(T1.into());
    done.outcome = Some("applied".into());
    done.processed_at = Some("2024-01-03T00:00:00.000Z".into());
    done.expect_status = Some(EventStatus::Pending);
    assert!(s.update_event(WS, JOB, "evt_1", &done).await.unwrap());
    // A second finisher expecting `pending` changes nothing (a concurrent copy won).
    let mut late = done.clone();
    late.outcome = Some("late".into());
    assert!(!s.update_event(WS, JOB, "evt_1", &late).await.unwrap());
    let e = s.get_event(WS, JOB, "evt_1", now()).await.unwrap().unwrap();
    assert_eq!(e.status, EventStatus::Processed);
    assert_eq!(e.attempts, 13);
    assert_eq!(e.errors.len(), 10, "bounded");
    assert_eq!(e.errors[0].error, "boom 0");
    assert_eq!(e.last_error.as_deref(), Some("boom 11"));
    assert_eq!(e.object_id.as_deref(), Some("cus_1"));
    assert_eq!(e.outcome.as_deref(), Some("applied"));
    assert_eq!(e.updated_at, "2024-01-03T00:00:00.000Z");
    let processed = s
        .list_events(WS, JOB, Some(EventStatus::Processed), None, 10, now())
        .await
        .unwrap();
    assert_eq!(processed.items.len(), 1);
    assert!(s
        .list_events(WS, JOB, Some(EventStatus::Pending), None, 10, now())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        s.update_event(WS, JOB, "evt_missing", &done).await,
        Err(AppError::NotFound(_))
    ));
}

async fn count_events_by_status_and_today<S: Store + ?Sized>(s: &S) {
    let statuses = [
        EventStatus::Processed,
        EventStatus::Processed,
        EventStatus::Failed,
        EventStatus::Ignored,
        EventStatus::Pending,
        EventStatus::Skipped,
    ];
    for (i, st) in statuses.into_iter().enumerate() {
        s.insert_event(&event(&format!("iev_0{i}"), &format!("evt_{i}"), st), now())
            .await
            .unwrap();
    }
    let mut expired = event("iev_09", "evt_9", EventStatus::Processed);
    expired.expires_at = now() - 1;
    s.insert_event(&expired, now()).await.unwrap();
    let c = s.count_events(WS, JOB, "iev_03", now()).await.unwrap();
    assert_eq!(
        (
            c.processed,
            c.failed,
            c.ignored,
            c.pending,
            c.skipped,
            c.total()
        ),
        (2, 1, 1, 1, 1, 6)
    );
    assert_eq!(
        c.today, 3,
        "iev_03, iev_04, iev_05 (the expired iev_09 is not counted)"
    );
}

// --- records ---------------------------------------------------------------------------------

async fn record_upsert_and_read_back<S: Store + ?Sized>(s: &S) {
    let r = record("cus_1", T1, "iev_01", false, "a@example.com");
    assert_eq!(
        s.apply_record(WS, JOB, &r).await.unwrap(),
        ApplyOutcome::Applied
    );
    let got = stored(s, "cus_1").await.unwrap();
    assert_eq!(
        got, r,
        "data (big numbers included) and metadata round-trip"
    );
    assert!(stored(s, "cus_2").await.is_none());
}

async fn older_event_never_overwrites_a_record<S: Store + ?Sized>(s: &S) {
    apply(s, record("cus_1", T2, "iev_01", false, "new")).await;
    let late = record("cus_1", T1, "iev_02", false, "old");
    assert_eq!(apply(s, late).await, ApplyOutcome::Unchanged);
    assert_eq!(email(s, "cus_1").await.as_deref(), Some("new"));
}

async fn equal_times_later_arrival_wins_except_over_a_tombstone<S: Store + ?Sized>(s: &S) {
    apply(s, record("cus_1", T1, "iev_02", false, "second")).await;
    assert_eq!(
        apply(s, record("cus_1", T1, "iev_01", false, "first")).await,
        ApplyOutcome::Unchanged,
        "earlier arrival at the same time"
    );
    assert_eq!(
        apply(s, record("cus_1", T1, "iev_02", false, "second")).await,
        ApplyOutcome::Unchanged,
        "the same event twice"
    );
    assert_eq!(
        apply(s, record("cus_1", T1, "iev_03", false, "third")).await,
        ApplyOutcome::Applied
    );
    assert_eq!(
        apply(s, record("cus_1", T1, "iev_04", true, "")).await,
        ApplyOutcome::Applied,
        "a later delete at the same time wins"
    );
    assert_eq!(
        apply(s, record("cus_1", T1, "iev_05", false, "zombie")).await,
        ApplyOutcome::Unchanged,
        "not over a tombstone"
    );
    let got = stored(s, "cus_1").await.unwrap();
    assert!(got.meta.deleted);
    assert!(got.data.is_none());
}

async fn delete_leaves_a_tombstone_that_blocks_late_updates<S: Store + ?Sized>(s: &S) {
    apply(s, record("cus_1", T1, "iev_01", false, "live")).await;
    apply(s, record("cus_1", T2, "iev_02", true, "")).await;
    assert_eq!(
        apply(s, record("cus_1", T1, "iev_03", false, "late")).await,
        ApplyOutcome::Unchanged
    );
    let got = stored(s, "cus_1").await.unwrap();
    assert!(got.meta.deleted);
    // A delete of a record never seen still leaves a tombstone.
    apply(s, record("cus_9", T2, "iev_04", true, "")).await;
    assert_eq!(
        apply(s, record("cus_9", T1, "iev_05", false, "late")).await,
        ApplyOutcome::Unchanged
    );
    assert!(stored(s, "cus_9").await.unwrap().meta.deleted);
}

async fn concurrent_writes_end_on_the_newest<S: Store + ?Sized>(s: &S) {
    let writes: Vec<Record> = (0..8)
        .map(|i| {
            record(
                "cus_1",
                &format!("2024-01-01T00:00:0{i}.000000Z"),
                &format!("iev_0{i}"),
                false,
                &format!("v{i}"),
            )
        })
        .rev()
        .collect();
    futures::future::join_all(writes.iter().map(|w| s.apply_record(WS, JOB, w))).await;
    assert_eq!(email(s, "cus_1").await.as_deref(), Some("v7"));
}

async fn records_are_scoped_to_workspace_and_job<S: Store + ?Sized>(s: &S) {
    apply(s, record("cus_1", T1, "iev_01", false, "mine")).await;
    assert!(s
        .get_record("ws_other", JOB, "customer", "cus_1")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .get_record(WS, "job_other", "customer", "cus_1")
        .await
        .unwrap()
        .is_none());
    assert!(s
        .get_record(WS, JOB, "invoice", "cus_1")
        .await
        .unwrap()
        .is_none());
}

async fn purging_a_job_removes_its_records_events_and_executions_only<S: Store + ?Sized>(s: &S) {
    const OTHER: &str = "job_01hcontractother0000000000";
    let execution = |id: &str, job: &str| Execution {
        id: id.into(),
        workspace_id: WS.into(),
        job_id: job.into(),
        started_at: "2024-01-01T00:00:00.000Z".into(),
        finished_at: "2024-01-01T00:00:00.010Z".into(),
        duration_ms: 10,
        batch_size: 1,
        applied: 1,
        unchanged: 0,
        skipped: 0,
        failed: 0,
        expires_at: now() + 3600,
        kind: Default::default(),
        backfill: None,
    };
    for i in 0..5 {
        let r = record(&format!("cus_{i}"), T1, "iev_01", false, "x");
        s.apply_record(WS, JOB, &r).await.unwrap();
    }
    s.apply_record(WS, OTHER, &record("cus_0", T1, "iev_01", false, "kept"))
        .await
        .unwrap();
    for i in 0..3 {
        let ev = event(
            &format!("iev_0{i}"),
            &format!("evt_{i}"),
            EventStatus::Pending,
        );
        s.insert_event(&ev, now()).await.unwrap();
    }
    let mut big = event("iev_09", "evt_big", EventStatus::Pending);
    big.raw_body = format!(r#"{{"pad":"{}"}}"#, "x".repeat(900_000));
    s.insert_event(&big, now()).await.unwrap();
    let mut kept = event("iev_10", "evt_kept", EventStatus::Pending);
    kept.job_id = OTHER.into();
    s.insert_event(&kept, now()).await.unwrap();
    for (id, job) in [("jex_01", JOB), ("jex_02", JOB), ("jex_03", OTHER)] {
        s.put_execution(&execution(id, job)).await.unwrap();
    }

    let mut deleted = 0;
    let mut calls = 0;
    loop {
        calls += 1;
        assert!(calls < 40, "the purge does not end");
        match s.purge_job_data(WS, JOB, 2).await.unwrap() {
            0 => break,
            n => {
                assert!(
                    n <= 8,
                    "a page of {n} items for limit 2 (+ raw-body pieces)"
                );
                deleted += n;
            }
        }
    }
    assert!(deleted >= 5 + 4 + 2, "{deleted}");
    assert_eq!(s.purge_job_data(WS, JOB, 2).await.unwrap(), 0);
    for i in 0..5 {
        let id = format!("cus_{i}");
        assert!(s
            .get_record(WS, JOB, "customer", &id)
            .await
            .unwrap()
            .is_none());
    }
    for p in ["evt_0", "evt_1", "evt_2", "evt_big"] {
        assert!(
            s.get_event(WS, JOB, p, now()).await.unwrap().is_none(),
            "{p}"
        );
    }
    let events = s.list_events(WS, JOB, None, None, 50, now()).await.unwrap();
    assert!(events.items.is_empty());
    let execs = s.list_executions(WS, JOB, None, 50, now()).await.unwrap();
    assert!(execs.items.is_empty());
    // The other job keeps everything.
    assert_eq!(email(s, "cus_0").await, None);
    let other = s.get_record(WS, OTHER, "customer", "cus_0").await.unwrap();
    assert_eq!(other.unwrap().data.unwrap()["email"], "kept");
    assert!(s
        .get_event(WS, OTHER, "evt_kept", now())
        .await
        .unwrap()
        .is_some());
    let execs = s.list_executions(WS, OTHER, None, 50, now()).await.unwrap();
    assert_eq!(execs.items.len(), 1);
}

// --- executions ------------------------------------------------------------------------------

async fn executions_list_newest_first_and_skip_expired<S: Store + ?Sized>(s: &S) {
    for i in 0..4 {
        s.put_execution(&Execution {
            id: format!("jex_0{i}"),
            workspace_id: WS.into(),
            job_id: JOB.into(),
            started_at: "2024-01-01T00:00:00.000Z".into(),
            finished_at: "2024-01-01T00:00:00.010Z".into(),
            duration_ms: 10,
            batch_size: 10,
            applied: 9,
            unchanged: 0,
            skipped: 0,
            failed: 1,
            expires_at: if i == 0 { now() - 1 } else { now() + 3600 },
            kind: Default::default(),
            backfill: None,
        })
        .await
        .unwrap();
    }
    let p = s.list_executions(WS, JOB, None, 2, now()).await.unwrap();
    let ids: Vec<&str> = p.items.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, vec!["jex_03", "jex_02"]);
    let p2 = s
        .list_executions(WS, JOB, p.next_cursor.as_deref(), 2, now())
        .await
        .unwrap();
    let ids: Vec<&str> = p2.items.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, vec!["jex_01"], "the expired one is not listed");
    assert_eq!(p.items[0].applied, 9);
}

async fn cursors_from_another_partition_are_refused<S: Store + ?Sized>(s: &S) {
    insert_processed(s, 3).await;
    let p = s.list_events(WS, JOB, None, None, 1, now()).await.unwrap();
    let cursor = p.next_cursor.unwrap();
    let e = s
        .list_events(WS, "job_other", None, Some(&cursor), 1, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "validation_error");
    let e = s
        .list_events(WS, JOB, None, Some("garbage!"), 1, now())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "validation_error");
}

async fn an_automatic_retry_is_counted_and_its_time_cleared_by_the_next_change<
    S: Store + ?Sized,
>(
    s: &S,
) {
    s.insert_event(&event("iev_01", "evt_1", EventStatus::Pending), now())
        .await
        .unwrap();
    let mut scheduled = EventChange::status(EventStatus::Pending, "2024-01-02T00:00:00.000Z");
    scheduled.expect_status = Some(EventStatus::Pending);
    scheduled.count_attempt = true;
    scheduled.count_auto_retry = true;
    scheduled.next_retry_at = Some("2024-01-02T00:05:00.000Z".into());
    scheduled.error = Some(EventError {
        at: "t".into(),
        error: "jq: boom".into(),
    });
    assert!(s.update_event(WS, JOB, "evt_1", &scheduled).await.unwrap());
    let e = s.get_event(WS, JOB, "evt_1", now()).await.unwrap().unwrap();
    assert_eq!(
        (e.status, e.attempts, e.auto_retries),
        (EventStatus::Pending, 1, 1)
    );
    assert_eq!(e.next_retry_at.as_deref(), Some("2024-01-02T00:05:00.000Z"));
    let listed = s
        .list_events(WS, JOB, Some(EventStatus::Pending), None, 10, now())
        .await
        .unwrap();
    assert_eq!(listed.items[0].next_retry_at, e.next_retry_at);
    // Any change without a retry time clears it (the event was applied, replayed, retried).
    let mut done = EventChange::status(EventStatus::Processed, "2024-01-02T00:06:00.000Z");
    done.count_attempt = true;
    assert!(s.update_event(WS, JOB, "evt_1", &done).await.unwrap());
    let e = s.get_event(WS, JOB, "evt_1", now()).await.unwrap().unwrap();
    assert_eq!((e.attempts, e.auto_retries), (2, 1));
    assert_eq!(e.next_retry_at, None);
}

async fn a_job_keeps_its_previous_secret_and_jq_settings<S: Store + ?Sized>(s: &S) {
    let mut j = job("job_01", 1);
    j.webhook_config.filter = Some(".type == \"invoice.paid\"".into());
    j.webhook_config.transform = Some("{id: .data.object.id}".into());
    j.webhook_config.auto_retry.attempts = 7;
    s.create_sync_job(&j).await.unwrap();
    let rotated_at = shared::time::now();
    j.rotate_secret(SigningSecret::new("whsec_y"), rotated_at);
    j.version = 2;
    s.update_sync_job(&j).await.unwrap();
    let got = s.get_sync_job(WS, "job_01").await.unwrap().unwrap();
    assert_eq!(got.webhook_config, j.webhook_config);
    assert_eq!(got.signing_secret, Some(SigningSecret::new("whsec_y")));
    assert_eq!(
        got.previous_signing_secret,
        Some(SigningSecret::new("whsec_x"))
    );
    assert_eq!(
        got.previous_secret_at(rotated_at),
        Some(&SigningSecret::new("whsec_x"))
    );
    assert_eq!(
        got.previous_secret_at(rotated_at + chrono::Duration::hours(24)),
        None
    );
}
