//! DynamoDB adapter of the inbound ports. Invariants are condition expressions:
//! - the provider event id: `attribute_not_exists(pk) OR expires_at <= :now` on the event's put;
//! - record ordering: the put of a record is conditional on the stored `eventCreated` and,
//!   at equal times, the stored arrival (`inboundEventId`) and tombstone flag;
//! - job updates: conditional on the stored `version`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};

use crate::keys::{self, Key};
use crate::table::{
    checked_cursor, conditional, decode, encode, is_conditional_failure, key_attrs, n, next_cursor,
    num_attr, put, s, str_attr, DynamoStore, Item, Tx,
};
use shared::error::{AppError, AppResult};
use shared::inbound::domain::{EventChange, EventCounts, EventStatus, InboundEvent, SyncJob};
use shared::inbound::ports::{InboundEventStore, InsertOutcome, SyncJobStore};
use shared::paging::Page;

mod backfill;
mod destinations;
mod records;

/// A raw body is split into items of at most this many bytes (an item holds 400 KB).
const RAW_CHUNK_BYTES: usize = 300_000;
const ATTR_RAW: &str = "raw";
const ATTR_RAW_CHUNKS: &str = "rawChunks";

/// Splits `raw` into pieces of at most `max` bytes, on character boundaries.
pub(crate) fn split_raw(raw: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = raw;
    while rest.len() > max {
        let mut end = max;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// One page of a Query. `partition` is (attribute, value) of the key condition's hash key.
struct PageQuery<'a> {
    index: Option<&'a str>,
    partition: (&'a str, String),
    /// Extra key condition on the range key, with its values.
    range: Option<(&'a str, Vec<(&'a str, AttributeValue)>)>,
    forward: bool,
    /// Filters out items whose `expires_at` has passed.
    unexpired_at: Option<i64>,
}

impl DynamoStore {
    async fn query_page(
        &self,
        q: &PageQuery<'_>,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<(Vec<Item>, Option<String>)> {
        let start = checked_cursor(cursor, q.partition.0, &q.partition.1)?;
        let mut cond = format!("{} = :p", q.partition.0);
        let mut req = self
            .client()
            .query()
            .table_name(self.table())
            .set_index_name(q.index.map(str::to_owned))
            .expression_attribute_values(":p", s(&q.partition.1))
            .scan_index_forward(q.forward)
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start);
        if let Some((expr, values)) = &q.range {
            cond.push_str(" AND ");
            cond.push_str(expr);
            for (k, v) in values {
                req = req.expression_attribute_values(*k, v.clone());
            }
        }
        if let Some(now) = q.unexpired_at {
            req = req
                .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
                .expression_attribute_values(":now", n(now));
        }
        let resp = req
            .key_condition_expression(cond)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb Query inbound", e))?;
        let next = next_cursor(resp.last_evaluated_key);
        Ok((resp.items.unwrap_or_default(), next))
    }

    /// Counts matching items across all pages.
    async fn query_count(&self, q: &PageQuery<'_>) -> AppResult<u64> {
        let mut total = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let mut cond = format!("{} = :p", q.partition.0);
            let mut req = self
                .client()
                .query()
                .table_name(self.table())
                .set_index_name(q.index.map(str::to_owned))
                .select(Select::Count)
                .expression_attribute_values(":p", s(&q.partition.1))
                .set_exclusive_start_key(start.take());
            if let Some((expr, values)) = &q.range {
                cond.push_str(" AND ");
                cond.push_str(expr);
                for (k, v) in values {
                    req = req.expression_attribute_values(*k, v.clone());
                }
            }
            if let Some(now) = q.unexpired_at {
                req = req
                    .filter_expression("attribute_not_exists(expires_at) OR expires_at > :now")
                    .expression_attribute_values(":now", n(now));
            }
            let resp = req
                .key_condition_expression(cond)
                .send()
                .await
                .map_err(|e| crate::errors::sdk("dynamodb Query count", e))?;
            total += resp.count.max(0) as u64;
            match resp.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}

// --- sync jobs -------------------------------------------------------------------------------

#[async_trait]
impl SyncJobStore for DynamoStore {
    async fn create_sync_job(&self, job: &SyncJob) -> AppResult<()> {
        let item = encode(job, &keys::sync_job(&job.workspace_id, &job.id), &[])?;
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb PutItem sync job", e))?;
        Ok(())
    }

    async fn get_sync_job(&self, ws: &str, job_id: &str) -> AppResult<Option<SyncJob>> {
        self.get_as(&keys::sync_job(ws, job_id)).await
    }

    async fn list_sync_jobs(
        &self,
        ws: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> AppResult<Page<SyncJob>> {
        let q = PageQuery {
            index: None,
            partition: (keys::PK, keys::workspace(ws).pk),
            range: Some((
                "begins_with(sk, :sk)",
                vec![(":sk", s(keys::SYNC_JOB_SK_PREFIX))],
            )),
            forward: false,
            unexpired_at: None,
        };
        let (items, next_cursor) = self.query_page(&q, cursor, limit).await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<AppResult<_>>()?,
            next_cursor,
        })
    }

    async fn update_sync_job(&self, job: &SyncJob) -> AppResult<()> {
        let key = keys::sync_job(&job.workspace_id, &job.id);
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(encode(job, &key, &[])?))
            .condition_expression("attribute_exists(pk) AND version = :prev")
            .expression_attribute_values(":prev", n(job.version - 1))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => {
                if self.get(&key).await?.is_some() {
                    Err(AppError::TransactionConflict)
                } else {
                    Err(AppError::NotFound("sync job"))
                }
            }
            Err(e) => Err(crate::errors::sdk("dynamodb PutItem sync job", e)),
        }
    }

    async fn delete_sync_job(&self, ws: &str, job_id: &str) -> AppResult<Option<SyncJob>> {
        let out = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(&keys::sync_job(ws, job_id))))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb DeleteItem sync job", e))?;
        out.attributes
            .filter(|a| !a.is_empty())
            .map(decode)
            .transpose()
    }
}

// --- inbound events --------------------------------------------------------------------------

fn event_item(ev: &InboundEvent, raw_first: &str, chunks: usize) -> AppResult<Item> {
    let key = keys::inbound_event(&ev.workspace_id, &ev.job_id, &ev.provider_event_id);
    encode(
        ev,
        &key,
        &[
            (
                keys::GSI1PK,
                s(keys::inbound_events_index_pk(&ev.workspace_id, &ev.job_id)),
            ),
            (keys::GSI1SK, s(&ev.id)),
            (
                keys::GSI2PK,
                s(keys::inbound_events_status_index_pk(
                    &ev.workspace_id,
                    &ev.job_id,
                    ev.status.as_str(),
                )),
            ),
            (keys::GSI2SK, s(&ev.id)),
            (keys::TTL, n(ev.expires_at)),
            (ATTR_RAW, s(raw_first)),
            (ATTR_RAW_CHUNKS, n(chunks as i64)),
        ],
    )
}

fn chunk_item(ev: &InboundEvent, index: usize, piece: &str) -> Item {
    let mut item = key_attrs(&keys::inbound_event_chunk(
        &ev.workspace_id,
        &ev.job_id,
        &ev.provider_event_id,
        index,
    ));
    item.insert(ATTR_RAW.to_owned(), s(piece));
    item.insert(keys::TTL.to_owned(), n(ev.expires_at));
    item
}

/// Decodes an event item (without the chunks beyond the first).
fn decode_event(mut item: Item) -> AppResult<(InboundEvent, usize)> {
    let raw = match item.remove(ATTR_RAW) {
        Some(AttributeValue::S(v)) => v,
        _ => String::new(),
    };
    let chunks = num_attr(&item, ATTR_RAW_CHUNKS).unwrap_or(1).max(1) as usize;
    let mut ev: InboundEvent = decode(item)?;
    ev.raw_body = raw;
    Ok((ev, chunks))
}

#[async_trait]
impl InboundEventStore for DynamoStore {
    async fn insert_event(&self, ev: &InboundEvent, now: i64) -> AppResult<InsertOutcome> {
        const CONDITION: &str = "attribute_not_exists(pk) OR expires_at <= :now";
        let pieces = split_raw(&ev.raw_body, RAW_CHUNK_BYTES);
        let main = event_item(ev, pieces[0], pieces.len())?;
        let duplicate = if pieces.len() == 1 {
            let res = self
                .client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(main))
                .condition_expression(CONDITION)
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match res {
                Ok(_) => false,
                Err(e) if is_conditional_failure(&e) => true,
                Err(e) => return Err(crate::errors::sdk("dynamodb PutItem inbound event", e)),
            }
        } else {
            // A body beyond one item: the event and its pieces in one transaction.
            let mut items = Tx::new().with(
                "event",
                put(self.table(), main, Some(CONDITION), &[(":now", n(now))])?,
            );
            for (i, piece) in pieces.iter().enumerate().skip(1) {
                items.add(
                    "piece",
                    put(self.table(), chunk_item(ev, i, piece), None, &[])?,
                );
            }
            match self.transact(items).await? {
                Ok(()) => false,
                Err(r) if r.failed("event") => true,
                Err(r) => return Err(r.unexpected("insert inbound event")),
            }
        };
        if !duplicate {
            return Ok(InsertOutcome::Inserted);
        }
        match self
            .get_event(&ev.workspace_id, &ev.job_id, &ev.provider_event_id, now)
            .await?
        {
            Some(existing) => Ok(InsertOutcome::Duplicate(Box::new(existing))),
            None => Err(AppError::TransactionConflict),
        }
    }

    async fn get_event(
        &self,
        ws: &str,
        job_id: &str,
        provider_event_id: &str,
        now: i64,
    ) -> AppResult<Option<InboundEvent>> {
        let key = keys::inbound_event(ws, job_id, provider_event_id);
        let Some(item) = self.get(&key).await? else {
            return Ok(None);
        };
        let (mut ev, chunks) = decode_event(item)?;
        if ev.is_expired(now) {
            return Ok(None);
        }
        if chunks > 1 {
            let mut pieces = self
                .query_all(&key.pk, keys::INBOUND_EVENT_CHUNK_SK_PREFIX, true)
                .await?;
            pieces.sort_by_key(|i| str_attr(i, keys::SK));
            for p in pieces.iter().take(chunks - 1) {
                ev.raw_body
                    .push_str(&str_attr(p, ATTR_RAW).unwrap_or_default());
            }
        }
        Ok(Some(ev))
    }

    async fn find_event(
        &self,
        ws: &str,
        job_id: &str,
        event_id: &str,
        now: i64,
    ) -> AppResult<Option<InboundEvent>> {
        let resp = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .key_condition_expression("gsi1pk = :p AND gsi1sk = :id")
            .expression_attribute_values(":p", s(keys::inbound_events_index_pk(ws, job_id)))
            .expression_attribute_values(":id", s(event_id))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb Query inbound event by id", e))?;
        let Some(item) = resp.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        let Some(provider_id) = str_attr(&item, "providerEventId") else {
            return Ok(None);
        };
        // Re-read from the table: consistent, and with every piece of the body.
        self.get_event(ws, job_id, &provider_id, now).await
    }

    async fn list_events(
        &self,
        ws: &str,
        job_id: &str,
        status: Option<EventStatus>,
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<InboundEvent>> {
        let q = match status {
            Some(st) => PageQuery {
                index: Some(keys::GSI2),
                partition: (
                    keys::GSI2PK,
                    keys::inbound_events_status_index_pk(ws, job_id, st.as_str()),
                ),
                range: None,
                forward: false,
                unexpired_at: Some(now),
            },
            None => PageQuery {
                index: Some(keys::GSI1),
                partition: (keys::GSI1PK, keys::inbound_events_index_pk(ws, job_id)),
                range: None,
                forward: false,
                unexpired_at: Some(now),
            },
        };
        let (items, next_cursor) = self.query_page(&q, cursor, limit).await?;
        let items = items
            .into_iter()
            .map(|i| {
                decode_event(i).map(|(mut e, _)| {
                    e.raw_body.clear();
                    e
                })
            })
            .collect::<AppResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn list_events_between(
        &self,
        ws: &str,
        job_id: &str,
        ids: (&str, &str),
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<InboundEvent>> {
        let q = PageQuery {
            index: Some(keys::GSI1),
            partition: (keys::GSI1PK, keys::inbound_events_index_pk(ws, job_id)),
            range: Some((
                "gsi1sk BETWEEN :from AND :to",
                vec![(":from", s(ids.0)), (":to", s(ids.1))],
            )),
            forward: true,
            unexpired_at: Some(now),
        };
        let (items, next_cursor) = self.query_page(&q, cursor, limit).await?;
        let items = items
            .into_iter()
            .map(|i| {
                decode_event(i).map(|(mut e, _)| {
                    e.raw_body.clear();
                    e
                })
            })
            .collect::<AppResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn update_event(
        &self,
        ws: &str,
        job_id: &str,
        provider_event_id: &str,
        change: &EventChange,
    ) -> AppResult<bool> {
        let key = keys::inbound_event(ws, job_id, provider_event_id);
        // First with the error appended to `errors`; if the list is full, without it.
        if self
            .update_event_once(&key, ws, job_id, change, true)
            .await?
        {
            return Ok(true);
        }
        // The condition failed: gone, another status, or a full error list.
        let Some(item) = self.get(&key).await? else {
            return Err(AppError::NotFound("event"));
        };
        let status = str_attr(&item, "status").unwrap_or_default();
        if change
            .expect_status
            .is_some_and(|expected| expected.as_str() != status)
        {
            return Ok(false);
        }
        if change.error.is_some()
            && self
                .update_event_once(&key, ws, job_id, change, false)
                .await?
        {
            return Ok(true);
        }
        // Changed between the read and the retry: the caller's expectation no longer holds.
        Ok(false)
    }

    async fn count_events(
        &self,
        ws: &str,
        job_id: &str,
        today_from_id: &str,
        now: i64,
    ) -> AppResult<EventCounts> {
        let mut counts = EventCounts::default();
        for st in EventStatus::ALL {
            let q = PageQuery {
                index: Some(keys::GSI2),
                partition: (
                    keys::GSI2PK,
                    keys::inbound_events_status_index_pk(ws, job_id, st.as_str()),
                ),
                range: None,
                forward: true,
                unexpired_at: Some(now),
            };
            counts.add(st, self.query_count(&q).await?);
        }
        let today = PageQuery {
            index: Some(keys::GSI1),
            partition: (keys::GSI1PK, keys::inbound_events_index_pk(ws, job_id)),
            range: Some(("gsi1sk >= :from", vec![(":from", s(today_from_id))])),
            forward: true,
            unexpired_at: Some(now),
        };
        counts.today = self.query_count(&today).await?;
        Ok(counts)
    }
}

impl DynamoStore {
    /// One UpdateItem of an event; false when its condition failed (the event is gone, in
    /// another status than `expect_status`, or — with `append_error` — its error list is full).
    async fn update_event_once(
        &self,
        key: &Key,
        ws: &str,
        job_id: &str,
        change: &EventChange,
        append_error: bool,
    ) -> AppResult<bool> {
        let mut set = vec![
            "#st = :st".to_owned(),
            "gsi2pk = :g2".to_owned(),
            "updatedAt = :now".to_owned(),
        ];
        let mut values: HashMap<String, AttributeValue> = HashMap::from([
            (":st".to_owned(), s(change.status.as_str())),
            (
                ":g2".to_owned(),
                s(keys::inbound_events_status_index_pk(
                    ws,
                    job_id,
                    change.status.as_str(),
                )),
            ),
            (":now".to_owned(), s(&change.now)),
        ]);
        let mut condition = "attribute_exists(pk)".to_owned();
        if let Some(expected) = change.expect_status {
            condition.push_str(" AND #st = :expected");
            values.insert(":expected".to_owned(), s(expected.as_str()));
        }
        let optional = [
            ("objectType", &change.object_type),
            ("objectId", &change.object_id),
            ("eventCreated", &change.event_created),
            ("outcome", &change.outcome),
            ("processedAt", &change.processed_at),
        ];
        for (attr, value) in optional {
            if let Some(v) = value {
                set.push(format!("{attr} = :{attr}"));
                values.insert(format!(":{attr}"), s(v));
            }
        }
        if let Some(err) = &change.error {
            set.push("lastError = :err".to_owned());
            values.insert(":err".to_owned(), s(&err.error));
            if append_error {
                set.push("errors = list_append(if_not_exists(errors, :empty), :errs)".to_owned());
                values.insert(":empty".to_owned(), AttributeValue::L(vec![]));
                values.insert(
                    ":errs".to_owned(),
                    AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                        ("at".to_owned(), s(&err.at)),
                        ("error".to_owned(), s(&err.error)),
                    ]))]),
                );
                values.insert(
                    ":max".to_owned(),
                    n(shared::inbound::domain::MAX_EVENT_ERRORS as i64),
                );
                condition.push_str(" AND (attribute_not_exists(errors) OR size(errors) < :max)");
            }
        }
        // `nextRetryAt` exists only while an automatic retry is scheduled.
        if let Some(at) = &change.next_retry_at {
            set.push("nextRetryAt = :nextRetryAt".to_owned());
            values.insert(":nextRetryAt".to_owned(), s(at));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if change.next_retry_at.is_none() {
            expression.push_str(" REMOVE nextRetryAt");
        }
        let mut add = Vec::new();
        if change.count_attempt {
            add.push("attempts :one");
        }
        if change.count_auto_retry {
            add.push("autoRetries :one");
        }
        if !add.is_empty() {
            expression.push_str(&format!(" ADD {}", add.join(", ")));
            values.insert(":one".to_owned(), n(1));
        }
        let res = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_attrs(key)))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#st", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(res, "dynamodb UpdateItem inbound event")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::encode_cursor;

    #[test]
    fn raw_bodies_split_on_char_boundaries() {
        let body = "é".repeat(10); // 20 bytes
        let pieces = split_raw(&body, 7);
        assert!(pieces.iter().all(|p| p.len() <= 7));
        assert_eq!(pieces.concat(), body);
        assert_eq!(split_raw("", 7), vec![""]);
        assert_eq!(split_raw("abc", 7), vec!["abc"]);
    }

    #[test]
    fn cursors_of_another_partition_are_refused() {
        let c = encode_cursor(&HashMap::from([
            ("gsi1pk".to_owned(), s("WS#ws_b#SYNCJOB#job_x#EVENTS")),
            ("gsi1sk".to_owned(), s("iev_1")),
        ]));
        assert!(checked_cursor(Some(&c), "gsi1pk", "WS#ws_b#SYNCJOB#job_x#EVENTS").is_ok());
        let e = checked_cursor(Some(&c), "gsi1pk", "WS#ws_a#SYNCJOB#job_x#EVENTS").unwrap_err();
        assert_eq!(e.code(), "validation_error");
    }
}
