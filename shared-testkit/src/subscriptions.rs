//! In-memory fake of the subscription and delivery ports, kept in `MemoryStore`'s extension
//! state: one `with_ext` call = one atomic change, like one conditional DynamoDB write.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::memory::MemoryStore;
use shared::error::{AppError, AppResult};
use shared::paging::Page;
use shared::paging::{cursor_of, decode_cursor};
use shared::signing::WebhookSecret;
use shared::subscriptions::{
    AttemptRecord, AttemptResult, Delivery, DeliveryFilter, DeliveryStatus, DeliveryStore,
    OutcomeEffect, Subscription, SubscriptionPatch, SubscriptionStore,
};

type WsKey = (String, String);

#[derive(Default)]
struct WebhookState {
    subscriptions: BTreeMap<WsKey, Subscription>,
    deliveries: BTreeMap<WsKey, Delivery>,
    pacing: BTreeMap<WsKey, i64>,
}

fn key(ws: &str, id: &str) -> WsKey {
    (ws.to_owned(), id.to_owned())
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The fake's cursors: the last id of the previous page, for one partition (`scope`).
fn cursor_for(scope: &str, last_id: &str) -> String {
    cursor_of(&[("scope", scope), ("id", last_id)])
}

fn after_cursor(cursor: Option<&str>, scope: &str) -> AppResult<Option<String>> {
    let Some(c) = cursor else {
        return Ok(None);
    };
    let mut item = decode_cursor(c)?;
    match (item.remove("scope"), item.remove("id")) {
        (Some(s), Some(id)) if s == scope => Ok(Some(id)),
        _ => Err(AppError::validation("cursor is invalid")),
    }
}

/// Newest first (ids are time-ordered), after the cursor, one page.
pub(crate) fn newest_first_page<T: Clone>(
    items: Vec<(String, T)>,
    cursor: Option<&str>,
    scope: &str,
    limit: u32,
) -> AppResult<Page<T>> {
    sorted_page(items, cursor, scope, limit, true)
}

/// One page of `items` ordered by their sort key (descending when `newest_first`), after the
/// cursor's key.
fn sorted_page<T: Clone>(
    mut items: Vec<(String, T)>,
    cursor: Option<&str>,
    scope: &str,
    limit: u32,
    newest_first: bool,
) -> AppResult<Page<T>> {
    let after = after_cursor(cursor, scope)?;
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if newest_first {
        items.reverse();
    }
    let limit = limit.clamp(1, 1000) as usize;
    let mut page: Vec<(String, T)> = items
        .into_iter()
        .filter(|(k, _)| {
            after.as_deref().is_none_or(|c| {
                if newest_first {
                    k.as_str() < c
                } else {
                    k.as_str() > c
                }
            })
        })
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = if more {
        page.last().map(|(id, _)| cursor_for(scope, id))
    } else {
        None
    };
    Ok(Page {
        items: page.into_iter().map(|(_, t)| t).collect(),
        next_cursor,
    })
}

impl MemoryStore {
    /// Changes subscription `id` of `ws` with `change` at `now` (one atomic step): the
    /// subscription after it.
    fn change_subscription(
        &self,
        ws: &str,
        id: &str,
        now: &str,
        change: impl FnOnce(&mut Subscription),
    ) -> AppResult<Subscription> {
        self.with_ext::<WebhookState, _>(|st| {
            let sub = st
                .subscriptions
                .get_mut(&key(ws, id))
                .ok_or(AppError::NotFound("webhook"))?;
            change(sub);
            sub.updated_at = now.to_owned();
            Ok(sub.clone())
        })
    }
}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn create_subscription(&self, sub: &Subscription) -> AppResult<()> {
        self.with_ext::<WebhookState, _>(|st| {
            let k = key(&sub.workspace_id, &sub.id);
            if st.subscriptions.contains_key(&k) {
                return Err(AppError::internal_msg("subscription id collision"));
            }
            st.subscriptions.insert(k, sub.clone());
            Ok(())
        })
    }

    async fn get_subscription(&self, ws: &str, id: &str) -> AppResult<Option<Subscription>> {
        Ok(self.with_ext::<WebhookState, _>(|st| st.subscriptions.get(&key(ws, id)).cloned()))
    }

    async fn list_subscriptions(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Subscription>> {
        let items: Vec<(String, Subscription)> = self.with_ext::<WebhookState, _>(|st| {
            st.subscriptions
                .iter()
                .filter(|((w, _), _)| w == ws)
                .map(|((_, id), s)| (id.clone(), s.clone()))
                .collect()
        });
        newest_first_page(items, cursor, &format!("subs:{ws}"), limit)
    }

    async fn active_subscriptions(&self, ws: &str) -> AppResult<Vec<Subscription>> {
        Ok(self.with_ext::<WebhookState, _>(|st| {
            st.subscriptions
                .iter()
                .filter(|((w, _), s)| w == ws && s.active)
                .map(|(_, s)| s.clone())
                .collect()
        }))
    }

    async fn update_subscription(
        &self,
        ws: &str,
        id: &str,
        patch: &SubscriptionPatch,
        now: &str,
    ) -> AppResult<Subscription> {
        self.change_subscription(ws, id, now, |sub| {
            if let Some(v) = &patch.name {
                sub.name = v.clone();
            }
            if let Some(v) = &patch.url {
                sub.url = v.clone();
            }
            if let Some(v) = &patch.events {
                sub.events = v.clone();
            }
            if let Some(v) = patch.description.clone().into_change() {
                sub.description = v;
            }
            if let Some(v) = patch.retry_attempts {
                sub.retry_attempts = v;
            }
            if let Some(v) = patch.retry_delay {
                sub.retry_delay = v;
            }
            if let Some(v) = patch.timeout_ms {
                sub.timeout_ms = v;
            }
            if let Some(v) = patch.max_consecutive_failures {
                sub.max_consecutive_failures = v;
            }
            if let Some(v) = patch.rate_limit_per_second.into_change() {
                sub.rate_limit_per_second = v;
            }
            if let Some(v) = patch.headers.clone().into_change() {
                sub.headers = v.unwrap_or_default();
            }
            match patch.active {
                Some(true) => {
                    sub.active = true;
                    sub.disabled_reason = None;
                    sub.consecutive_failures = 0;
                }
                Some(false) => sub.active = false,
                None => {}
            }
        })
    }

    async fn delete_subscription(&self, ws: &str, id: &str) -> AppResult<Subscription> {
        self.with_ext::<WebhookState, _>(|st| {
            st.subscriptions
                .remove(&key(ws, id))
                .ok_or(AppError::NotFound("webhook"))
        })
    }

    async fn rotate_secret(
        &self,
        ws: &str,
        id: &str,
        new_secret: &WebhookSecret,
        previous_expires_at: &str,
        now: &str,
    ) -> AppResult<Subscription> {
        self.change_subscription(ws, id, now, |sub| {
            let old = std::mem::replace(&mut sub.secret, new_secret.clone());
            sub.previous_secret = Some(old);
            sub.previous_secret_expires_at = Some(previous_expires_at.to_owned());
        })
    }

    async fn record_delivery_outcome(
        &self,
        ws: &str,
        id: &str,
        success: bool,
        now: &str,
    ) -> AppResult<OutcomeEffect> {
        Ok(self.with_ext::<WebhookState, _>(|st| {
            let Some(sub) = st.subscriptions.get_mut(&key(ws, id)) else {
                return OutcomeEffect::default();
            };
            sub.last_delivery_at = Some(now.to_owned());
            if success {
                sub.success_count += 1;
                sub.consecutive_failures = 0;
                sub.last_delivery_status = Some(DeliveryStatus::Success);
                return OutcomeEffect::default();
            }
            sub.failed_count += 1;
            sub.consecutive_failures += 1;
            sub.last_delivery_status = Some(DeliveryStatus::Failed);
            let mut effect = OutcomeEffect {
                consecutive_failures: sub.consecutive_failures,
                disabled: false,
            };
            if sub.active && sub.consecutive_failures >= sub.max_consecutive_failures {
                sub.active = false;
                sub.disabled_reason = Some(shared::subscriptions::streak_reason(
                    sub.consecutive_failures,
                ));
                sub.updated_at = now.to_owned();
                effect.disabled = true;
            }
            effect
        }))
    }

    async fn disable_subscription(
        &self,
        ws: &str,
        id: &str,
        reason: &str,
        now: &str,
    ) -> AppResult<bool> {
        Ok(
            self.with_ext::<WebhookState, _>(|st| match st.subscriptions.get_mut(&key(ws, id)) {
                Some(sub) if sub.active => {
                    sub.active = false;
                    sub.disabled_reason = Some(reason.to_owned());
                    sub.updated_at = now.to_owned();
                    true
                }
                _ => false,
            }),
        )
    }

    async fn record_throttled_outcome(&self, ws: &str, id: &str, now: &str) -> AppResult<()> {
        self.with_ext::<WebhookState, _>(|st| {
            if let Some(sub) = st.subscriptions.get_mut(&key(ws, id)) {
                sub.failed_count += 1;
                sub.last_delivery_status = Some(DeliveryStatus::Failed);
                sub.last_delivery_at = Some(now.to_owned());
            }
        });
        Ok(())
    }

    async fn pacing_slot(&self, ws: &str, id: &str) -> AppResult<Option<i64>> {
        Ok(self.with_ext::<WebhookState, _>(|st| st.pacing.get(&key(ws, id)).copied()))
    }

    async fn advance_pacing_slot(
        &self,
        ws: &str,
        id: &str,
        expected: Option<i64>,
        next: i64,
    ) -> AppResult<bool> {
        Ok(self.with_ext::<WebhookState, _>(|st| {
            let k = key(ws, id);
            if st.pacing.get(&k).copied() != expected {
                return false;
            }
            st.pacing.insert(k, next);
            true
        }))
    }
}

#[async_trait]
impl DeliveryStore for MemoryStore {
    async fn create_delivery(&self, d: &Delivery) -> AppResult<bool> {
        Ok(self.with_ext::<WebhookState, _>(|st| {
            let k = key(&d.workspace_id, &d.id);
            if st.deliveries.contains_key(&k) {
                return false;
            }
            st.deliveries.insert(k, d.clone());
            true
        }))
    }

    async fn get_delivery(&self, ws: &str, id: &str) -> AppResult<Option<Delivery>> {
        let now = now_secs();
        Ok(self.with_ext::<WebhookState, _>(|st| {
            st.deliveries
                .get(&key(ws, id))
                .filter(|d| !d.is_expired(now))
                .cloned()
        }))
    }

    async fn list_deliveries(
        &self,
        ws: &str,
        filter: &DeliveryFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Delivery>> {
        let now = now_secs();
        let items: Vec<(String, Delivery)> = self.with_ext::<WebhookState, _>(|st| {
            st.deliveries
                .iter()
                .filter(|((w, _), d)| w == ws && !d.is_expired(now) && filter.matches(d))
                .map(|((_, id), d)| (id.clone(), d.clone()))
                .collect()
        });
        let scope = format!(
            "dlvs:{ws}:{}",
            filter.subscription_id.as_deref().unwrap_or("*")
        );
        newest_first_page(items, cursor, &scope, limit)
    }

    async fn claim_attempt(
        &self,
        ws: &str,
        id: &str,
        attempts: u32,
        until_ms: i64,
        now_ms: i64,
    ) -> AppResult<bool> {
        Ok(
            self.with_ext::<WebhookState, _>(|st| match st.deliveries.get_mut(&key(ws, id)) {
                Some(d)
                    if d.status == DeliveryStatus::Pending
                        && d.attempts == attempts
                        && d.claim_until.is_none_or(|c| c < now_ms) =>
                {
                    d.claim_until = Some(until_ms);
                    true
                }
                _ => false,
            }),
        )
    }

    async fn record_attempt(
        &self,
        ws: &str,
        id: &str,
        record: &AttemptRecord,
        result: &AttemptResult,
    ) -> AppResult<bool> {
        Ok(
            self.with_ext::<WebhookState, _>(|st| match st.deliveries.get_mut(&key(ws, id)) {
                Some(d)
                    if d.status == DeliveryStatus::Pending
                        && d.attempts == record.attempt.saturating_sub(1) =>
                {
                    d.attempts = record.attempt;
                    d.attempt_log.push(record.clone());
                    d.status = result.status;
                    d.status_code = record.status_code;
                    d.response_body = Some(record.response_body.clone());
                    d.error = record.error.clone();
                    d.duration_ms = Some(record.duration_ms);
                    d.last_attempt_at = Some(record.at.clone());
                    d.next_attempt_at = result.next_attempt_at.clone();
                    d.updated_at = record.completed_at.clone();
                    d.claim_until = None;
                    true
                }
                _ => false,
            }),
        )
    }

    async fn fail_delivery(&self, ws: &str, id: &str, error: &str, now: &str) -> AppResult<bool> {
        Ok(
            self.with_ext::<WebhookState, _>(|st| match st.deliveries.get_mut(&key(ws, id)) {
                Some(d) if d.status == DeliveryStatus::Pending => {
                    d.status = DeliveryStatus::Failed;
                    d.error = Some(error.to_owned());
                    d.next_attempt_at = None;
                    d.updated_at = now.to_owned();
                    d.claim_until = None;
                    true
                }
                _ => false,
            }),
        )
    }

    async fn requeue_delivery(
        &self,
        ws: &str,
        subscription_id: &str,
        id: &str,
        now: &str,
        expires_at: i64,
    ) -> AppResult<Delivery> {
        let now_s = now_secs();
        self.with_ext::<WebhookState, _>(|st| match st.deliveries.get_mut(&key(ws, id)) {
            Some(d) if d.subscription_id == subscription_id && !d.is_expired(now_s) => {
                d.status = DeliveryStatus::Pending;
                d.round_start = d.attempts;
                d.next_attempt_at = Some(now.to_owned());
                d.updated_at = now.to_owned();
                d.expires_at = expires_at;
                Ok(d.clone())
            }
            _ => Err(AppError::NotFound("delivery")),
        })
    }

    async fn overdue_deliveries(
        &self,
        ws: &str,
        due_before: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Delivery>> {
        let now = now_secs();
        let due: Vec<(String, Delivery)> = self.with_ext::<WebhookState, _>(|st| {
            st.deliveries
                .iter()
                .filter(|((w, _), d)| {
                    w == ws && d.status == DeliveryStatus::Pending && !d.is_expired(now)
                })
                .filter_map(|((_, id), d)| {
                    let next = d.next_attempt_at.as_deref()?;
                    let position = shared::paging::position(next, id);
                    (position.as_str() < due_before).then(|| (position, d.clone()))
                })
                .collect()
        });
        sorted_page(due, cursor, &format!("overdue:{ws}"), limit, false)
    }

    async fn failed_deliveries_since(
        &self,
        ws: &str,
        subscription_id: &str,
        from_id: &str,
        limit: u32,
    ) -> AppResult<Vec<Delivery>> {
        let now = now_secs();
        Ok(self.with_ext::<WebhookState, _>(|st| {
            st.deliveries
                .iter()
                .filter(|((w, id), d)| {
                    w == ws
                        && d.subscription_id == subscription_id
                        && id.as_str() >= from_id
                        && d.status == DeliveryStatus::Failed
                        && !d.is_expired(now)
                })
                .take(limit.clamp(1, 1000) as usize)
                .map(|(_, d)| d.clone())
                .collect()
        }))
    }
}
