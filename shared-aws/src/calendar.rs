//! `CalendarStore` on DynamoDB. The event and its mapping share a partition
//! (`keys::calendar_event` / `keys::sync_mapping`); a local change writes both in one
//! TransactWriteItems conditional on the event's revision. The mapping carries the send lease
//! and its sync writes are conditional on it (and on the revision they were planned for).
//! Listing uses GSI1 (all mappings involving GHL) and GSI2 (one status), newest first; the
//! counts are COUNT queries on the three status partitions.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};

use crate::keys;
use crate::table::{
    checked_cursor, conditional, decode, encode, is_conditional_failure, key_attrs, n, null, opt_s,
    page_of, put, s, update, DynamoStore, Item, Tx, UpdateSpec,
};
use shared::calendar::{
    CalendarEvent, CalendarStore, GhlState, StatusUpdate, SyncCounts, SyncMapping, SyncStatus,
};
use shared::error::{AppError, AppResult};
use shared::paging::Page;

fn num(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The index attributes of a mapping in `status`: GSI2 always (its status partition), GSI1
/// only when GHL is involved (not `not_applicable`).
fn index_attrs(ws: &str, id: &str, status: SyncStatus) -> Vec<(&'static str, AttributeValue)> {
    let mut v = vec![
        (
            keys::GSI2PK,
            s(keys::sync_mappings_status_index_pk(ws, status.as_str())),
        ),
        (keys::GSI2SK, s(id)),
    ];
    if status != SyncStatus::NotApplicable {
        v.push((keys::GSI1PK, s(keys::sync_mappings_index_pk(ws))));
        v.push((keys::GSI1SK, s(id)));
    }
    v
}

/// `SET` clauses (with `:g2pk`, `:g2sk`, `:g1pk`, `:g1sk` values) and the `REMOVE` clause that
/// move a mapping's index attributes to `status`.
fn index_update(
    ws: &str,
    id: &str,
    status: SyncStatus,
) -> (
    String,
    Option<&'static str>,
    Vec<(&'static str, AttributeValue)>,
) {
    let mut set = "gsi2pk = :g2pk, gsi2sk = :g2sk".to_owned();
    let mut values = vec![
        (
            ":g2pk",
            s(keys::sync_mappings_status_index_pk(ws, status.as_str())),
        ),
        (":g2sk", s(id)),
    ];
    if status == SyncStatus::NotApplicable {
        return (set, Some("gsi1pk, gsi1sk"), values);
    }
    set.push_str(", gsi1pk = :g1pk, gsi1sk = :g1sk");
    values.push((":g1pk", s(keys::sync_mappings_index_pk(ws))));
    values.push((":g1sk", s(id)));
    (set, None, values)
}

fn update_expression(set: &str, remove: Option<&str>) -> String {
    match remove {
        Some(r) => format!("SET {set} REMOVE {r}"),
        None => format!("SET {set}"),
    }
}

impl DynamoStore {
    async fn count_status(&self, ws: &str, status: SyncStatus) -> AppResult<u64> {
        let mut total = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let resp = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(keys::GSI2)
                .key_condition_expression("gsi2pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    s(keys::sync_mappings_status_index_pk(ws, status.as_str())),
                )
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb count sync mappings", e))?;
            total += resp.count.max(0) as u64;
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}

#[async_trait]
impl CalendarStore for DynamoStore {
    async fn create_calendar_event(
        &self,
        event: &CalendarEvent,
        mapping: &SyncMapping,
    ) -> AppResult<()> {
        let ws = &event.workspace_id;
        let event_item = encode(event, &keys::calendar_event(ws, &event.id), &[])?;
        let mapping_item = encode(
            mapping,
            &keys::sync_mapping(ws, &event.id),
            &index_attrs(ws, &event.id, mapping.sync_status),
        )?;
        let items = Tx::new()
            .with(
                "event",
                put(
                    self.table(),
                    event_item,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            )
            .with(
                "mapping",
                put(
                    self.table(),
                    mapping_item,
                    Some("attribute_not_exists(pk)"),
                    &[],
                )?,
            );
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(r) => Err(r.unexpected("create calendar event")),
        }
    }

    async fn get_calendar_event(&self, ws: &str, id: &str) -> AppResult<Option<CalendarEvent>> {
        self.get_as(&keys::calendar_event(ws, id)).await
    }

    async fn update_calendar_event(
        &self,
        event: &CalendarEvent,
        status: SyncStatus,
        now: &str,
    ) -> AppResult<SyncMapping> {
        let ws = &event.workspace_id;
        let id = &event.id;
        let mapping_key = keys::sync_mapping(ws, id);
        let (index_set, index_remove, index_values) = index_update(ws, id, status);
        let expression = update_expression(
            &format!(
                "version = :rev, syncStatus = :st, attempts = :zero, syncError = :null, \
                 updatedAt = :now, {index_set}"
            ),
            index_remove,
        );
        let mut values = vec![
            (":rev", num(event.revision)),
            (":st", s(status.as_str())),
            (":zero", n(0)),
            (":null", null()),
            (":now", s(now)),
        ];
        values.extend(index_values);
        let items = Tx::new()
            .with("event", put(
                self.table(),
                encode(event, &keys::calendar_event(ws, id), &[])?,
                Some(
                    "attribute_exists(pk) AND attribute_not_exists(deletedAt) AND revision = :prev",
                ),
                &[(":prev", num(event.revision.saturating_sub(1)))],
            )?)
            .with("mapping", update(
                self.table(),
                UpdateSpec {
                    key: &mapping_key,
                    expression: &expression,
                    condition: Some("attribute_exists(pk)"),
                    names: &[],
                    values,
                    return_old_on_failure: false,
                },
            )?);
        match self.transact(items).await? {
            Ok(()) => {}
            Err(reasons) if reasons.failed("event") => {
                // Gone, deleted, or another change moved the revision.
                return match self.get_calendar_event(ws, id).await? {
                    Some(e) if !e.is_deleted() => Err(AppError::TransactionConflict),
                    _ => Err(AppError::NotFound("calendar event")),
                };
            }
            Err(reasons) if reasons.failed("mapping") => {
                return Err(AppError::NotFound("sync mapping"))
            }
            Err(reasons) => return Err(reasons.unexpected("update calendar event")),
        }
        self.get_sync_mapping(ws, id)
            .await?
            .ok_or(AppError::NotFound("sync mapping"))
    }

    async fn get_sync_mapping(&self, ws: &str, id: &str) -> AppResult<Option<SyncMapping>> {
        self.get_as(&keys::sync_mapping(ws, id)).await
    }

    async fn list_sync_mappings(
        &self,
        ws: &str,
        status: Option<SyncStatus>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<SyncMapping>> {
        let (index, pk_attr, pk) = match status {
            Some(st) => (
                keys::GSI2,
                keys::GSI2PK,
                keys::sync_mappings_status_index_pk(ws, st.as_str()),
            ),
            None => (keys::GSI1, keys::GSI1PK, keys::sync_mappings_index_pk(ws)),
        };
        let resp = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(&pk))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(checked_cursor(cursor, pk_attr, &pk)?)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb list sync mappings", e))?;
        page_of(resp.items, resp.last_evaluated_key)
    }

    async fn count_sync_mappings(&self, ws: &str) -> AppResult<SyncCounts> {
        let (synced, pending, failed) = futures::try_join!(
            self.count_status(ws, SyncStatus::Synced),
            self.count_status(ws, SyncStatus::Pending),
            self.count_status(ws, SyncStatus::Failed),
        )?;
        Ok(SyncCounts {
            synced,
            pending,
            failed,
        })
    }

    async fn claim_sync(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        ttl: Duration,
    ) -> AppResult<Option<SyncMapping>> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::sync_mapping(ws, id))))
            .update_expression("SET leaseOwner = :owner, leaseUntil = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now)",
            )
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(now_ms + ttl.as_millis() as i64))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => decode(out.attributes.unwrap_or_default()).map(Some),
            Err(e) if is_conditional_failure(&e) => match self.get_sync_mapping(ws, id).await? {
                Some(_) => Ok(None),
                None => Err(AppError::NotFound("sync mapping")),
            },
            Err(e) => Err(crate::errors::sdk("dynamodb claim calendar sync", e)),
        }
    }

    async fn record_ghl_state(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        state: &GhlState,
    ) -> AppResult<bool> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::sync_mapping(ws, id))))
            .update_expression(
                "SET ghlAppointmentId = :appt, ghlDeleted = :deleted, syncedVersion = :sv, \
                 lastSyncAttempt = :at, updatedAt = :at ADD attempts :one",
            )
            .condition_expression("leaseOwner = :owner")
            .expression_attribute_values(":appt", opt_s(state.ghl_appointment_id.as_deref()))
            .expression_attribute_values(":deleted", AttributeValue::Bool(state.ghl_deleted))
            .expression_attribute_values(":sv", num(state.synced_version))
            .expression_attribute_values(":at", s(&state.last_sync_attempt))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        conditional(res, "dynamodb record GHL state")
    }

    async fn set_sync_status(
        &self,
        ws: &str,
        id: &str,
        owner: &str,
        expected_version: u64,
        u: &StatusUpdate,
    ) -> AppResult<bool> {
        let (index_set, index_remove, index_values) = index_update(ws, id, u.status);
        let mut set = format!(
            "syncStatus = :st, syncError = :err, updatedAt = :now, retryAt = :retry, {index_set}"
        );
        if u.attempts.is_some() {
            set.push_str(", attempts = :attempts");
        }
        if u.last_sync_attempt.is_some() {
            set.push_str(", lastSyncAttempt = :at");
        }
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::sync_mapping(ws, id))))
            .update_expression(update_expression(&set, index_remove))
            .condition_expression("leaseOwner = :owner AND version = :v")
            .expression_attribute_values(":st", s(u.status.as_str()))
            .expression_attribute_values(":err", opt_s(u.sync_error.as_deref()))
            .expression_attribute_values(":retry", opt_s(u.retry_at.as_deref()))
            .expression_attribute_values(":now", s(&u.now))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":v", num(expected_version));
        for (k, v) in index_values {
            req = req.expression_attribute_values(k, v);
        }
        if let Some(a) = u.attempts {
            req = req.expression_attribute_values(":attempts", n(i64::from(a)));
        }
        if let Some(at) = &u.last_sync_attempt {
            req = req.expression_attribute_values(":at", s(at));
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(crate::errors::sdk("dynamodb set sync status", e)),
        }
    }

    async fn release_sync(&self, ws: &str, id: &str, owner: &str) -> AppResult<()> {
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::sync_mapping(ws, id))))
            .update_expression("REMOVE leaseOwner, leaseUntil")
            .condition_expression("leaseOwner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(crate::errors::sdk("dynamodb release calendar sync", e)),
        }
    }

    async fn requeue_sync(
        &self,
        ws: &str,
        id: &str,
        from: &[SyncStatus],
        now: &str,
    ) -> AppResult<Option<SyncMapping>> {
        // Conditional on the status read, re-read when a sync moved it meanwhile.
        for _ in 0..3 {
            let Some(current) = self.get_sync_mapping(ws, id).await? else {
                return Err(AppError::NotFound("sync mapping"));
            };
            if !from.contains(&current.sync_status) {
                return Ok(None);
            }
            let (index_set, index_remove, index_values) = index_update(ws, id, SyncStatus::Pending);
            let mut req = self
                .client()
                .update_item()
                .table_name(self.table())
                .set_key(Some(key_attrs(&keys::sync_mapping(ws, id))))
                .update_expression(update_expression(
                    &format!(
                        "syncStatus = :pending, attempts = :zero, syncError = :null, \
                         updatedAt = :now, {index_set}"
                    ),
                    index_remove,
                ))
                .condition_expression("syncStatus = :old")
                .expression_attribute_values(":pending", s(SyncStatus::Pending.as_str()))
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":null", null())
                .expression_attribute_values(":now", s(now))
                .expression_attribute_values(":old", s(current.sync_status.as_str()))
                .return_values(ReturnValue::AllNew);
            for (k, v) in index_values {
                req = req.expression_attribute_values(k, v);
            }
            match req.send().await {
                Ok(out) => return decode(out.attributes.unwrap_or_default()).map(Some),
                Err(e) if is_conditional_failure(&e) => continue,
                Err(e) => return Err(crate::errors::sdk("dynamodb requeue sync mapping", e)),
            }
        }
        Err(AppError::TransactionConflict)
    }
}
