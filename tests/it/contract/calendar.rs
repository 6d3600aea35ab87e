//! Contract of `CalendarStore`: every behaviour is written once and runs against the
//! in-memory fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use std::time::Duration;

use serde_json::{json, Value};
use shared::calendar::{
    CalendarEvent, CalendarStore, GhlState, StatusUpdate, SyncCounts, SyncMapping, SyncStatus,
};
use shared::AppError;

shared_testkit::contract!(
    a_created_event_and_its_mapping_read_back,
    an_update_moves_the_revision_and_resets_the_mapping,
    an_update_from_a_stale_revision_is_a_conflict,
    a_deleted_event_is_a_tombstone_that_cannot_change_again,
    an_update_of_a_missing_event_is_not_found,
    the_send_lease_admits_one_holder_until_released_or_expired,
    sync_writes_need_the_lease_and_the_planned_version,
    lists_filter_by_status_newest_first_page_and_count,
    requeue_moves_only_the_given_statuses,
    workspaces_are_isolated,
    a_retry_time_is_kept_until_the_next_status_write,
);

const WS: &str = "ws_contract";
const MINUTE: Duration = Duration::from_secs(60);

fn now() -> String {
    shared::time::now_string()
}

fn event(ws: &str, client_id: Value) -> CalendarEvent {
    shared_testkit::fixtures::calendar_event(
        ws,
        json!({
            "eventType": "onboarding", "eventTitle": "Onboarding Session",
            "startDate": "2024-01-15", "endDate": "2024-01-15", "startTime": "10:00", "endTime": "11:00",
            "description": "Initial client onboarding", "clientId": client_id,
            "clientEmail": "client@example.com",
        }),
    )
}

async fn created<S: CalendarStore + ?Sized>(s: &S, ws: &str, status: SyncStatus) -> CalendarEvent {
    let e = event(ws, json!(456));
    s.create_calendar_event(&e, &SyncMapping::new(&e, status, &now()))
        .await
        .unwrap();
    // Ids order by their millisecond: keep creations apart.
    tokio::time::sleep(Duration::from_millis(3)).await;
    e
}

fn next(e: &CalendarEvent) -> CalendarEvent {
    let mut n = e.clone();
    n.revision += 1;
    n.event_title = format!("rev {}", n.revision);
    n
}

fn status(status: SyncStatus, attempts: u32, error: Option<&str>) -> StatusUpdate {
    StatusUpdate {
        status,
        attempts: Some(attempts),
        sync_error: error.map(str::to_owned),
        last_sync_attempt: Some(now()),
        now: now(),
        retry_at: None,
    }
}

/// Moves a mapping to `st` the way a sync run does (lease, write, release).
async fn force_status<S: CalendarStore + ?Sized>(s: &S, ws: &str, id: &str, st: SyncStatus) {
    let m = s
        .claim_sync(ws, id, "setter", MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert!(s
        .set_sync_status(ws, id, "setter", m.version, &status(st, 1, None))
        .await
        .unwrap());
    s.release_sync(ws, id, "setter").await.unwrap();
}

async fn a_created_event_and_its_mapping_read_back<S: CalendarStore + ?Sized>(s: &S) {
    for client_id in [json!(456), json!("c-456"), json!(12.5)] {
        let e = event(WS, client_id.clone());
        let m = SyncMapping::new(&e, SyncStatus::Pending, &e.created_at);
        s.create_calendar_event(&e, &m).await.unwrap();
        let back = s.get_calendar_event(WS, &e.id).await.unwrap().unwrap();
        assert_eq!(back, e);
        assert_eq!(back.client_id, client_id, "client ids keep their JSON type");
        assert_eq!(s.get_sync_mapping(WS, &e.id).await.unwrap(), Some(m));
    }
    assert_eq!(s.get_calendar_event(WS, "cal_missing").await.unwrap(), None);
    assert_eq!(s.get_sync_mapping(WS, "cal_missing").await.unwrap(), None);
}

async fn an_update_moves_the_revision_and_resets_the_mapping<S: CalendarStore + ?Sized>(s: &S) {
    let e = created(s, WS, SyncStatus::Pending).await;
    let m = s.claim_sync(WS, &e.id, "o", MINUTE).await.unwrap().unwrap();
    assert!(s
        .set_sync_status(
            WS,
            &e.id,
            "o",
            m.version,
            &status(SyncStatus::Failed, 6, Some("http status 503"))
        )
        .await
        .unwrap());
    s.release_sync(WS, &e.id, "o").await.unwrap();

    let e2 = next(&e);
    let m2 = s
        .update_calendar_event(&e2, SyncStatus::Pending, &now())
        .await
        .unwrap();
    assert_eq!(m2.version, 2);
    assert_eq!(m2.sync_status, SyncStatus::Pending);
    assert_eq!(m2.attempts, 0);
    assert_eq!(m2.sync_error, None);
    assert!(
        m2.last_sync_attempt.is_some(),
        "the last attempt time is kept"
    );
    assert_eq!(s.get_calendar_event(WS, &e.id).await.unwrap(), Some(e2));
    assert_eq!(s.get_sync_mapping(WS, &e.id).await.unwrap(), Some(m2));
}

async fn an_update_from_a_stale_revision_is_a_conflict<S: CalendarStore + ?Sized>(s: &S) {
    let e = created(s, WS, SyncStatus::Pending).await;
    let e2 = next(&e);
    s.update_calendar_event(&e2, SyncStatus::Pending, &now())
        .await
        .unwrap();
    // A second writer that also read revision 1.
    let mut stale = next(&e);
    stale.event_title = "lost update".into();
    let err = s
        .update_calendar_event(&stale, SyncStatus::Pending, &now())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::TransactionConflict), "{err:?}");
    assert_eq!(
        s.get_calendar_event(WS, &e.id)
            .await
            .unwrap()
            .unwrap()
            .event_title,
        "rev 2"
    );
}

async fn a_deleted_event_is_a_tombstone_that_cannot_change_again<S: CalendarStore + ?Sized>(s: &S) {
    let e = created(s, WS, SyncStatus::Pending).await;
    let mut gone = next(&e);
    gone.deleted_at = Some(now());
    s.update_calendar_event(&gone, SyncStatus::Pending, &now())
        .await
        .unwrap();
    let back = s.get_calendar_event(WS, &e.id).await.unwrap().unwrap();
    assert!(back.is_deleted());
    let err = s
        .update_calendar_event(&next(&gone), SyncStatus::Pending, &now())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}

async fn an_update_of_a_missing_event_is_not_found<S: CalendarStore + ?Sized>(s: &S) {
    let e = next(&event(WS, json!(1)));
    let err = s
        .update_calendar_event(&e, SyncStatus::Pending, &now())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}

async fn the_send_lease_admits_one_holder_until_released_or_expired<S: CalendarStore + ?Sized>(
    s: &S,
) {
    let e = created(s, WS, SyncStatus::Pending).await;
    assert!(s
        .claim_sync(WS, &e.id, "a", MINUTE)
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.claim_sync(WS, &e.id, "b", MINUTE).await.unwrap(), None);
    s.release_sync(WS, &e.id, "b").await.unwrap();
    assert_eq!(
        s.claim_sync(WS, &e.id, "b", MINUTE).await.unwrap(),
        None,
        "only the holder releases"
    );
    s.release_sync(WS, &e.id, "a").await.unwrap();
    let m = s
        .claim_sync(WS, &e.id, "b", Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(m.map(|m| m.sentra_event_id), Some(e.id.clone()));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        s.claim_sync(WS, &e.id, "c", MINUTE)
            .await
            .unwrap()
            .is_some(),
        "an expired lease is taken over"
    );
    let err = s
        .claim_sync(WS, "cal_missing", "a", MINUTE)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}

async fn sync_writes_need_the_lease_and_the_planned_version<S: CalendarStore + ?Sized>(s: &S) {
    let e = created(s, WS, SyncStatus::Pending).await;
    let state = GhlState {
        ghl_appointment_id: Some("ghl_456".into()),
        ghl_deleted: false,
        synced_version: 1,
        last_sync_attempt: now(),
    };
    assert!(!s
        .record_ghl_state(WS, &e.id, "nobody", &state)
        .await
        .unwrap());
    let m = s.claim_sync(WS, &e.id, "o", MINUTE).await.unwrap().unwrap();
    assert!(s.record_ghl_state(WS, &e.id, "o", &state).await.unwrap());
    let after = s.get_sync_mapping(WS, &e.id).await.unwrap().unwrap();
    assert_eq!(after.ghl_appointment_id.as_deref(), Some("ghl_456"));
    assert_eq!(after.synced_version, 1);
    assert_eq!(after.attempts, 1, "a successful call is counted");
    assert_eq!(
        after.last_sync_attempt,
        Some(state.last_sync_attempt.clone())
    );

    let synced = StatusUpdate {
        status: SyncStatus::Synced,
        attempts: None,
        sync_error: None,
        last_sync_attempt: None,
        now: now(),
        retry_at: None,
    };
    assert!(!s
        .set_sync_status(WS, &e.id, "other", m.version, &synced)
        .await
        .unwrap());
    assert!(!s
        .set_sync_status(WS, &e.id, "o", m.version + 1, &synced)
        .await
        .unwrap());
    // A local change lands mid-run: the run's planned version no longer holds.
    s.update_calendar_event(&next(&e), SyncStatus::Pending, &now())
        .await
        .unwrap();
    assert!(!s
        .set_sync_status(WS, &e.id, "o", m.version, &synced)
        .await
        .unwrap());
    let pending = s.get_sync_mapping(WS, &e.id).await.unwrap().unwrap();
    assert_eq!(pending.sync_status, SyncStatus::Pending);
    assert_eq!(
        pending.ghl_appointment_id.as_deref(),
        Some("ghl_456"),
        "the id survives"
    );
    assert!(s.set_sync_status(WS, &e.id, "o", 2, &synced).await.unwrap());
    let done = s.get_sync_mapping(WS, &e.id).await.unwrap().unwrap();
    assert_eq!(done.sync_status, SyncStatus::Synced);
    assert_eq!(
        done.attempts, 0,
        "attempts None keeps the count (reset by the change)"
    );
}

async fn lists_filter_by_status_newest_first_page_and_count<S: CalendarStore + ?Sized>(s: &S) {
    let a = created(s, WS, SyncStatus::Pending).await;
    let b = created(s, WS, SyncStatus::Pending).await;
    let c = created(s, WS, SyncStatus::Pending).await;
    let na = created(s, WS, SyncStatus::NotApplicable).await;
    force_status(s, WS, &a.id, SyncStatus::Synced).await;
    force_status(s, WS, &b.id, SyncStatus::Failed).await;

    let ids = |p: &shared::paging::Page<SyncMapping>| -> Vec<String> {
        p.items.iter().map(|m| m.sentra_event_id.clone()).collect()
    };
    let all = s.list_sync_mappings(WS, None, None, 50).await.unwrap();
    assert_eq!(ids(&all), vec![c.id.clone(), b.id.clone(), a.id.clone()]);
    assert_eq!(all.next_cursor, None);

    let first = s.list_sync_mappings(WS, None, None, 2).await.unwrap();
    assert_eq!(ids(&first), vec![c.id.clone(), b.id.clone()]);
    let cursor = first.next_cursor.expect("a second page");
    let second = s
        .list_sync_mappings(WS, None, Some(&cursor), 2)
        .await
        .unwrap();
    assert_eq!(ids(&second), vec![a.id.clone()]);

    for (st, want) in [
        (SyncStatus::Synced, &a.id),
        (SyncStatus::Failed, &b.id),
        (SyncStatus::Pending, &c.id),
        (SyncStatus::NotApplicable, &na.id),
    ] {
        let p = s.list_sync_mappings(WS, Some(st), None, 50).await.unwrap();
        assert_eq!(ids(&p), vec![want.clone()], "{st:?}");
        assert_eq!(p.items[0].sync_status, st);
    }
    assert_eq!(
        s.count_sync_mappings(WS).await.unwrap(),
        SyncCounts {
            synced: 1,
            pending: 1,
            failed: 1
        }
    );
    assert!(s
        .list_sync_mappings(WS, None, Some("garbage!"), 2)
        .await
        .is_err());
}

async fn requeue_moves_only_the_given_statuses<S: CalendarStore + ?Sized>(s: &S) {
    let failed = created(s, WS, SyncStatus::Pending).await;
    let m = s
        .claim_sync(WS, &failed.id, "o", MINUTE)
        .await
        .unwrap()
        .unwrap();
    s.set_sync_status(
        WS,
        &failed.id,
        "o",
        m.version,
        &status(SyncStatus::Failed, 6, Some("boom")),
    )
    .await
    .unwrap();
    s.release_sync(WS, &failed.id, "o").await.unwrap();
    let synced = created(s, WS, SyncStatus::Pending).await;
    force_status(s, WS, &synced.id, SyncStatus::Synced).await;

    let back = s
        .requeue_sync(WS, &failed.id, &[SyncStatus::Failed], &now())
        .await
        .unwrap()
        .expect("requeued");
    assert_eq!(back.sync_status, SyncStatus::Pending);
    assert_eq!(back.attempts, 0);
    assert_eq!(back.sync_error, None);
    assert_eq!(
        s.list_sync_mappings(WS, Some(SyncStatus::Failed), None, 50)
            .await
            .unwrap()
            .items,
        vec![]
    );
    assert_eq!(
        s.requeue_sync(WS, &synced.id, &[SyncStatus::Failed], &now())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.get_sync_mapping(WS, &synced.id)
            .await
            .unwrap()
            .unwrap()
            .sync_status,
        SyncStatus::Synced
    );
    let err = s
        .requeue_sync(WS, "cal_missing", &[SyncStatus::Failed], &now())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
}

async fn workspaces_are_isolated<S: CalendarStore + ?Sized>(s: &S) {
    let e = created(s, "ws_a", SyncStatus::Pending).await;
    assert_eq!(s.get_calendar_event("ws_b", &e.id).await.unwrap(), None);
    assert_eq!(s.get_sync_mapping("ws_b", &e.id).await.unwrap(), None);
    assert!(s
        .list_sync_mappings("ws_b", None, None, 50)
        .await
        .unwrap()
        .items
        .is_empty());
    assert_eq!(
        s.count_sync_mappings("ws_b").await.unwrap(),
        SyncCounts::default()
    );
    assert!(matches!(
        s.claim_sync("ws_b", &e.id, "o", MINUTE).await,
        Err(AppError::NotFound(_))
    ));
    let mut foreign = next(&e);
    foreign.workspace_id = "ws_b".into();
    assert!(matches!(
        s.update_calendar_event(&foreign, SyncStatus::Pending, &now())
            .await,
        Err(AppError::NotFound(_))
    ));
    assert_eq!(s.count_sync_mappings("ws_a").await.unwrap().pending, 1);
}

async fn a_retry_time_is_kept_until_the_next_status_write<S: CalendarStore + ?Sized>(s: &S) {
    let e = created(s, WS, SyncStatus::Pending).await;
    let m = s.claim_sync(WS, &e.id, "o", MINUTE).await.unwrap().unwrap();
    let at = shared::time::format(shared::time::now() + chrono::Duration::seconds(30));
    let throttled = StatusUpdate {
        retry_at: Some(at.clone()),
        ..status(
            SyncStatus::Pending,
            1,
            Some("http status 429 (Retry-After 30 s)"),
        )
    };
    assert!(s
        .set_sync_status(WS, &e.id, "o", m.version, &throttled)
        .await
        .unwrap());
    let back = s.get_sync_mapping(WS, &e.id).await.unwrap().unwrap();
    assert_eq!(back.retry_at.as_deref(), Some(at.as_str()));
    let wait = back.throttled_for(shared::time::now()).unwrap();
    assert!((29..=30).contains(&wait.as_secs()), "{wait:?}");
    assert!(s
        .set_sync_status(
            WS,
            &e.id,
            "o",
            m.version,
            &status(SyncStatus::Pending, 2, None)
        )
        .await
        .unwrap());
    let back = s.get_sync_mapping(WS, &e.id).await.unwrap().unwrap();
    assert_eq!(back.retry_at, None, "a write without one clears it");
    assert_eq!(back.throttled_for(shared::time::now()), None);
}
