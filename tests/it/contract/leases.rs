//! Contract of `LeaseStore`: every behaviour is written once and runs against the in-memory
//! fake (`fake::…`) and the DynamoDB adapter on moto (`dynamo::…`).

use std::time::Duration;

use shared::lease::Lease;
use shared::lease::LeaseStore;

shared_testkit::contract!(
    a_free_lease_is_acquired,
    another_owner_cannot_take_an_unexpired_lease,
    release_by_another_owner_keeps_the_lease,
    after_release_another_owner_acquires,
    an_expired_lease_can_be_taken_over,
    leases_of_different_exams_are_independent,
);

const MINUTE: Duration = Duration::from_secs(60);

fn lease(exam: &str) -> Lease {
    Lease::counter_sync("ws_contract", exam)
}

async fn a_free_lease_is_acquired<S: LeaseStore + ?Sized>(s: &S) {
    assert!(s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
}

async fn another_owner_cannot_take_an_unexpired_lease<S: LeaseStore + ?Sized>(s: &S) {
    assert!(s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
    assert!(!s.try_acquire(&lease("1"), "owner-b", MINUTE).await.unwrap());
    assert!(!s
        .try_acquire(&lease("1"), "owner-c", Duration::from_millis(1))
        .await
        .unwrap());
}

async fn release_by_another_owner_keeps_the_lease<S: LeaseStore + ?Sized>(s: &S) {
    assert!(s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
    s.release(&lease("1"), "owner-b").await.unwrap();
    assert!(!s.try_acquire(&lease("1"), "owner-b", MINUTE).await.unwrap());
    // Releasing a lease nobody holds is not an error either.
    s.release(&lease("2"), "owner-b").await.unwrap();
}

async fn after_release_another_owner_acquires<S: LeaseStore + ?Sized>(s: &S) {
    assert!(s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
    s.release(&lease("1"), "owner-a").await.unwrap();
    assert!(s.try_acquire(&lease("1"), "owner-b", MINUTE).await.unwrap());
    // …and now the first owner is the one locked out, and cannot release it.
    s.release(&lease("1"), "owner-a").await.unwrap();
    assert!(!s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
}

async fn an_expired_lease_can_be_taken_over<S: LeaseStore + ?Sized>(s: &S) {
    assert!(s
        .try_acquire(&lease("1"), "owner-a", Duration::from_millis(20))
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(s.try_acquire(&lease("1"), "owner-b", MINUTE).await.unwrap());
    assert!(!s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
}

async fn leases_of_different_exams_are_independent<S: LeaseStore + ?Sized>(s: &S) {
    assert!(s.try_acquire(&lease("1"), "owner-a", MINUTE).await.unwrap());
    assert!(s.try_acquire(&lease("2"), "owner-b", MINUTE).await.unwrap());
    assert!(!s
        .try_acquire(&Lease::counter_sync("ws_contract", "1"), "owner-c", MINUTE)
        .await
        .unwrap());
    assert!(s
        .try_acquire(&Lease::counter_sync("ws_other", "1"), "owner-c", MINUTE)
        .await
        .unwrap());
}
