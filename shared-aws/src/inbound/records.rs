//! DynamoDB adapters of `RecordStore` (the built-in destination: records with their
//! `_sync_metadata`) and `SyncExecutionStore`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::keys;
use crate::table::{
    decode, encode, is_conditional_failure, key_attrs, n, num_attr, s, str_attr, DynamoStore, Item,
};
use shared::error::{AppError, AppResult};
use shared::inbound::domain::{ApplyOutcome, Execution, Record, Source, SyncMetadata};
use shared::inbound::ports::{RecordStore, SyncExecutionStore};
use shared::paging::Page;

use super::{PageQuery, ATTR_RAW_CHUNKS};

// --- records -----------------------------------------------------------------------------------

pub(super) fn record_item(ws: &str, job_id: &str, r: &Record) -> AppResult<Item> {
    let mut item = key_attrs(&keys::sync_record(ws, job_id, &r.object_type, &r.object_id));
    let m = &r.meta;
    for (k, v) in [
        ("objectType", &r.object_type),
        ("objectId", &r.object_id),
        ("source", &m.source.as_str().to_owned()),
        ("eventId", &m.event_id),
        ("inboundEventId", &m.inbound_event_id),
        ("eventType", &m.event_type),
        ("eventCreated", &m.event_created),
        ("syncedAt", &m.synced_at),
    ] {
        item.insert(k.to_owned(), s(v));
    }
    item.insert("deleted".to_owned(), AttributeValue::Bool(m.deleted));
    item.insert(
        keys::GSI1PK.to_owned(),
        s(keys::sync_records_index_pk(ws, job_id)),
    );
    item.insert(
        keys::GSI1SK.to_owned(),
        s(format!("{}#{}", r.object_type, r.object_id)),
    );
    if let (Some(data), false) = (&r.data, m.deleted) {
        // Kept as JSON text: provider objects hold any JSON (big numbers, empty maps).
        item.insert("data".to_owned(), s(serde_json::to_string(data)?));
    }
    Ok(item)
}

fn decode_record(item: &Item) -> AppResult<Record> {
    let get = |k: &str| {
        str_attr(item, k).ok_or_else(|| AppError::internal_msg("record item lacks an attribute"))
    };
    let source = match get("source")?.as_str() {
        "stripe" => Source::Stripe,
        "close" => Source::Close,
        _ => Source::Generic,
    };
    let deleted = matches!(item.get("deleted"), Some(AttributeValue::Bool(true)));
    let data = match str_attr(item, "data") {
        Some(text) if !deleted => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| AppError::internal("decode record data", e))?,
        ),
        _ => None,
    };
    Ok(Record {
        object_type: get("objectType")?,
        object_id: get("objectId")?,
        data,
        meta: SyncMetadata {
            source,
            event_id: get("eventId")?,
            inbound_event_id: get("inboundEventId")?,
            event_type: get("eventType")?,
            event_created: get("eventCreated")?,
            synced_at: get("syncedAt")?,
            deleted,
        },
    })
}

/// Record::supersedes as a condition, evaluated atomically by DynamoDB (values `:ec`, `:seq`,
/// and `:f` unless the record is a tombstone).
pub(super) fn supersedes_condition(r: &Record) -> &'static str {
    if r.meta.deleted {
        "attribute_not_exists(pk) OR eventCreated < :ec OR (eventCreated = :ec AND inboundEventId < :seq)"
    } else {
        "attribute_not_exists(pk) OR eventCreated < :ec OR (eventCreated = :ec AND inboundEventId < :seq AND deleted = :f)"
    }
}

#[async_trait]
impl RecordStore for DynamoStore {
    async fn apply_record(&self, ws: &str, job_id: &str, r: &Record) -> AppResult<ApplyOutcome> {
        let condition = supersedes_condition(r);
        let mut req = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(record_item(ws, job_id, r)?))
            .condition_expression(condition)
            .expression_attribute_values(":ec", s(&r.meta.event_created))
            .expression_attribute_values(":seq", s(&r.meta.inbound_event_id));
        if !r.meta.deleted {
            req = req.expression_attribute_values(":f", AttributeValue::Bool(false));
        }
        match req.send().await {
            Ok(_) => Ok(ApplyOutcome::Applied),
            Err(e) if is_conditional_failure(&e) => Ok(ApplyOutcome::Unchanged),
            Err(e) => Err(crate::errors::sdk("dynamodb PutItem record", e)),
        }
    }

    async fn get_record(
        &self,
        ws: &str,
        job_id: &str,
        object_type: &str,
        object_id: &str,
    ) -> AppResult<Option<Record>> {
        match self
            .get(&keys::sync_record(ws, job_id, object_type, object_id))
            .await?
        {
            Some(item) => decode_record(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn purge_job_data(&self, ws: &str, job_id: &str, limit: u32) -> AppResult<u32> {
        // The first items of one partition, expired ones included (they go too).
        let first = |index: Option<&'static str>, attr: &'static str, partition: String| {
            let q = PageQuery {
                index,
                partition: (attr, partition),
                range: None,
                forward: true,
                unexpired_at: None,
            };
            async move { Ok::<_, AppError>(self.query_page(&q, None, limit).await?.0) }
        };
        let records_pk = keys::sync_records_index_pk(ws, job_id);
        let mut doomed: Vec<(String, String)> = first(Some(keys::GSI1), keys::GSI1PK, records_pk)
            .await?
            .iter()
            .filter_map(key_of)
            .collect();
        if doomed.is_empty() {
            let events_pk = keys::inbound_events_index_pk(ws, job_id);
            for item in first(Some(keys::GSI1), keys::GSI1PK, events_pk).await? {
                let Some(key) = key_of(&item) else { continue };
                let chunks = num_attr(&item, ATTR_RAW_CHUNKS).unwrap_or(1).max(1) as usize;
                if let Some(provider_id) = str_attr(&item, "providerEventId") {
                    for i in 1..chunks {
                        let k = keys::inbound_event_chunk(ws, job_id, &provider_id, i);
                        doomed.push((k.pk, k.sk));
                    }
                }
                doomed.push(key);
            }
        }
        if doomed.is_empty() {
            let executions = keys::sync_executions_partition(ws, job_id);
            doomed = first(None, keys::PK, executions)
                .await?
                .iter()
                .filter_map(key_of)
                .collect();
        }
        self.delete_keys(&doomed).await?;
        Ok(doomed.len() as u32)
    }
}

/// The table key of an item read back.
fn key_of(item: &Item) -> Option<(String, String)> {
    Some((str_attr(item, keys::PK)?, str_attr(item, keys::SK)?))
}

// --- executions ------------------------------------------------------------------------------

#[async_trait]
impl SyncExecutionStore for DynamoStore {
    async fn put_execution(&self, x: &Execution) -> AppResult<()> {
        let key = keys::sync_execution(&x.workspace_id, &x.job_id, &x.id);
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(encode(x, &key, &[(keys::TTL, n(x.expires_at))])?))
            .send()
            .await
            .map_err(|e| crate::errors::sdk("dynamodb PutItem execution", e))?;
        Ok(())
    }

    async fn list_executions(
        &self,
        ws: &str,
        job_id: &str,
        cursor: Option<&str>,
        limit: u32,
        now: i64,
    ) -> AppResult<Page<Execution>> {
        let q = PageQuery {
            index: None,
            partition: (keys::PK, keys::sync_executions_partition(ws, job_id)),
            range: Some(("begins_with(sk, :sk)", vec![(":sk", s("EXEC#"))])),
            forward: false,
            unexpired_at: Some(now),
        };
        let (items, next_cursor) = self.query_page(&q, cursor, limit).await?;
        Ok(Page {
            items: items.into_iter().map(decode).collect::<AppResult<_>>()?,
            next_cursor,
        })
    }
}
