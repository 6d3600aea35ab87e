//! What subscriptions need from storage: the subscription and delivery stores (adapters in
//! `shared-aws/src/subscriptions.rs`, fakes in `shared-testkit/src/subscriptions.rs`).

use async_trait::async_trait;

use super::{
    AttemptRecord, AttemptResult, Delivery, DeliveryFilter, OutcomeEffect, Subscription,
    SubscriptionPatch,
};
use crate::error::AppResult;
use crate::paging::Page;
use crate::signing::WebhookSecret;

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Creates a subscription (its id is new).
    async fn create_subscription(&self, subscription: &Subscription) -> AppResult<()>;
    async fn get_subscription(&self, ws: &str, id: &str) -> AppResult<Option<Subscription>>;
    /// Newest first.
    async fn list_subscriptions(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Subscription>>;
    /// Every active subscription of the workspace (what fan-out matches against).
    async fn active_subscriptions(&self, ws: &str) -> AppResult<Vec<Subscription>>;
    /// Applies the fields present in `patch`; `NotFound` when absent. Counters are untouched
    /// unless `active: true` resets the streak.
    async fn update_subscription(
        &self,
        ws: &str,
        id: &str,
        patch: &SubscriptionPatch,
        now: &str,
    ) -> AppResult<Subscription>;
    /// Deletes and returns the final state; `NotFound` when absent.
    async fn delete_subscription(&self, ws: &str, id: &str) -> AppResult<Subscription>;
    /// Atomically: the current secret becomes the previous one (signing until
    /// `previous_expires_at`), `new_secret` the current one.
    async fn rotate_secret(
        &self,
        ws: &str,
        id: &str,
        new_secret: &WebhookSecret,
        previous_expires_at: &str,
        now: &str,
    ) -> AppResult<Subscription>;
    /// Counts one finished delivery atomically: a success adds to `successCount` and resets
    /// the streak; a failure adds to `failedCount` and the streak, and disables the
    /// subscription when the streak reaches `maxConsecutiveFailures`. A deleted subscription
    /// is ignored (default effect).
    async fn record_delivery_outcome(
        &self,
        ws: &str,
        id: &str,
        success: bool,
        now: &str,
    ) -> AppResult<OutcomeEffect>;
    /// Disables an active subscription with a reason; false when it was not active or is gone.
    async fn disable_subscription(
        &self,
        ws: &str,
        id: &str,
        reason: &str,
        now: &str,
    ) -> AppResult<bool>;
    /// Counts a delivery that ended on a throttled answer (429/503 with `Retry-After`): adds
    /// to `failedCount` but leaves the streak alone, so it never disables the subscription.
    /// A deleted subscription is ignored.
    async fn record_throttled_outcome(&self, ws: &str, id: &str, now: &str) -> AppResult<()>;
    /// The subscription's pacing slot: unix µs before which no call may start (`None`: no
    /// call was paced yet).
    async fn pacing_slot(&self, ws: &str, id: &str) -> AppResult<Option<i64>>;
    /// Moves the pacing slot to `next` only while it still reads `expected`; false when
    /// another worker moved it first.
    async fn advance_pacing_slot(
        &self,
        ws: &str,
        id: &str,
        expected: Option<i64>,
        next: i64,
    ) -> AppResult<bool>;
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Creates the delivery unless its id exists already (then false, nothing written).
    async fn create_delivery(&self, delivery: &Delivery) -> AppResult<bool>;
    /// Strongly consistent; an expired delivery is absent.
    async fn get_delivery(&self, ws: &str, id: &str) -> AppResult<Option<Delivery>>;
    /// The deliveries `filter` selects (one subscription's, or the workspace's), newest
    /// first, expired ones left out (a page may hold fewer than `limit` while a next cursor
    /// exists).
    async fn list_deliveries(
        &self,
        ws: &str,
        filter: &DeliveryFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Delivery>>;
    /// Takes the right to make call `attempts + 1` until `until_ms`: only while the delivery
    /// is pending, has made exactly `attempts` calls and no other claim is live at `now_ms`.
    async fn claim_attempt(
        &self,
        ws: &str,
        id: &str,
        attempts: u32,
        until_ms: i64,
        now_ms: i64,
    ) -> AppResult<bool>;
    /// Appends `record` (call number `record.attempt`) and moves the delivery to `result`,
    /// only if it is pending with `record.attempt - 1` calls; releases the claim.
    async fn record_attempt(
        &self,
        ws: &str,
        id: &str,
        record: &AttemptRecord,
        result: &AttemptResult,
    ) -> AppResult<bool>;
    /// Marks a pending delivery failed without a call (subscription disabled or deleted,
    /// message on its last receive). False when it was not pending.
    async fn fail_delivery(&self, ws: &str, id: &str, error: &str, now: &str) -> AppResult<bool>;
    /// A manual retry: back to pending, due now, with a fresh round of retries and TTL.
    /// `NotFound` when absent, expired or not the subscription's.
    async fn requeue_delivery(
        &self,
        ws: &str,
        subscription_id: &str,
        id: &str,
        now: &str,
        expires_at: i64,
    ) -> AppResult<Delivery>;
    /// The workspace's `pending` deliveries whose next call was due before `due_before`,
    /// longest overdue first, one page, expired ones left out (the outbox sweeper re-drives
    /// them when their queue message was lost). A page may hold fewer than `limit` while a
    /// next cursor exists.
    async fn overdue_deliveries(
        &self,
        ws: &str,
        due_before: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Delivery>>;
    /// Failed deliveries of the subscription with ids from `from_id` on, oldest first, at
    /// most `limit`.
    async fn failed_deliveries_since(
        &self,
        ws: &str,
        subscription_id: &str,
        from_id: &str,
        limit: u32,
    ) -> AppResult<Vec<Delivery>>;
}
