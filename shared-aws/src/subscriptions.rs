//! DynamoDB adapter of the subscription and delivery ports. Every state change is one
//! conditional UpdateItem/PutItem: counters with `ADD`, the auto-disable conditional on the
//! streak it read, attempts conditional on the call count, so concurrent consumers never
//! double-count or double-send.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value;

use crate::keys;
use crate::table::{
    checked_cursor, conditional, decode, encode, is_conditional_failure, key_attrs, n, now_secs,
    null, num_attr, opt_s, page_of, s, DynamoStore, IndexQuery, Item,
};
use shared::error::{AppError, AppResult};
use shared::paging::Page;
use shared::patch::Patch;
use shared::signing::WebhookSecret;
use shared::subscriptions::{
    AttemptRecord, AttemptResult, Delivery, DeliveryFilter, DeliveryStatus, DeliveryStore,
    OutcomeEffect, Subscription, SubscriptionPatch, SubscriptionStore,
};

fn subscription_item(sub: &Subscription) -> AppResult<Item> {
    encode(sub, &keys::subscription(&sub.workspace_id, &sub.id), &[])
}

fn delivery_item(d: &Delivery) -> AppResult<Item> {
    let mut extra = vec![
        (
            keys::GSI1PK,
            s(keys::deliveries_index_pk(
                &d.workspace_id,
                &d.subscription_id,
            )),
        ),
        (keys::GSI1SK, s(&d.id)),
        (
            keys::GSI3PK,
            s(keys::workspace_deliveries_index_pk(&d.workspace_id)),
        ),
        (keys::GSI3SK, s(&d.id)),
    ];
    if let (DeliveryStatus::Pending, Some(next)) = (d.status, d.next_attempt_at.as_deref()) {
        extra.push((
            keys::GSI2PK,
            s(keys::pending_deliveries_index_pk(&d.workspace_id)),
        ));
        extra.push((
            keys::GSI2SK,
            s(keys::pending_delivery_position(next, &d.id)),
        ));
    }
    encode(d, &keys::delivery(&d.workspace_id, &d.id), &extra)
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn create_subscription(&self, sub: &Subscription) -> AppResult<()> {
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(subscription_item(sub)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => {
                Err(AppError::internal_msg("subscription id collision"))
            }
            Err(e) => Err(crate::errors::sdk("dynamodb put subscription", e)),
        }
    }

    async fn get_subscription(&self, ws: &str, id: &str) -> AppResult<Option<Subscription>> {
        self.get_as(&keys::subscription(ws, id)).await
    }

    async fn list_subscriptions(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Subscription>> {
        let pk = keys::subscriptions_partition(ws);
        let start = checked_cursor(cursor, keys::PK, &pk)?;
        if let Some(AttributeValue::S(sk)) = start.as_ref().and_then(|i| i.get(keys::SK)) {
            if !sk.starts_with(keys::SUBSCRIPTION_SK_PREFIX) {
                return Err(AppError::validation("cursor is invalid"));
            }
        }
        let resp = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(keys::SUBSCRIPTION_SK_PREFIX))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb query subscriptions", e))?;
        page_of(resp.items, resp.last_evaluated_key)
    }

    async fn active_subscriptions(&self, ws: &str) -> AppResult<Vec<Subscription>> {
        let items = self
            .query_all(
                &keys::subscriptions_partition(ws),
                keys::SUBSCRIPTION_SK_PREFIX,
                true,
            )
            .await?;
        let mut subs: Vec<Subscription> =
            items.into_iter().map(decode).collect::<AppResult<_>>()?;
        subs.retain(|s| s.active);
        Ok(subs)
    }

    async fn update_subscription(
        &self,
        ws: &str,
        id: &str,
        patch: &SubscriptionPatch,
        now: &str,
    ) -> AppResult<Subscription> {
        let mut sets: Vec<&str> = vec!["updatedAt = :now"];
        let mut names: Vec<(&str, &str)> = Vec::new();
        let mut values: Vec<(&str, AttributeValue)> = vec![(":now", s(now))];
        if let Some(v) = &patch.name {
            sets.push("#name = :name");
            names.push(("#name", "name"));
            values.push((":name", s(v)));
        }
        if let Some(v) = &patch.url {
            sets.push("#url = :url");
            names.push(("#url", "url"));
            values.push((":url", s(v)));
        }
        if let Some(v) = &patch.events {
            sets.push("events = :events");
            values.push((":events", AttributeValue::L(v.iter().map(s).collect())));
        }
        if let Some(v) = patch.description.as_ref().into_change() {
            sets.push("description = :description");
            values.push((":description", opt_s(v.map(String::as_str))));
        }
        if let Some(v) = patch.retry_attempts {
            sets.push("retryAttempts = :ra");
            values.push((":ra", n(i64::from(v))));
        }
        if let Some(v) = patch.retry_delay {
            sets.push("retryDelay = :rd");
            values.push((":rd", n(i64::from(v))));
        }
        if let Some(v) = patch.timeout_ms {
            sets.push("timeoutMs = :tm");
            values.push((":tm", n(i64::from(v))));
        }
        if let Some(v) = patch.max_consecutive_failures {
            sets.push("maxConsecutiveFailures = :mcf");
            values.push((":mcf", n(i64::from(v))));
        }
        let mut removes: Vec<&str> = Vec::new();
        match patch.rate_limit_per_second {
            Patch::Value(v) => {
                sets.push("rateLimitPerSecond = :rl");
                values.push((":rl", n(i64::from(v))));
            }
            Patch::Null => removes.push("rateLimitPerSecond"),
            Patch::Absent => {}
        }
        match &patch.headers {
            Patch::Value(v) => {
                sets.push("#hdr = :headers");
                names.push(("#hdr", "headers"));
                values.push((
                    ":headers",
                    AttributeValue::M(v.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
                ));
            }
            Patch::Null => {
                removes.push("#hdr");
                names.push(("#hdr", "headers"));
            }
            Patch::Absent => {}
        }
        match patch.active {
            Some(true) => {
                sets.push("active = :true");
                sets.push("disabledReason = :null");
                sets.push("consecutiveFailures = :zero");
                values.push((":true", AttributeValue::Bool(true)));
                values.push((":null", null()));
                values.push((":zero", n(0)));
            }
            Some(false) => {
                sets.push("active = :false");
                values.push((":false", AttributeValue::Bool(false)));
            }
            None => {}
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::subscription(ws, id))))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllNew);
        for (k, v) in names {
            req = req.expression_attribute_names(k, v);
        }
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        match req.send().await {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) if is_conditional_failure(&e) => Err(AppError::NotFound("webhook")),
            Err(e) => Err(crate::errors::sdk("dynamodb update subscription", e)),
        }
    }

    async fn delete_subscription(&self, ws: &str, id: &str) -> AppResult<Subscription> {
        let res = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::subscription(ws, id))))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) if is_conditional_failure(&e) => Err(AppError::NotFound("webhook")),
            Err(e) => Err(crate::errors::sdk("dynamodb delete subscription", e)),
        }
    }

    async fn rotate_secret(
        &self,
        ws: &str,
        id: &str,
        new_secret: &WebhookSecret,
        previous_expires_at: &str,
        now: &str,
    ) -> AppResult<Subscription> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::subscription(ws, id))))
            .update_expression(
                "SET previousSecret = secret, secret = :secret, \
                 previousSecretExpiresAt = :until, updatedAt = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":secret", s(new_secret.expose()))
            .expression_attribute_values(":until", s(previous_expires_at))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) if is_conditional_failure(&e) => Err(AppError::NotFound("webhook")),
            Err(e) => Err(crate::errors::sdk("dynamodb rotate secret", e)),
        }
    }

    async fn record_delivery_outcome(
        &self,
        ws: &str,
        id: &str,
        success: bool,
        now: &str,
    ) -> AppResult<OutcomeEffect> {
        let key = keys::subscription(ws, id);
        let req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&key)))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now))
            .return_values(ReturnValue::AllNew);
        let req = if success {
            req.update_expression(
                "ADD successCount :one \
                 SET consecutiveFailures = :zero, lastDeliveryStatus = :st, lastDeliveryAt = :now",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":st", s(DeliveryStatus::Success.as_str()))
        } else {
            req.update_expression(
                "ADD failedCount :one, consecutiveFailures :one \
                 SET lastDeliveryStatus = :st, lastDeliveryAt = :now",
            )
            .expression_attribute_values(":st", s(DeliveryStatus::Failed.as_str()))
        };
        let sub: Subscription = match req.send().await {
            Ok(out) => decode(out.attributes.unwrap_or_default())?,
            Err(e) if is_conditional_failure(&e) => return Ok(OutcomeEffect::default()),
            Err(e) => return Err(crate::errors::sdk("dynamodb record delivery outcome", e)),
        };
        let mut effect = OutcomeEffect {
            consecutive_failures: sub.consecutive_failures,
            disabled: false,
        };
        if !success && sub.active && sub.consecutive_failures >= sub.max_consecutive_failures {
            // Conditional on the stored streak, so a success or a re-enable in between wins.
            let res = self
                .client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(key_attrs(&key)))
                .update_expression(
                    "SET active = :false, disabledReason = :reason, updatedAt = :now",
                )
                .condition_expression(
                    "active = :true AND consecutiveFailures >= maxConsecutiveFailures",
                )
                .expression_attribute_values(":false", AttributeValue::Bool(false))
                .expression_attribute_values(":true", AttributeValue::Bool(true))
                .expression_attribute_values(
                    ":reason",
                    s(shared::subscriptions::streak_reason(
                        sub.consecutive_failures,
                    )),
                )
                .expression_attribute_values(":now", s(now))
                .send()
                .await;
            match res {
                Ok(_) => effect.disabled = true,
                Err(e) if is_conditional_failure(&e) => {}
                Err(e) => return Err(crate::errors::sdk("dynamodb auto-disable subscription", e)),
            }
        }
        Ok(effect)
    }

    async fn disable_subscription(
        &self,
        ws: &str,
        id: &str,
        reason: &str,
        now: &str,
    ) -> AppResult<bool> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::subscription(ws, id))))
            .update_expression("SET active = :false, disabledReason = :reason, updatedAt = :now")
            .condition_expression("active = :true")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        conditional(res, "dynamodb disable subscription")
    }

    async fn record_throttled_outcome(&self, ws: &str, id: &str, now: &str) -> AppResult<()> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::subscription(ws, id))))
            .update_expression(
                "ADD failedCount :one SET lastDeliveryStatus = :st, lastDeliveryAt = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":st", s(DeliveryStatus::Failed.as_str()))
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        conditional(res, "dynamodb record throttled outcome").map(|_| ())
    }

    async fn pacing_slot(&self, ws: &str, id: &str) -> AppResult<Option<i64>> {
        Ok(self
            .get(&keys::subscription_pacing(ws, id))
            .await?
            .and_then(|item| num_attr(&item, PACING_SLOT)))
    }

    async fn advance_pacing_slot(
        &self,
        ws: &str,
        id: &str,
        expected: Option<i64>,
        next: i64,
    ) -> AppResult<bool> {
        // Gone a day after its last slot: an idle subscription leaves nothing behind.
        let expires_at = next / 1_000_000 + 24 * 3600;
        let req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::subscription_pacing(ws, id))))
            .update_expression("SET #slot = :next, #ttl = :ttl")
            .expression_attribute_names("#slot", PACING_SLOT)
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":next", n(next))
            .expression_attribute_values(":ttl", n(expires_at));
        let req = match expected {
            Some(current) => req
                .condition_expression("#slot = :current")
                .expression_attribute_values(":current", n(current)),
            None => req.condition_expression("attribute_not_exists(#slot)"),
        };
        conditional(req.send().await, "dynamodb advance pacing slot")
    }
}

/// The pacing item's attribute: unix µs before which no call may start.
const PACING_SLOT: &str = "nextSlotUs";

const DELIVERY_NAMES: &[(&str, &str)] = &[("#s", "status"), ("#e", "error")];

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn create_delivery(&self, d: &Delivery) -> AppResult<bool> {
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(delivery_item(d)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(res, "dynamodb put delivery")
    }

    async fn get_delivery(&self, ws: &str, id: &str) -> AppResult<Option<Delivery>> {
        let d: Option<Delivery> = self.get_as(&keys::delivery(ws, id)).await?;
        let now = now_secs();
        Ok(d.filter(|d| !d.is_expired(now)))
    }

    async fn list_deliveries(
        &self,
        ws: &str,
        filter: &DeliveryFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Delivery>> {
        let mut q = match filter.subscription_id.as_deref() {
            Some(sub) => IndexQuery::new(
                keys::GSI1,
                keys::GSI1PK,
                keys::GSI1SK,
                keys::deliveries_index_pk(ws, sub),
            ),
            None => IndexQuery::new(
                keys::GSI3,
                keys::GSI3PK,
                keys::GSI3SK,
                keys::workspace_deliveries_index_pk(ws),
            ),
        }
        .live();
        q.sk_range = Some(filter.id_range());
        if let Some(status) = filter.status {
            q = q.filter("#st = :st", ("#st", "status"), (":st", s(status.as_str())));
        }
        match filter.event.as_deref() {
            None | Some("*") => {}
            // `prefix.*` → begins with `prefix.` (the exact rule is `filter.matches`).
            Some(p) => match p.strip_suffix('*') {
                Some(prefix) => {
                    q = q.filter(
                        "begins_with(#ev, :ev)",
                        ("#ev", "event"),
                        (":ev", s(prefix)),
                    )
                }
                None => q = q.filter("#ev = :ev", ("#ev", "event"), (":ev", s(p))),
            },
        }
        self.query_index_page(&q, cursor, limit, |d| filter.matches(d))
            .await
    }

    async fn claim_attempt(
        &self,
        ws: &str,
        id: &str,
        attempts: u32,
        until_ms: i64,
        now_ms: i64,
    ) -> AppResult<bool> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::delivery(ws, id))))
            .update_expression("SET claimUntil = :until")
            .condition_expression(
                "#s = :pending AND attempts = :n \
                 AND (attribute_not_exists(claimUntil) OR claimUntil < :now)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":n", n(i64::from(attempts)))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        conditional(res, "dynamodb claim delivery attempt")
    }

    async fn record_attempt(
        &self,
        ws: &str,
        id: &str,
        record: &AttemptRecord,
        result: &AttemptResult,
    ) -> AppResult<bool> {
        let entry =
            to_attribute_value(record).map_err(|e| AppError::internal("encode attempt", e))?;
        const SET: &str = "SET attempts = :n, \
             attemptLog = list_append(if_not_exists(attemptLog, :empty), :entry), \
             #s = :status, statusCode = :code, responseBody = :body, #e = :error, \
             durationMs = :duration, lastAttemptAt = :at, nextAttemptAt = :next, updatedAt = :done";
        // Still pending: its place in the pending index moves to the retry's due time;
        // finished: it leaves the (sparse) index.
        let retry_at = match result.status {
            DeliveryStatus::Pending => result.next_attempt_at.as_deref(),
            _ => None,
        };
        let expression = match retry_at {
            Some(_) => format!("{SET}, gsi2pk = :g2pk, gsi2sk = :g2sk REMOVE claimUntil"),
            None => format!("{SET} REMOVE claimUntil, gsi2pk, gsi2sk"),
        };
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::delivery(ws, id))))
            .update_expression(expression)
            .condition_expression("#s = :pending AND attempts = :prev");
        if let Some(next) = retry_at {
            req = req
                .expression_attribute_values(":g2pk", s(keys::pending_deliveries_index_pk(ws)))
                .expression_attribute_values(":g2sk", s(keys::pending_delivery_position(next, id)));
        }
        for (k, v) in DELIVERY_NAMES {
            req = req.expression_attribute_names(*k, *v);
        }
        let res = req
            .expression_attribute_values(":n", n(i64::from(record.attempt)))
            .expression_attribute_values(":prev", n(i64::from(record.attempt.saturating_sub(1))))
            .expression_attribute_values(":empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":entry", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":status", s(result.status.as_str()))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(
                ":code",
                record
                    .status_code
                    .map(|c| n(i64::from(c)))
                    .unwrap_or_else(null),
            )
            .expression_attribute_values(":body", s(&record.response_body))
            .expression_attribute_values(":error", opt_s(record.error.as_deref()))
            .expression_attribute_values(
                ":duration",
                n(i64::try_from(record.duration_ms).unwrap_or(i64::MAX)),
            )
            .expression_attribute_values(":at", s(&record.at))
            .expression_attribute_values(":next", opt_s(result.next_attempt_at.as_deref()))
            .expression_attribute_values(":done", s(&record.completed_at))
            .send()
            .await;
        conditional(res, "dynamodb record delivery attempt")
    }

    async fn fail_delivery(&self, ws: &str, id: &str, error: &str, now: &str) -> AppResult<bool> {
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::delivery(ws, id))))
            .update_expression(
                "SET #s = :failed, #e = :error, nextAttemptAt = :null, updatedAt = :now \
                 REMOVE claimUntil, gsi2pk, gsi2sk",
            )
            .condition_expression("#s = :pending");
        for (k, v) in DELIVERY_NAMES {
            req = req.expression_attribute_names(*k, *v);
        }
        let res = req
            .expression_attribute_values(":failed", s(DeliveryStatus::Failed.as_str()))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":error", s(error))
            .expression_attribute_values(":null", null())
            .expression_attribute_values(":now", s(now))
            .send()
            .await;
        conditional(res, "dynamodb fail delivery")
    }

    async fn requeue_delivery(
        &self,
        ws: &str,
        subscription_id: &str,
        id: &str,
        now: &str,
        expires_at: i64,
    ) -> AppResult<Delivery> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::delivery(ws, id))))
            .update_expression(
                "SET #s = :pending, roundStart = attempts, nextAttemptAt = :now, updatedAt = :now, \
                 #ttl = :exp, gsi2pk = :g2pk, gsi2sk = :g2sk",
            )
            .expression_attribute_values(":g2pk", s(keys::pending_deliveries_index_pk(ws)))
            .expression_attribute_values(":g2sk", s(keys::pending_delivery_position(now, id)))
            .condition_expression("attribute_exists(pk) AND subscriptionId = :sub AND #ttl > :nowsecs")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":sub", s(subscription_id))
            .expression_attribute_values(":nowsecs", n(now_secs()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => decode(out.attributes.unwrap_or_default()),
            Err(e) if is_conditional_failure(&e) => Err(AppError::NotFound("delivery")),
            Err(e) => Err(crate::errors::sdk("dynamodb requeue delivery", e)),
        }
    }

    async fn overdue_deliveries(
        &self,
        ws: &str,
        due_before: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<Delivery>> {
        let gsi2pk = keys::pending_deliveries_index_pk(ws);
        let start = checked_cursor(cursor, keys::GSI2PK, &gsi2pk)?;
        let resp = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI2)
            .key_condition_expression("gsi2pk = :pk AND gsi2sk < :before")
            // The index is eventually consistent: a delivery that just finished may linger.
            .filter_expression("#s = :pending AND #ttl > :now")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":pk", s(&gsi2pk))
            .expression_attribute_values(":before", s(due_before))
            .expression_attribute_values(":pending", s(DeliveryStatus::Pending.as_str()))
            .expression_attribute_values(":now", n(now_secs()))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb query overdue deliveries", e))?;
        page_of(resp.items, resp.last_evaluated_key)
    }

    async fn failed_deliveries_since(
        &self,
        ws: &str,
        subscription_id: &str,
        from_id: &str,
        limit: u32,
    ) -> AppResult<Vec<Delivery>> {
        let limit = limit.clamp(1, 1000) as usize;
        let mut out: Vec<Delivery> = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let resp = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI1)
                .key_condition_expression("gsi1pk = :pk AND gsi1sk >= :from")
                .filter_expression("#s = :failed AND #ttl > :now")
                .expression_attribute_names("#s", "status")
                .expression_attribute_names("#ttl", keys::TTL)
                .expression_attribute_values(
                    ":pk",
                    s(keys::deliveries_index_pk(ws, subscription_id)),
                )
                .expression_attribute_values(":from", s(from_id))
                .expression_attribute_values(":failed", s(DeliveryStatus::Failed.as_str()))
                .expression_attribute_values(":now", n(now_secs()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb query failed deliveries", e))?;
            for item in resp.items.unwrap_or_default() {
                out.push(decode(item)?);
                if out.len() >= limit {
                    return Ok(out);
                }
            }
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}
